/**
 * Reading DICOM files from disk and writing them back, with memory that does not grow with the
 * size of the Pixel Data: large files are read as their header bytes plus a reference to where
 * the Pixel Data value lies, and the writer streams that range from the input in chunks.
 *
 * Each operation has an asynchronous form and a synchronous one (`...Sync`) over the same logic:
 * the reading steps are a generator that asks for byte ranges, and the writer's plan is a list of
 * chunks. The synchronous forms are for code that handles one file at a time anyway (the run's
 * workers): a blocking call costs a few microseconds where an awaited one costs a round trip
 * through the event loop, several times per file.
 */
import { basename, dirname, join } from "node:path";
import { DicomError, DicomReadError } from "./errors.ts";
import type { DicomFile } from "./model.ts";
import { encapsulatedEnd, parseDicom, parseTrailer, type ReadRequest } from "./reader.ts";
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
  /**
   * Read the file's first bytes (the whole file when it is read whole, else the header window) into
   * this buffer instead of a new one. The result refers to it: for a caller that handles one file
   * at a time and is done with the last one, it saves a buffer per file that the garbage collector
   * would otherwise let pile up.
   */
  reuse?: ReusableBuffer;
}

/** A buffer that grows to the largest size asked of it, for one file at a time (see `ReadFileOptions.reuse`). */
export class ReusableBuffer {
  #buf: Uint8Array = new Uint8Array(0);
  /** Sizes above this get a buffer of their own, so one huge header does not stay allocated. */
  readonly max: number;
  /** `max`: the largest size kept and reused (default: the whole-file read limit). */
  constructor(max = DEFAULT_WHOLE_FILE_LIMIT) {
    this.max = max;
  }
  /** `n` bytes: a view of the shared buffer (grown if needed), or a new buffer above `max`. */
  take(n: number): Uint8Array {
    if (n > this.max) return new Uint8Array(n);
    if (this.#buf.length < n) {
      this.#buf = new Uint8Array(Math.max(n, Math.min(this.max, this.#buf.length * 2)));
    }
    return this.#buf.subarray(0, n);
  }
}

/** Files up to this size are read with a single read call. */
export const DEFAULT_WHOLE_FILE_LIMIT = 8 * 1024 * 1024;
/**
 * The first window of a header-only or streamed read. Most headers fit in 16 KiB (a CT slice's is
 * 2 to 8 KiB); a larger one costs a second read of four times the size. A larger first window
 * costs every file a bigger buffer to fill and to collect.
 */
const DEFAULT_WINDOW = 16 * 1024;
/** Elements after streamed Pixel Data (padding, signatures) are read into memory up to this size. */
const MAX_TRAILER = 64 * 1024 * 1024;

/**
 * Read `n` bytes at `offset` (fewer at the end of the file), into `into` when given (its first `n`
 * bytes). `position`, when the caller knows it, saves the seek if it is already `offset`.
 */
export async function readAt(
  f: Deno.FsFile,
  offset: number,
  n: number,
  into?: Uint8Array,
  position?: number,
): Promise<Uint8Array> {
  const buf = into ? into.subarray(0, n) : new Uint8Array(n);
  if (position !== offset) await f.seek(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < n) {
    const r = await f.read(buf.subarray(got));
    if (r === null) break;
    got += r;
  }
  return got === n ? buf : buf.subarray(0, got);
}

/** `readAt`, blocking. */
export function readAtSync(
  f: Deno.FsFile,
  offset: number,
  n: number,
  into?: Uint8Array,
  position?: number,
): Uint8Array {
  const buf = into ? into.subarray(0, n) : new Uint8Array(n);
  if (position !== offset) f.seekSync(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < n) {
    const r = f.readSync(buf.subarray(got));
    if (r === null) break;
    got += r;
  }
  return got === n ? buf : buf.subarray(0, got);
}

