/**
 * Reading a DICOM file from disk, asynchronously or blocking, with memory that does not grow with
 * the size of the Pixel Data (see `read_plan.ts`).
 *
 * @module
 */
import { DicomError, DicomReadError } from "./errors.ts";
import { readAt, readAtSync } from "./file_io.ts";
import type { DicomFile } from "./model.ts";
import { sameStamp, stampOf } from "../util/file_identity.ts";
import { type ReadFileOptions, readSteps, target } from "./read_plan.ts";

/**
 * Read a DICOM file. Throws `DicomReadError` (with file and offset) when it cannot be parsed.
 * A file larger than `wholeFileLimit` (8 MiB) is read as its header, and its Pixel Data stays in the
 * file until it is written; `headerOnly` stops at the Pixel Data header (the result cannot be
 * written).
 *
 * @example Read a file, print its patient's name and any warnings about its encoding
 * ```ts
 * import { readDicomFile } from "./read_file.ts";
 * import { decodeStrings } from "./values.ts";
 * import { tags } from "../standard/tags.ts";
 *
 * async function show(path: string): Promise<void> {
 *   const file = await readDicomFile(path);
 *   const name = file.dataset.elements.find((e) => e.tag === tags.PatientName);
 *   console.log(file.transferSyntax.uid, name ? decodeStrings(name, file.dataset) : "(no name)");
 *   for (const w of file.warnings) console.warn(`${path}: ${w}`);
 * }
 * ```
 *
 * @example Read headers only, for a scan of many files
 * ```ts
 * import { readDicomFile } from "./read_file.ts";
 * import { DicomReadError } from "./errors.ts";
 *
 * async function isDicom(path: string): Promise<boolean> {
 *   try {
 *     await readDicomFile(path, { headerOnly: true });
 *     return true;
 *   } catch (e) {
 *     if (e instanceof DicomReadError && e.code === "not-dicom") return false;
 *     throw e;
 *   }
 * }
 * ```
 */
export async function readDicomFile(path: string, opts: ReadFileOptions = {}): Promise<DicomFile> {
  // The path's stat around the open (see `ReadFileOptions.onOpen`); blocking: the inode is in memory
  // after a listing, and an awaited call costs more than the stat.
  const info = regularFile(path);
  const f = await Deno.open(path, { read: true });
  try {
    if (opts.onOpen && stillSo(path, info)) opts.onOpen(info);
    const steps = readSteps(info.size, path, opts);
    let step = steps.next();
    let at = 0; // the file position: a read where the last one ended needs no seek
    while (!step.done) {
      const { offset, length } = step.value;
      const bytes = await readAt(f, offset, length, target(opts, offset, length), at);
      at = offset + bytes.length;
      step = steps.next(bytes);
    }
    return step.value;
  } catch (e) {
    if (e instanceof DicomError && !e.file) e.file = path;
    throw e;
  } finally {
    f.close();
  }
}

/** `readDicomFile`, blocking: for one-file-at-a-time work (see `io.ts`). */
export function readDicomFileSync(path: string, opts: ReadFileOptions = {}): DicomFile {
  // The path's stat around the open (see `ReadFileOptions.onOpen`).
  const info = regularFile(path);
  const f = Deno.openSync(path, { read: true });
  try {
    if (opts.onOpen && stillSo(path, info)) opts.onOpen(info);
    const steps = readSteps(info.size, path, opts);
    let step = steps.next();
    let at = 0;
    while (!step.done) {
      const { offset, length } = step.value;
      const bytes = readAtSync(f, offset, length, target(opts, offset, length), at);
      at = offset + bytes.length;
      step = steps.next(bytes);
    }
    return step.value;
  } catch (e) {
    if (e instanceof DicomError && !e.file) e.file = path;
    throw e;
  } finally {
    f.close();
  }
}

/**
 * The path's stat, when it is a regular file. Anything else is refused before it is opened: opening
 * a FIFO blocks until something writes to it (a FIFO put where an input was listed would hold a
 * worker forever), and a device or folder has no DICOM file to read.
 */
function regularFile(path: string): Deno.FileInfo {
  const info = Deno.statSync(path);
  if (!info.isFile) {
    throw new DicomReadError(
      "unsupported",
      "not a regular file (a FIFO, socket, device or folder): not read",
      {
        file: path,
      },
    );
  }
  return info;
}

/**
 * Whether the path's stat now is `before` (the same file: device, inode, size, modification and
 * change times): taken again once the file is open, it says the file opened is the one `before`
 * describes.
 */
function stillSo(path: string, before: Deno.FileInfo): boolean {
  try {
    return sameStamp(stampOf(before), stampOf(Deno.statSync(path)));
  } catch {
    return false;
  }
}
