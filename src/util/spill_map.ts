/**
 * A map from small integers (a file's index in a plan) to JSON records that holds at most `bound`
 * records in memory: past that, the records held are written to a temporary file in a given folder
 * and read back when asked for. What stays in memory per record is 6 bytes (where its line starts
 * and its length; 12 once the file is past 4 GiB or a line past 64 KiB), so memory does not grow
 * with the records. The file is removed as soon as it is opened (it lives as
 * long as the map keeps it open), so a killed process leaves nothing behind, and it is encrypted
 * (AES-256-CTR) with a key that exists only in this map: what the disk keeps of it after the
 * process is gone is unreadable, whatever the records hold (original paths and IDs).
 *
 * A record read back is a new object parsed from its JSON: records are values, never changed in
 * place, and fields that JSON does not keep (undefined, functions) are not kept.
 *
 * @example Hold a million records in a few megabytes
 * ```ts ignore
 * import { SpillMap } from "./spill_map.ts";
 *
 * using outcomes = new SpillMap<{ status: string }>(await Deno.makeTempDir(), 4096);
 * for (let i = 0; i < 1_000_000; i++) outcomes.set(i, { status: "written" });
 * console.log(outcomes.get(12)?.status, outcomes.size); // "written" 1000000
 * ```
 *
 * @module
 */
import { createCipheriv } from "node:crypto";
import { join } from "node:path";
import { PRIVATE_FILE } from "./atomic.ts";
import { readFileAt, ReadWindows } from "./read_windows.ts";
import type { SpillCodec } from "./spill_codec.ts";

/** `entries` reads the file this many bytes at a time. */
const PIECE = 1 << 20;

/** The largest key: the file's places are arrays indexed by key. */
const MAX_KEY = 2 ** 31 - 1;

/** Places (a line's start and length) a map has before its keys grow them. */
const FIRST_PLACES = 1024;

/** Records written to the file at a time. */
const SLICE = 2048;

/**
 * Records held in memory before they go to the file, by default: a run of tens of thousands of files
 * writes none (a round trip through the file costs about 10 us a record, read back once or more),
 * and what a larger one holds stays at about 20 MB a map.
 */
export const SPILL_BOUND = 32_768;

/**
 * Records held in memory by default by a map said to get more keys than `SPILL_BOUND`: it goes to
 * its file anyway, and holding fewer keeps its memory at a few MB instead of up to 20.
 */
export const SPILL_BOUND_PAST = 4_096;

/** Records held in memory by a map without a bound of its own that gets `records` (0: not said). */
const defaultBound = (records: number) => records > SPILL_BOUND ? SPILL_BOUND_PAST : SPILL_BOUND;

/** Closes the file of a map collected without being closed. */
const unclosed = new FinalizationRegistry<Deno.FsFile>((file) => {
  try {
    file.close();
  } catch { /* closed already */ }
});

/** See the module's documentation. Iteration gives the records on file first, then those in memory. */
export class SpillMap<V> implements ReadonlyMap<number, V>, Disposable {
  #dir: string | (() => string | undefined) | undefined;
  /** The file's path while it could not be removed from its folder (removed on close). */
  #path: string | undefined;
  #bound: number;
  /** The bound was the caller's (`expect` leaves it). */
  readonly #boundGiven: boolean;
  #hot = new Map<number, V>();
  #file: Deno.FsFile | undefined;
  /**
   * Where each key's line starts in the file, and its length in bytes (0: not on file): in the
   * smallest arrays that hold them (at 300,000 keys, 1.8 MB instead of 3.6 a map).
   */
  #offsets: Uint32Array | Float64Array = new Uint32Array(FIRST_PLACES);
  #lengths: Uint16Array | Uint32Array = new Uint16Array(FIRST_PLACES);
  #end = 0;
  #onFile = 0;
  /**
   * The pieces of the file `get` read last: one for each run of records asked for in the order they
   * were set. Records set from several sorted sources in turn (the shares of a split scan, the parts
   * of the shards a merge reads) and asked for in key order come from as many places in the file;
   * with one piece, each record read a piece of its own (64 KB decrypted for 300 bytes).
   */
  readonly #windows = new ReadWindows((offset, into) => this.#readAt(offset, into));
  /** The file's key, made with the file. */
  #key: Uint8Array | undefined;
  readonly #encode: (value: V) => unknown;
  readonly #decode: (stored: unknown) => V;
  /** The keys said to be below this (0: not said). */
  #keys: number;

