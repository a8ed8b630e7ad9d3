/**
 * A bounded memo that leaves the old generation of V8's heap no garbage to collect. A memo emptied
 * when full (what dcmtidy's were) holds each entry until the next emptying: longer than the young
 * generation keeps anything, so every entry is promoted, and where the values asked for do not fit
 * (a tree whose files go round thousands of patients) each emptying leaves a full memo of garbage
 * to a full collection. A worker going through 30,000 files of 6,000 patients (one patient after
 * another, round and round) promoted 13.6 KB a scavenge against 0.9 KB for 30,000 files of 600
 * patients (which fit), and collected its whole heap every few seconds; with `Memo`, 1.1 KB.
 *
 * `Memo` keeps the first `capacity` entries for good (a dump with fewer values than that finds
 * every one again, as before), and the others in two small generations: the newest `generation`
 * entries (16: a few files' worth, gone before the young generation would promote them) and the
 * ones before them, which go as the next ones come (found there, an entry moves to the newest
 * again). A sorted dump (one patient's files after another's) finds its values there.
 *
 * @example
 * ```ts
 * import { Memo } from "./memo.ts";
 *
 * const lengths = new Memo<string, number>(2, 1);
 * for (const word of ["a", "bb", "ccc", "dddd", "ccc"]) {
 *   if (lengths.get(word) === undefined) lengths.set(word, word.length);
 * }
 * console.assert(lengths.get("a") === 1 && lengths.get("ccc") === 3 && lengths.size <= 4);
 * ```
 *
 * @module
 */

/** See the module's documentation. A value of `undefined` is not remembered (`get` says absent). */
export class Memo<K, V> {
  readonly #kept = new Map<K, V>();
  #newest = new Map<K, V>();
  #older = new Map<K, V>();
  readonly #capacity: number;
  readonly #generation: number;

  /** `capacity`: entries kept for good; `generation`: entries in each of the two that come and go. */
  constructor(capacity: number, generation = 16) {
    this.#capacity = capacity;
    this.#generation = Math.max(1, generation);
  }

  /** Entries held now (at most `capacity` and two generations). */
  get size(): number {
    return this.#kept.size + this.#newest.size + this.#older.size;
  }

  get(key: K): V | undefined {
    const value = this.#kept.get(key) ?? this.#newest.get(key);
    if (value !== undefined) return value;
    const older = this.#older.get(key);
    if (older !== undefined) this.#add(key, older);
    return older;
  }

  set(key: K, value: V): void {
    if (value === undefined) return;
    if (this.#kept.has(key) || this.#kept.size < this.#capacity) this.#kept.set(key, value);
    else this.#add(key, value);
  }

  /**
   * Start a new generation now, as a new unit of work (a file) begins: the newest entries become the
   * older ones, and the older ones go. A generation also turns by itself once it is full.
   */
  turn(): void {
    this.#older = this.#newest;
    this.#newest = new Map();
  }

  #add(key: K, value: V): void {
    if (this.#newest.size >= this.#generation && !this.#newest.has(key)) this.turn();
    this.#newest.set(key, value);
  }
}
