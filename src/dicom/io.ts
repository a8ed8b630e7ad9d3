/**
 * Reading DICOM files from disk and writing them back, with memory that does not grow with the
 * size of the Pixel Data: large files are read as their header bytes plus a reference to where
 * the Pixel Data value lies, and the writer streams that range from the input in chunks.
 */
import { basename, dirname, join } from "node:path";
import { DicomError, DicomReadError } from "./errors.ts";
import type { DicomFile } from "./model.ts";
import { findEncapsulatedEnd, parseDicom, parseTrailer } from "./reader.ts";
import { type Chunk, encodeFile, type EncodeFileOptions } from "./writer.ts";

/** Options for `readDicomFile`. */
export interface ReadFileOptions {
  /**
   * Read only up to the Pixel Data header, from a window at the start of the file that grows when
   * the header is larger. For scanning: the result cannot be written.
   */
  headerOnly?: boolean;
  /** Files up to this size are read whole in one call; larger ones stream their Pixel Data. */
  wholeFileLimit?: number;
  /** The first window read for header-only and streamed reads. */
  initialWindow?: number;
}

/** Files up to this size are read with a single read call. */
export const DEFAULT_WHOLE_FILE_LIMIT = 8 * 1024 * 1024;
const DEFAULT_WINDOW = 64 * 1024;
/** Elements after streamed Pixel Data (padding, signatures) are read into memory up to this size. */
const MAX_TRAILER = 64 * 1024 * 1024;

/** Read `n` bytes at `offset` (fewer at the end of the file). */
export async function readAt(f: Deno.FsFile, offset: number, n: number): Promise<Uint8Array> {
  const buf = new Uint8Array(n);
  await f.seek(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < n) {
    const r = await f.read(buf.subarray(got));
    if (r === null) break;
    got += r;
  }
  return got === n ? buf : buf.subarray(0, got);
}

/** Read a DICOM file. Throws `DicomReadError` (with file and offset) when it cannot be parsed. */
export async function readDicomFile(path: string, opts: ReadFileOptions = {}): Promise<DicomFile> {
  const f = await Deno.open(path, { read: true });
  try {
    return await readOpen(f, path, opts);
  } catch (e) {
    if (e instanceof DicomError && !e.file) e.file = path;
    throw e;
  } finally {
    f.close();
  }
}

async function readOpen(f: Deno.FsFile, path: string, opts: ReadFileOptions): Promise<DicomFile> {
  const size = (await f.stat()).size;
  const wholeLimit = opts.wholeFileLimit ?? DEFAULT_WHOLE_FILE_LIMIT;
  if (!opts.headerOnly && size <= wholeLimit) {
    return parseDicom(await readAt(f, 0, size), { file: path }).file;
  }
  // Grow the window until the header (everything before Pixel Data) fits.
  // Below 4 KiB a window may not even hold the preamble and meta group, whose cut is hard to tell.
  let window = Math.min(size, Math.max(4096, opts.initialWindow ?? DEFAULT_WINDOW));
  while (true) {
    const bytes = await readAt(f, 0, window);
    try {
      const { file, bulk } = parseDicom(bytes, { file: path, stopAtBulk: true, fileSize: size });
      if (!bulk) {
        if (window < size) throw new DicomReadError("truncated", "window too small"); // grows below
        return file;
      }
      if (opts.headerOnly) {
        file.headerOnly = true;
        return file;
      }
      const start = bulk.external!.offset;
      const end = bulk.encapsulated
        ? await findEncapsulatedEnd(
          (o, n) => readAt(f, o, n),
          start,
          size,
          file.dataset.encoding.littleEndian,
          path,
        )
        : start + bulk.length;
      if (end > size) {
        throw new DicomReadError(
          "truncated",
          `Pixel Data declares ${bulk.length} bytes but only ${size - start} remain`,
          { file: path, offset: start },
        );
      }
      bulk.external = { offset: start, length: end - start };
      if (end < size) {
        if (size - end > MAX_TRAILER) {
          throw new DicomReadError("unsupported", `${size - end} bytes of elements after Pixel Data`, {
            file: path,
            offset: end,
          });
        }
        parseTrailer(await readAt(f, end, size - end), file.dataset, end, path);
      }
      return file;
    } catch (e) {
      if (e instanceof DicomReadError && e.code === "truncated" && window < size) {
        window = Math.min(size, window * 4);
        continue;
      }
      throw e;
    }
  }
}

/** Options for `writeDicomFile`. */
export interface WriteFileOptions extends EncodeFileOptions {
  /** Replace an existing file at the destination. Default: refuse. */
  overwrite?: boolean;
  /** Sees every byte written, in order (to hash the output without reading it back). */
  onWrite?: (bytes: Uint8Array) => void;
}

const COPY_CHUNK = 1024 * 1024;

/**
 * Write a file to `dest`: to a temporary name in the same folder first, renamed when complete, so
 * a crash never leaves a half-written file under the final name. Bulk data is streamed from the
 * file it was read from. Refuses to write over the input itself.
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
  const chunks = encodeFile(file, opts);
  const tmp = join(dirname(dest), `.${basename(dest)}.${crypto.randomUUID().slice(0, 8)}.partial`);
  const out = await Deno.open(tmp, { write: true, createNew: true });
  let written = 0;
  try {
    written = await writeChunks(out, chunks, file.path, opts.onWrite);
    out.close();
  } catch (e) {
    out.close();
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  await Deno.rename(tmp, dest);
  return written;
}

async function writeAll(
  out: Deno.FsFile,
  bytes: Uint8Array,
  onWrite?: (b: Uint8Array) => void,
): Promise<void> {
  onWrite?.(bytes);
  let at = 0;
  while (at < bytes.length) at += await out.write(bytes.subarray(at));
}

/** Write chunks; external ranges are copied from `source` in 1 MiB pieces. Returns bytes written. */
async function writeChunks(
  out: Deno.FsFile,
  chunks: Chunk[],
  source?: string,
  onWrite?: (b: Uint8Array) => void,
): Promise<number> {
  let total = 0;
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pending.length === 1) await writeAll(out, pending[0], onWrite);
    else if (pending.length > 1) {
      const all = new Uint8Array(pendingBytes);
      let at = 0;
      for (const p of pending) {
        all.set(p, at);
        at += p.length;
      }
      await writeAll(out, all, onWrite);
    }
    pending = [];
    pendingBytes = 0;
  };
  let src: Deno.FsFile | undefined;
  try {
    for (const c of chunks) {
      if (c instanceof Uint8Array) {
        pending.push(c);
        pendingBytes += c.length;
        total += c.length;
        continue;
      }
      await flush();
      if (!source) throw new DicomError("unsupported", "bulk data without a source file");
      src ??= await Deno.open(source, { read: true });
      const buf = new Uint8Array(Math.min(COPY_CHUNK, c.length));
      let left = c.length;
      await src.seek(c.offset, Deno.SeekMode.Start);
      while (left > 0) {
        const r = await src.read(buf.subarray(0, Math.min(buf.length, left)));
        if (r === null) {
          throw new DicomReadError("truncated", "source file shrank while copying", { file: source });
        }
        await writeAll(out, buf.subarray(0, r), onWrite);
        left -= r;
      }
      total += c.length;
    }
    await flush();
  } finally {
    src?.close();
  }
  return total;
}

/** Whether anything (file, folder, link) is at `path`. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

async function samePath(a: string, b: string): Promise<boolean> {
  try {
    const [sa, sb] = await Promise.all([Deno.stat(a), Deno.stat(b)]);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}
