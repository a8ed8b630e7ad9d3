/**
 * `dcmtidy plan --preview DIR`: for the first file of each output series whose pixels the run will
 * blank, the first frame before and after as PNG, the regions outlined, so people can look before
 * they trust a rule. The pictures hold the original pixels: the folder is made owner-only, and it
 * may not lie in the output tree (which is shared).
 *
 * @module
 */
import { join, resolve } from "node:path";
import { readDicomFile } from "../dicom/read_file.ts";
import { blackSamples, blankFrame } from "../pixels/blank.ts";
import { decodeFrame, prepareDecoder } from "../pixels/decode.ts";
import { PixelError } from "../pixels/errors.ts";
import { readPixelFormat } from "../pixels/format.ts";
import { previewPngs } from "../pixels/preview.ts";
import { openPixelSource } from "../pixels/source.ts";
import type { Plan } from "../plan/types.ts";
import { isInside } from "../protocol/paths.ts";
import { ensurePrivateDir } from "../util/atomic.ts";
import { UsageError } from "./errors.ts";

/** The first frame of `path` blanked as the run will blank it (decoded layout). */
async function blankedFirstFrame(
  path: string,
  regions: Parameters<typeof blankFrame>[3],
  keep: Parameters<typeof blankFrame>[4],
): Promise<Uint8Array> {
  const file = await readDicomFile(path);
  const fmt = readPixelFormat(file.dataset);
  const src = openPixelSource(file, fmt);
  try {
    await prepareDecoder(src);
    const d = decodeFrame(src, 0);
    const out = { ...fmt, photometric: d.photometric, planar: 0 as const };
    const bytes = d.bytes.slice();
    blankFrame(bytes, out, blackSamples(out, d.photometric, file), regions, keep);
    return bytes;
  } finally {
    src.close();
  }
}

/** Write the previews; returns the lines to print (one per series, or why one could not be made). */
export async function writePreviews(plan: Plan, dir: string): Promise<string[]> {
  const root = plan.protocol.output.root;
  const folder = resolve(dir);
  if (isInside(folder, root) || isInside(root, folder)) {
    throw new UsageError(
      `--preview ${folder} overlaps the output root ${root}: the pictures hold original pixels`,
    );
  }
  for (const input of plan.protocol.input.roots) {
    if (isInside(folder, input)) {
      throw new UsageError(`--preview ${folder} is inside the input root ${input}`);
    }
  }
  const st = await Deno.stat(folder).catch(() => undefined);
  if (st && !st.isDirectory) throw new UsageError(`--preview ${folder} is a file, not a folder`);
  const firsts = new Map<number, number>();
  plan.files.forEach((f, i) => {
    if (f.status === "write" && f.blank && f.series !== undefined && !firsts.has(f.series)) {
      firsts.set(f.series, i);
    }
  });
  if (firsts.size === 0) {
    return ["preview: no file's pixels are blanked (burned_in: blank and a matching rule)"];
  }
  await ensurePrivateDir(folder);
  const lines: string[] = [];
  for (const [s, i] of firsts) {
    const f = plan.files.get(i);
    const name = `series-${s + 1}`;
    try {
      const blanked = await blankedFirstFrame(f.input.path, f.blank!.regions, []);
      const pngs = await previewPngs(await readDicomFile(f.input.path), f.blank!.regions, blanked);
      await Deno.writeFile(join(folder, `${name}-before.png`), pngs.before, { mode: 0o600 });
      await Deno.writeFile(join(folder, `${name}-after.png`), pngs.after, { mode: 0o600 });
      lines.push(`preview: ${join(folder, name)}-before.png and -after.png (${plan.series[s].folder})`);
    } catch (e) {
      if (!(e instanceof PixelError)) throw e;
      lines.push(`preview: series ${s + 1} (${plan.series[s].folder}): ${e.message}`);
    }
  }
  return lines;
}