  /**
   * `dir`: the folder for the temporary file, or what gives it when the file is first needed
   * (undefined, or a function that gives undefined: records are never written out, and the map is a
   * plain map). `bound`: records held in memory before they go to the file (by default
   * `SPILL_BOUND`, or `SPILL_BOUND_PAST` when `keys` is past it). `codec`: what a record
   * is written as and read back from (by default the record itself): fewer bytes a record, fewer
   * to encrypt and parse on every read. `keys`: the keys will be below this (a plan's files): the
   * places on file are then made that size when first needed, not doubled up to past it (at
   * 300,000 keys, 3.6 MB instead of 6.3 MB, and no old copy beside the new one as they grow).
   */
  constructor(
    dir: string | (() => string | undefined) | undefined,
    bound?: number,
    codec?: SpillCodec<V>,
    keys?: number,
  ) {
    this.#dir = dir;
    this.#keys = keys ?? 0;
    this.#boundGiven = bound !== undefined;
    this.#bound = Math.max(1, bound ?? defaultBound(this.#keys));
    this.#encode = codec?.encode ?? ((v) => v);
    this.#decode = codec?.decode ?? ((s) => s as V);
  }

  get size(): number {
    return this.#hot.size + this.#onFile;
  }

  /**
   * Say how many records the map will get, for a map made before that was known: past
   * `SPILL_BOUND`, one made without a bound of its own holds `SPILL_BOUND_PAST` in memory from its
   * next `set`, as if it had been told when made. `keys`: the keys will be below this, as the
   * constructor's: the places on file are then made that size when next they grow, not doubled past
   * it (staged outputs of 300,000 files: 1.8 MB, not 3.1 MB and a copy of half that as they grow).
   */
  expect(records: number, keys?: number): void {
    if (keys !== undefined && keys > this.#keys) this.#keys = keys;
    if (this.#boundGiven) return;
    this.#bound = defaultBound(records);
  }

  /** Records held in memory (the others are on file). */
  get held(): number {
    return this.#hot.size;
  }

  get [Symbol.toStringTag](): string {
    return "SpillMap";
  }

  has(key: number): boolean {
    return this.#hot.has(key) || this.#lengthOf(key) > 0;
  }

  get(key: number): V | undefined {
    const hot = this.#hot.get(key);
    if (hot !== undefined || this.#hot.has(key)) return hot;
    const length = this.#lengthOf(key);
    if (length === 0) return undefined;
    // Records asked for in about the order they were set are read a window at a time, not one
    // read each (lines on file never change, so a window stays true).
    return this.#decode(JSON.parse(decoder.decode(this.#windows.read(this.#offsets[key], length))));
  }

  set(key: number, value: V): this {
    if (!Number.isInteger(key) || key < 0 || key > MAX_KEY) {
      throw new RangeError(`a SpillMap key is a whole number from 0 to ${MAX_KEY}: ${key}`);
    }
    this.#forget(key);
    this.#hot.set(key, value);
    if (this.#hot.size > this.#bound && this.#dir !== undefined) this.#spill();
    return this;
  }

  delete(key: number): boolean {
    return this.#hot.delete(key) || this.#forget(key);
  }

  clear(): void {
    this.#hot.clear();
    this.#lengths.fill(0);
    this.#onFile = 0;
  }

  /**
   * The records on file, then those in memory. A `set` while iterating may move records from memory
   * to the file: the file is read only as far as it went when the iteration began, and what moved
   * after is not given (nor given twice).
   */
  *entries(): MapIterator<[number, V]> {
    const hot = [...this.#hot];
    if (this.#file && this.#onFile > 0) {
      // The file is read in order, a piece at a time, into one buffer that the piece's last, partial
      // line is moved to the front of (a buffer a piece would outlive young collections and pile up
      // outside the heap until a full one); a line counts if it is still its key's line.
      const end = this.#end;
      let buffer = new Uint8Array(PIECE);
      let carried = 0;
      let at = 0;
      while (at < end) {
        const want = Math.min(PIECE, end - at);
        if (buffer.length < carried + want) {
          const wider = new Uint8Array(carried + want);
          wider.set(buffer.subarray(0, carried));
          buffer = wider;
        }
        const n = this.#readAt(at, buffer.subarray(carried, carried + want));
        if (n === 0) break; // the file is shorter than written: nothing more to give
        const chunk = buffer.subarray(0, carried + n);
        const base = at - carried;
        let start = 0;
        for (let nl = chunk.indexOf(10, start); nl >= 0; nl = chunk.indexOf(10, start)) {
          const line = chunk.subarray(start, nl);
          const tab = line.indexOf(9);
          const key = Number(decoder.decode(line.subarray(0, tab)));
          if (this.#lengthOf(key) > 0 && this.#offsets[key] === base + start + tab + 1) {
            yield [key, this.#decode(JSON.parse(decoder.decode(line.subarray(tab + 1))))];
          }
          start = nl + 1;
        }
        buffer.copyWithin(0, start, chunk.length);
        carried = chunk.length - start;
        at += n;
      }
    }
    yield* hot;
  }

  *keys(): MapIterator<number> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): MapIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): MapIterator<[number, V]> {
    return this.entries();
  }

  forEach(fn: (value: V, key: number, map: ReadonlyMap<number, V>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.entries()) fn.call(thisArg, value, key, this);
  }

  /** Close the file (the records on it are gone; those in memory stay). */
  close(): void {
    if (!this.#file) return;
    unclosed.unregister(this);
    this.#file.close();
    this.#file = undefined;
    if (this.#path) {
      try {
        Deno.removeSync(this.#path);
      } catch { /* gone already */ }
      this.#path = undefined;
    }
    // The places and the windows go with the file (a map of 300,000 records: 3 MB).
    this.#offsets = new Uint32Array(FIRST_PLACES);
    this.#lengths = new Uint16Array(FIRST_PLACES);
    this.#windows.clear();
    this.#onFile = 0;
    this.#end = 0;
    this.#key = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #lengthOf(key: number): number {
    return this.#lengths[key] ?? 0;
  }

  /** Drop a key's line on file; whether it had one. */
  #forget(key: number): boolean {
    if (this.#lengthOf(key) === 0) return false;
    this.#lengths[key] = 0;
    this.#onFile--;
    return true;
  }

  /**
   * Write every record in memory to the end of the file, a slice at a time (what a write needs, the
   * text, its bytes and their encrypted copy, stays small). Each slice leaves memory once written: a
   * write that fails (a full disk) leaves every record once, in memory or on file.
   */
  #spill(): void {
    const file = this.#file ?? this.#open();
    if (!file) return;
    let slice: [number, V][] = [];
    const flush = () => {
      this.#write(file, slice);
      for (const [key] of slice) this.#hot.delete(key);
      this.#onFile += slice.length;
      slice = [];
    };
    for (const entry of this.#hot) {
      slice.push(entry);
      if (slice.length === SLICE) flush();
    }
    if (slice.length) flush();
  }

  /** Append records to the file, in one write, and note where each one's line is once written. */
  #write(file: Deno.FsFile, entries: readonly [number, V][]): void {
    const text = [];
    for (const [key, value] of entries) text.push(`${key}\t${JSON.stringify(this.#encode(value))}\n`);
    const bytes = encoder.encode(text.join(""));
    const start = this.#end;
    // Past these bytes whatever happens: a keystream is never used twice, even after a failed write.
    this.#end += bytes.length;
    const sealed = this.#cipher(start, bytes);
    file.seekSync(start, Deno.SeekMode.Start);
    for (let written = 0; written < sealed.length;) written += file.writeSync(sealed.subarray(written));
    let max = 0;
    for (const [key] of entries) max = Math.max(max, key);
    this.#grow(max + 1);
    // Each line's place: `get` reads its JSON, after the key and the tab (JSON has no raw tab or
    // newline in it, and a line's length is its UTF-8 length).
    let at = 0;
    for (const [key] of entries) {
      const tab = bytes.indexOf(9, at);
      const nl = bytes.indexOf(10, tab);
      const offset = start + tab + 1;
      const length = nl - tab - 1;
      // Wider places once they are needed: an offset past 4 GiB, a line past 64 KiB.
      if (offset > 0xffffffff && this.#offsets instanceof Uint32Array) {
        this.#offsets = Float64Array.from(this.#offsets);
      }
      if (length > 0xffff && this.#lengths instanceof Uint16Array) {
        this.#lengths = Uint32Array.from(this.#lengths);
      }
      this.#offsets[key] = offset;
      this.#lengths[key] = length;
      at = nl + 1;
    }
  }

  /** The file, made in the map's folder; undefined when there is no folder (records stay in memory). */
  #open(): Deno.FsFile | undefined {
    const dir = typeof this.#dir === "function" ? this.#dir() : this.#dir;
    if (dir === undefined) {
      this.#dir = undefined; // not asked again
      return undefined;
    }
    const path = join(dir, `.spill-${crypto.randomUUID()}.tmp`);
    const file = Deno.openSync(path, { read: true, write: true, createNew: true, mode: PRIVATE_FILE });
    // Gone from the folder at once: the open file is the map's alone, and a kill leaves nothing.
    try {
      Deno.removeSync(path);
    } catch {
      this.#path = path; // removed on close
    }
    unclosed.register(this, file, this);
    this.#file = file;
    this.#key = crypto.getRandomValues(new Uint8Array(32));
    return file;
  }

  #grow(size: number): void {
    if (size <= this.#lengths.length) return;
    let n = this.#lengths.length;
    if (size <= this.#keys) n = this.#keys;
    else while (n < size) n *= 2;
    const offsets = this.#offsets instanceof Uint32Array ? new Uint32Array(n) : new Float64Array(n);
    offsets.set(this.#offsets);
    const lengths = this.#lengths instanceof Uint16Array ? new Uint16Array(n) : new Uint32Array(n);
    lengths.set(this.#lengths);
    this.#offsets = offsets;
    this.#lengths = lengths;
  }

  /**
   * Read `into.length` bytes (fewer at the end of the file) from `offset`, decrypted in place; how
   * many were read.
   */
  #readAt(offset: number, into: Uint8Array): number {
    const n = readFileAt(this.#file!, offset, into);
    into.set(this.#cipher(offset, into.subarray(0, n)));
    return n;
  }

  /**
   * AES-256-CTR of `bytes` as they sit at `offset` in the file (encrypting and decrypting are the
   * same): the counter is the offset's 16-byte block, so any piece can be read alone.
   */
  #cipher(offset: number, bytes: Uint8Array): Uint8Array {
    const iv = new Uint8Array(16);
    new DataView(iv.buffer).setBigUint64(8, BigInt(Math.floor(offset / 16)));
    const aes = createCipheriv("aes-256-ctr", this.#key!, iv);
    try {
      if (offset % 16) aes.update(new Uint8Array(offset % 16));
      return aes.update(bytes);
    } finally {
      // Deno frees a cipher's native state at `final` only, not when the object is collected: about
      // 1.2 KB a cipher, and a run of 300,000 files makes tens of thousands.
      aes.final();
    }
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
