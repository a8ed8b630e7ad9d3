/**
 * One record per input file, by its index in input order: the surveys a plan is assembled from,
 * then the plan's files, which it holds until its run ends. Up to a bound they are objects in
 * memory; past it they wait in an encrypted temporary file under the output's state folder (see
 * `SpillMap`), so a plan of millions of files holds a few bytes a file. An array reads the same way
 * (`FileList`): code that only reads a plan's files takes either.
 *
 * A record read back is a new object each time: a record is never changed in place, it is
 * replaced (`set`).
 *
 * @module
 */
import type { SpillCodec } from "../util/spill_codec.ts";
import { SpillMap } from "../util/spill_map.ts";
import { boundHeap } from "../util/heap.ts";

/** Reading a list of files by position: what an array and `FileRecords` both have. */
export interface FileList<T> extends Iterable<T> {
  readonly length: number;
  at(index: number): T | undefined;
  entries(): IterableIterator<[number, T]>;
  map<U>(fn: (f: T, index: number) => U): U[];
  filter(fn: (f: T, index: number) => boolean): T[];
  flatMap<U>(fn: (f: T, index: number) => U | readonly U[]): U[];
  forEach(fn: (f: T, index: number) => void): void;
  some(fn: (f: T, index: number) => boolean): boolean;
  find(fn: (f: T, index: number) => boolean): T | undefined;
  findIndex(fn: (f: T, index: number) => boolean): number;
}

/**
 * Where a plan's records go past a bound: a folder (made when first needed, so a plan that stays
 * under it makes none) and the bound.
 */
export interface PlanSpill {
  /**
   * The folder for the temporary file, made and given when the first record goes there; undefined:
   * there is none, and every record stays in memory.
   */
  readonly dir: () => string | undefined;
  /**
   * Records held in memory (default `SPILL_BOUND`, 32,768: about 20 MB of planned files; 4,096 for a
   * plan of more files, which goes to its file anyway: `SPILL_BOUND_PAST`).
   */
  readonly inMemory?: number;
}

/** See the module's documentation. */
export class FileRecords<T> implements FileList<T>, Disposable {
  readonly #store: SpillMap<T>;
  #length = 0;

  /**
   * Without `spill`, every record stays in memory. `length`: records to come, set in any order
   * (`set`); until then `at` gives undefined for them and `get` throws. `codec`: how a record is
   * written past the bound (see `SpillMap`). `expected`: records to come by `push`, when known.
   */
  constructor(spill?: PlanSpill, length = 0, codec?: SpillCodec<T>, expected = 0) {
    this.#store = new SpillMap<T>(spill?.dir, spill?.inMemory, codec, Math.max(length, expected));
    this.#length = length;
  }

  /** The records of an array, in memory. */
  static of<T>(files: readonly T[]): FileRecords<T> {
    const out = new FileRecords<T>();
    for (const f of files) out.push(f);
    return out;
  }

  get length(): number {
    return this.#length;
  }

  at(index: number): T | undefined {
    const i = index < 0 ? this.#length + index : index;
    return i >= 0 && i < this.#length ? this.#store.get(i) : undefined;
  }

  /** The record at `index`; a RangeError past the end or where none was set. */
  get(index: number): T {
    const f = index >= 0 && index < this.#length ? this.#store.get(index) : undefined;
    if (f === undefined) throw new RangeError(`no record ${index}`);
    return f;
  }

  /**
   * The record at `index`, which is forgotten as it is given (for a reader that needs each record
   * once: what it makes of them need not share the memory with them); a RangeError as `get`.
   */
  take(index: number): T {
    const f = this.get(index);
    this.#store.delete(index);
    return f;
  }

  /** Whether the record at `index` is set (without reading it). */
  has(index: number): boolean {
    return this.#store.has(index);
  }

  /** Records set so far (`length` when every one is). */
  get filled(): number {
    return this.#store.size;
  }

  /** Replace the record at `index`. */
  set(index: number, f: T): void {
    if (!(index >= 0 && index < this.#length)) throw new RangeError(`no record ${index}`);
    this.#store.set(index, f);
  }

  /** Add a record at the end; its index. */
  push(f: T): number {
    this.#store.set(this.#length, f);
    return this.#length++;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (const [, f] of this.entries()) yield f;
  }

  *entries(): IterableIterator<[number, T]> {
    for (let i = 0; i < this.#length; i++) {
      // Records read back from disk are garbage once looked at: the heap is kept near what is live.
      if (i % 1024 === 1023) boundHeap();
      yield [i, this.get(i)];
    }
  }

  map<U>(fn: (f: T, index: number) => U): U[] {
    const out: U[] = [];
    for (const [i, f] of this.entries()) out.push(fn(f, i));
    return out;
  }

  filter(fn: (f: T, index: number) => boolean): T[] {
    const out: T[] = [];
    for (const [i, f] of this.entries()) if (fn(f, i)) out.push(f);
    return out;
  }

  flatMap<U>(fn: (f: T, index: number) => U | readonly U[]): U[] {
    const out: U[] = [];
    for (const [i, f] of this.entries()) {
      const r = fn(f, i);
      if (Array.isArray(r)) out.push(...r);
      else out.push(r as U);
    }
    return out;
  }

  forEach(fn: (f: T, index: number) => void): void {
    for (const [i, f] of this.entries()) fn(f, i);
  }

  some(fn: (f: T, index: number) => boolean): boolean {
    return this.findIndex(fn) >= 0;
  }

  find(fn: (f: T, index: number) => boolean): T | undefined {
    const i = this.findIndex(fn);
    return i >= 0 ? this.get(i) : undefined;
  }

  findIndex(fn: (f: T, index: number) => boolean): number {
    for (const [i, f] of this.entries()) if (fn(f, i)) return i;
    return -1;
  }

  /** Let go of the temporary file (the records on it are gone). */
  close(): void {
    this.#store.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
