/**
 * Random reads of a file whose bytes, once written, never change (a file only appended to): each
 * read that misses reads a whole window from where it is asked, so reads asked for in about the order
 * the file was written come from memory, a window at a time, not one system call (or two: a seek and
 * a read) each. Several windows are kept, for several such runs of reads at once (records written
 * from several sources in turn and read back in another order), the most recently used first.
 *
 * @example
 * ```ts
 * import { ReadWindows } from "./read_windows.ts";
 *
 * const file = new TextEncoder().encode("alpha\nbeta\ngamma\n");
 * let reads = 0;
 * const windows = new ReadWindows((offset, into) => {
 *   reads++;
 *   const piece = file.subarray(offset, offset + into.length);
 *   into.set(piece);
 *   return piece.length;
 * });
 * const text = (offset: number, length: number) => new TextDecoder().decode(windows.read(offset, length));
 * console.assert(text(0, 5) === "alpha" && text(6, 4) === "beta" && text(11, 5) === "gamma" && reads === 1);
 * ```
 *
 * @module
 */

/** Bytes read at a time by default. */
const WINDOW = 64 * 1024;
/** Windows kept by default. */
const WINDOWS = 16;

interface Window {
  bytes: Uint8Array;
  at: number;
  length: number;
}

/**
 * Read `into.length` bytes of `file` from `offset` (fewer at its end, as many as there are); how many
 * were read. A blocking seek and as many reads as it takes: what a `ReadWindows` of a file is given.
 */
export function readFileAt(file: Deno.FsFile, offset: number, into: Uint8Array): number {
  file.seekSync(offset, Deno.SeekMode.Start);
  let at = 0;
  while (at < into.length) {
    const n = file.readSync(into.subarray(at));
    if (n === null || n === 0) break;
    at += n;
  }
  return at;
}

/** See the module's documentation. */
export class ReadWindows {
  #windows: Window[] = [];
  readonly #readAt: (offset: number, into: Uint8Array) => number;
  readonly #size: number;
  readonly #count: number;

  /**
   * `readAt` reads the file's bytes at `offset` into `into` (as many as there are, up to its length)
   * and says how many it read. `size`: bytes a window reads (a longer read reads as many); `count`:
   * windows kept at most.
   */
  constructor(
    readAt: (offset: number, into: Uint8Array) => number,
    opts: { size?: number; count?: number } = {},
  ) {
    this.#readAt = readAt;
    this.#size = Math.max(1, opts.size ?? WINDOW);
    this.#count = Math.max(1, opts.count ?? WINDOWS);
  }

  /**
   * The `length` bytes at `offset`: a view into a window, valid until the next read or `clear`
   * (fewer bytes where the file ends before them).
   */
  read(offset: number, length: number): Uint8Array {
    const w = this.#windowFor(offset, length);
    const start = offset - w.at;
    return w.bytes.subarray(start, Math.min(start + length, w.length));
  }

  /** Let the windows go (their memory with them). */
  clear(): void {
    this.#windows = [];
  }

  /**
   * A window that holds the bytes at `offset`: one that does already; else the one whose run of
   * reads they continue (it ends before them, less than a window before), read again from there;
   * else a new one, up to the count; else the least recently used.
   */
  #windowFor(offset: number, length: number): Window {
    const windows = this.#windows;
    let found = windows.findIndex((w) => offset >= w.at && offset + length <= w.at + w.length);
    if (found < 0) {
      found = windows.findIndex((w) => offset >= w.at && offset < w.at + w.length + this.#size);
      if (found < 0 && windows.length < this.#count) {
        found = windows.push({ bytes: new Uint8Array(0), at: 0, length: 0 }) - 1;
      }
      if (found < 0) found = windows.length - 1;
      const w = windows[found];
      const size = Math.max(length, this.#size);
      if (w.bytes.length < size) w.bytes = new Uint8Array(size);
      w.length = this.#readAt(offset, w.bytes.subarray(0, size));
      w.at = offset;
    }
    const w = windows[found];
    if (found > 0) {
      windows.splice(found, 1);
      windows.unshift(w);
    }
    return w;
  }
}
