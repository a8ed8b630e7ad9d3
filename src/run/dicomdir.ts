/**
 * The DICOMDIR phase (`output.dicomdir: true`): after the files are written, `<output>/DICOMDIR`
 * is made from the written files' de-identified headers (read back, header only), written to a
 * temporary name and renamed. It depends only on the tree, so a re-run (or a resumed run) rewrites
 * the same bytes; a run without `dicomdir` removes one an earlier run wrote. With shards, each
 * shard leaves it alone and `merge` writes it, once every shard's files are there.
 *
 * @module
 */
import { join } from "node:path";
import { type DirectoryFile, encodeDicomDir, fileIdProblem } from "../dicom/dicomdir.ts";
import { IMPLEMENTATION_CLASS_UID, readDicomFile } from "../dicom/mod.ts";
import { tags } from "../standard/tags.ts";
import { tempNameFor } from "../util/temp.ts";
import { RunRefusal } from "./errors.ts";

/** The DICOMDIR's name, at the root of the file set (the output root). */
export const DICOMDIR_NAME = "DICOMDIR";

/**
 * Write `<root>/DICOMDIR` for the DICOM files at `dests` (relative to `root`, `/`-separated).
 * Throws `RunRefusal` when a destination is no media file ID (the plan checks them first).
 */
export async function writeDicomDir(root: string, dests: readonly string[]): Promise<void> {
  const sorted = [...new Set(dests)].sort();
  const files: DirectoryFile[] = [];
  for (const dest of sorted) {
    const fileId = dest.split("/");
    const problem = fileIdProblem(fileId);
    if (problem) {
      throw new RunRefusal(`${dest} cannot be listed in a DICOMDIR: ${problem}; see dcmtidy validate`);
    }
    files.push({ fileId, file: await readDicomFile(join(root, dest), { headerOnly: true }) });
  }
  const path = join(root, DICOMDIR_NAME);
  const tmp = tempNameFor(path);
  try {
    await Deno.writeFile(tmp, encodeDicomDir(files), { createNew: true });
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/** Remove `<root>/DICOMDIR` when dcmtidy wrote it (a run that no longer asks for one). */
export async function removeOurDicomDir(root: string): Promise<void> {
  const path = join(root, DICOMDIR_NAME);
  try {
    const f = await readDicomFile(path, { headerOnly: true });
    const impl = f.meta?.elements.find((e) => e.tag === tags.ImplementationClassUID);
    const uid = impl?.span
      ? new TextDecoder().decode(impl.span.src.subarray(impl.span.valueStart, impl.span.end))
      : "";
    if (f.isDicomDir && uid.replace(/\0+$/, "") === IMPLEMENTATION_CLASS_UID) await Deno.remove(path);
  } catch {
    // None there, or not one of ours: nothing to do.
  }
}
