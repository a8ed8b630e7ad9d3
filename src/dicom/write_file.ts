/**
 * Writing a DICOM file to disk, asynchronously or blocking: to a temporary name first, renamed when
 * complete; Pixel Data that stayed in the input is streamed from it.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { gather, writeChunks, writeChunksSync } from "./_write_chunks.ts";
import { DicomError } from "./errors.ts";
import { exists, existsSync, samePath, samePathSync } from "./file_io.ts";
import type { DicomFile } from "./model.ts";
import { encodeFile, type EncodeFileOptions } from "./writer.ts";

/** Options for `writeDicomFile`. */
export interface WriteFileOptions extends EncodeFileOptions {
  /** Replace an existing file at the destination. Default: refuse. */
  overwrite?: boolean;
  /**
   * With `overwrite`: the caller has seen that nothing is at the destination (a folder it just made,
   * a lstat that found nothing), so it is not the input under another name: the writer does not
   * stat it again to refuse writing over the input. It still writes to a temporary name and renames.
   */
  destAbsent?: boolean;
  /** Sees every byte written, in order (to hash the output without reading it back). */
  onWrite?: (bytes: Uint8Array) => void;
  /**
   * Blocking writer only: write straight to `dest`, which must not exist (it is created new, never
   * opened over anything, so never over the input), with no temporary name and no rename. For a
   * caller whose `dest` is itself a temporary name in a folder of its own (a run's staging folder),
   * that renames it into place once complete. A failed write removes what it made.
   */
  direct?: boolean;
  /**
   * Blocking writer only: sees the output's `stat` once every byte is written and it is closed (a
   * later rename changes neither its inode, size nor modification time). Taken by its path, not of
   * the open file (for which Deno 2 resolves the path again under scoped permissions, a `readlink`
   * per component): for a `dest` in a folder only this process writes (see `direct`).
   */
  onWritten?: (info: Deno.FileInfo) => void;
}

function tempPath(dest: string): string {
  return join(dirname(dest), `.${basename(dest)}.${crypto.randomUUID().slice(0, 8)}.partial`);
}

/**
 * Write a file to `dest`: to a temporary name in the same folder first, renamed when complete, so
 * a crash never leaves a half-written file under the final name. Bulk data is streamed from the
 * file it was read from. Refuses to write over the input itself. Returns the bytes written.
 *
 * @example Set a value and write the file under a new name
 * ```ts
 * import { readDicomFile } from "./read_file.ts";
 * import { setPath } from "./edit.ts";
 * import { writeDicomFile } from "./write_file.ts";
 *
 * async function setNameAndWrite(input: string, output: string): Promise<number> {
 *   const file = await readDicomFile(input);
 *   setPath(file.dataset, "PatientName", "Anonymous");
 *   return await writeDicomFile(file, output, { zeroPreamble: true });
 * }
 * ```
 */
export async function writeDicomFile(
  file: DicomFile,
  dest: string,
  opts: WriteFileOptions = {},
): Promise<number> {
  if (file.path && await samePath(file.path, dest)) {
    throw new DicomError("unsupported", `refusing to write over the input file ${dest}`);
  }
  if (!opts.overwrite && await exists(dest)) {
    throw new DicomError("unsupported", `${dest} exists already (not overwritten)`);
  }
  const writes = gather(encodeFile(file, opts));
  const tmp = tempPath(dest);
  const out = await Deno.open(tmp, { write: true, createNew: true });
  let written = 0;
  try {
    written = await writeChunks(out, writes, file.path, opts.onWrite);
    out.close();
  } catch (e) {
    out.close();
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  await Deno.rename(tmp, dest);
  return written;
}

/** `writeDicomFile`, blocking: for one-file-at-a-time work (see `io.ts`). */
export function writeDicomFileSync(file: DicomFile, dest: string, opts: WriteFileOptions = {}): number {
  if (opts.direct) return writeNewSync(file, dest, opts);
  if (file.path && !(opts.overwrite && opts.destAbsent) && samePathSync(file.path, dest)) {
    throw new DicomError("unsupported", `refusing to write over the input file ${dest}`);
  }
  if (!opts.overwrite && existsSync(dest)) {
    throw new DicomError("unsupported", `${dest} exists already (not overwritten)`);
  }
  const writes = gather(encodeFile(file, opts));
  const tmp = tempPath(dest);
  const written = writeClosed(Deno.openSync(tmp, { write: true, createNew: true }), tmp, writes, file, opts);
  Deno.renameSync(tmp, dest);
  return written;
}

/**
 * `writeDicomFileSync` with `direct`: one exclusive create (which refuses anything already at
 * `dest`, the input included), the writes, one close, one stat when asked. A small file's output
 * is three or four system calls instead of eight (the input's and destination's stats, a temporary
 * name, a rename).
 */
function writeNewSync(file: DicomFile, dest: string, opts: WriteFileOptions): number {
  const writes = gather(encodeFile(file, opts));
  return writeClosed(Deno.openSync(dest, { write: true, createNew: true }), dest, writes, file, opts);
}

/**
 * Write `writes` to `out` (just created at `path`) and close it, then show its stat to `onWritten`;
 * what it made is removed when any of that fails. Returns the bytes written.
 */
function writeClosed(
  out: Deno.FsFile,
  path: string,
  writes: ReturnType<typeof gather>,
  file: DicomFile,
  opts: WriteFileOptions,
): number {
  try {
    let written: number;
    try {
      written = writeChunksSync(out, writes, file.path, opts.onWrite);
    } finally {
      out.close();
    }
    if (opts.onWritten) opts.onWritten(Deno.lstatSync(path));
    return written;
  } catch (e) {
    try {
      Deno.removeSync(path);
    } catch { /* already gone */ }
    throw e;
  }
}