/** Read a DICOM file. Throws `DicomReadError` (with file and offset) when it cannot be parsed. */
export async function readDicomFile(path: string, opts: ReadFileOptions = {}): Promise<DicomFile> {
  const f = await Deno.open(path, { read: true });
  try {
    // fstat of an open file never waits on the disk (open has read the inode): blocking is cheaper.
    const steps = readSteps(f.statSync().size, path, opts);
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

/** `readDicomFile`, blocking: for one-file-at-a-time work (see the module doc). */
export function readDicomFileSync(path: string, opts: ReadFileOptions = {}): DicomFile {
  const f = Deno.openSync(path, { read: true });
  try {
    const steps = readSteps(f.statSync().size, path, opts);
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
 * Where a read goes: the reusable buffer for the file's first bytes (a larger header window replaces
 * the smaller one, which is dead by then); anything else (fragment headers, a trailer) is read
 * while the header is still in use, so it gets its own buffer.
 */
function target(opts: ReadFileOptions, offset: number, length: number): Uint8Array | undefined {
  return opts.reuse && offset === 0 ? opts.reuse.take(length) : undefined;
}

/** How a file of `size` bytes is read, as steps: yields the byte ranges it needs. */
function* readSteps(
  size: number,
  path: string,
  opts: ReadFileOptions,
): Generator<ReadRequest, DicomFile, Uint8Array> {
  const wholeLimit = opts.wholeFileLimit ?? DEFAULT_WHOLE_FILE_LIMIT;
  if (!opts.headerOnly && size <= wholeLimit) {
    return parseDicom(yield { offset: 0, length: size }, { file: path }).file;
  }
  // Grow the window until the header (everything before Pixel Data) fits.
  // Below 4 KiB a window may not even hold the preamble and meta group, whose cut is hard to tell.
  let window = Math.min(size, Math.max(4096, opts.initialWindow ?? DEFAULT_WINDOW));
  while (true) {
    const bytes = yield { offset: 0, length: window };
    let parsed;
    try {
      parsed = parseDicom(bytes, { file: path, stopAtBulk: true, fileSize: size });
      if (!parsed.bulk && window < size) throw new DicomReadError("truncated", "window too small"); // grows below
    } catch (e) {
      if (e instanceof DicomReadError && e.code === "truncated" && window < size) {
        window = Math.min(size, window * 4);
        continue;
      }
      throw e;
    }
    const { file, bulk } = parsed;
    if (!bulk) return file;
    if (opts.headerOnly) {
      file.headerOnly = true;
      return file;
    }
    const start = bulk.external!.offset;
    const end = bulk.encapsulated
      ? yield* encapsulatedEnd(start, size, file.dataset.encoding.littleEndian, path)
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
      parseTrailer(yield { offset: end, length: size - end }, file.dataset, end, path);
    }
    return file;
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
/** Encoded pieces smaller than this are gathered into one buffer; larger ones are written as they are. */
const GATHER_LIMIT = 64 * 1024;

/**
 * The writes for a list of chunks: runs of small pieces (headers, edited values) gathered into one
 * buffer, so a file is a handful of write calls; large pieces (an unchanged stretch of the input,
 * Pixel Data read into memory) are written from where they are, never copied; source ranges stay
 * ranges.
 */
function gather(chunks: Chunk[]): Chunk[] {
  const out: Chunk[] = [];
  let run: Uint8Array[] = [];
  let runBytes = 0;
  const close = () => {
    if (run.length === 1) out.push(run[0]);
    else if (run.length > 1) {
      const all = new Uint8Array(runBytes);
      let at = 0;
      for (const p of run) {
        all.set(p, at);
        at += p.length;
      }
      out.push(all);
    }
    run = [];
    runBytes = 0;
  };
  for (const c of chunks) {
    if (c instanceof Uint8Array && c.length < GATHER_LIMIT) {
      if (c.length === 0) continue;
      if (runBytes + c.length > GATHER_LIMIT) close();
      run.push(c);
      runBytes += c.length;
      continue;
    }
    close();
    out.push(c);
  }
  close();
  return out;
}

function tempPath(dest: string): string {
  return join(dirname(dest), `.${basename(dest)}.${crypto.randomUUID().slice(0, 8)}.partial`);
}

/**
 * Write a file to `dest`: to a temporary name in the same folder first, renamed when complete, so
 * a crash never leaves a half-written file under the final name. Bulk data is streamed from the
 * file it was read from. Refuses to write over the input itself. Returns the bytes written.
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

/** `writeDicomFile`, blocking: for one-file-at-a-time work (see the module doc). */
export function writeDicomFileSync(file: DicomFile, dest: string, opts: WriteFileOptions = {}): number {
  if (file.path && samePathSync(file.path, dest)) {
    throw new DicomError("unsupported", `refusing to write over the input file ${dest}`);
  }
  if (!opts.overwrite && existsSync(dest)) {
    throw new DicomError("unsupported", `${dest} exists already (not overwritten)`);
  }
  const writes = gather(encodeFile(file, opts));
  const tmp = tempPath(dest);
  const out = Deno.openSync(tmp, { write: true, createNew: true });
  let written = 0;
  try {
    written = writeChunksSync(out, writes, file.path, opts.onWrite);
    out.close();
  } catch (e) {
    out.close();
    try {
      Deno.removeSync(tmp);
    } catch { /* already gone */ }
    throw e;
  }
  Deno.renameSync(tmp, dest);
  return written;
}

async function writeAll(out: Deno.FsFile, bytes: Uint8Array, onWrite?: (b: Uint8Array) => void) {
  onWrite?.(bytes);
  let at = 0;
  while (at < bytes.length) at += await out.write(bytes.subarray(at));
}

function writeAllSync(out: Deno.FsFile, bytes: Uint8Array, onWrite?: (b: Uint8Array) => void) {
  onWrite?.(bytes);
  let at = 0;
  while (at < bytes.length) at += out.writeSync(bytes.subarray(at));
}

/** Write chunks; source ranges are copied from `source` in 1 MiB pieces. Returns bytes written. */
async function writeChunks(
  out: Deno.FsFile,
  chunks: Chunk[],
  source?: string,
  onWrite?: (b: Uint8Array) => void,
): Promise<number> {
  let total = 0;
  let src: Deno.FsFile | undefined;
  try {
    for (const c of chunks) {
      if (c instanceof Uint8Array) {
        await writeAll(out, c, onWrite);
        total += c.length;
        continue;
      }
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
  } finally {
    src?.close();
  }
  return total;
}

/**
 * The blocking writer's copy buffer: nothing else runs in this thread while a blocking write
 * copies, so one buffer serves every file (a new one per file was 512 KB of garbage per CT slice).
 */
const copyBuffer = new ReusableBuffer(COPY_CHUNK);

/** `writeChunks`, blocking. */
function writeChunksSync(
  out: Deno.FsFile,
  chunks: Chunk[],
  source?: string,
  onWrite?: (b: Uint8Array) => void,
): number {
  let total = 0;
  let src: Deno.FsFile | undefined;
  try {
    for (const c of chunks) {
      if (c instanceof Uint8Array) {
        writeAllSync(out, c, onWrite);
        total += c.length;
        continue;
      }
      if (!source) throw new DicomError("unsupported", "bulk data without a source file");
      src ??= Deno.openSync(source, { read: true });
      const buf = copyBuffer.take(Math.min(COPY_CHUNK, c.length));
      let left = c.length;
      src.seekSync(c.offset, Deno.SeekMode.Start);
      while (left > 0) {
        const r = src.readSync(buf.subarray(0, Math.min(buf.length, left)));
        if (r === null) {
          throw new DicomReadError("truncated", "source file shrank while copying", { file: source });
        }
        writeAllSync(out, buf.subarray(0, r), onWrite);
        left -= r;
      }
      total += c.length;
    }
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

/** `exists`, blocking. */
export function existsSync(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Whether `a` and `b` are the same file. The destination is looked at first: usually it is not there. */
async function samePath(a: string, b: string): Promise<boolean> {
  try {
    const sb = await Deno.stat(b);
    const sa = await Deno.stat(a);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}

function samePathSync(a: string, b: string): boolean {
  try {
    const sb = Deno.statSync(b);
    const sa = Deno.statSync(a);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}
