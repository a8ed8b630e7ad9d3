/**
 * How a file is read, as steps that ask for byte ranges: a small file whole in one read; a large
 * one (or a header-only read) as a window at its start that grows until the header fits, then,
 * for a full read, the end of its Pixel Data (found from fragment headers when it is encapsulated)
 * and the elements after it. The value of the Pixel Data stays in the file (`external`). The
 * steps are driven with blocking or awaited reads by `read_file.ts`.
 *
 * @module
 */
import { encapsulatedEnd, type ReadRequest } from "./_fragments.ts";
import { DicomReadError } from "./errors.ts";
import type { DicomFile } from "./model.ts";
import { parseDicom, parseTrailer } from "./reader.ts";
import type { ReusableBuffer } from "./reusable_buffer.ts";

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
  /**
   * Sees the file's `stat` once it is open, before anything is read: the path's stat taken just
   * before the open, when the path's stat taken again just after it is the same (device, inode,
   * size, modification and change times), so it describes the file opened. When they differ (the
   * path was replaced or changed around the open) it is not called: a caller that needs a stamp has
   * none. (A path replaced and put back, both within the microseconds around the open, would go
   * unseen.) Not the open file's `fstat`: under scoped read permissions Deno 2 resolves the path
   * again for it (a `readlink` per component, as for the open), and for a path's `stat` it does not.
   */
  onOpen?: (info: Deno.FileInfo) => void;
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
 * Where a read goes: the reusable buffer for the file's first bytes (a larger header window replaces
 * the smaller one, which is dead by then); anything else (fragment headers, a trailer) is read
 * while the header is still in use, so it gets its own buffer.
 */
export function target(opts: ReadFileOptions, offset: number, length: number): Uint8Array | undefined {
  return opts.reuse && offset === 0 ? opts.reuse.take(length) : undefined;
}

/** How a file of `size` bytes is read, as steps: yields the byte ranges it needs. */
export function* readSteps(
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
