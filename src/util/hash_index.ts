/**
 * Numbers filed under 32-bit hashes, a few bytes each: to find among many records (a journal's
 * lines, a plan's files) those whose key may equal a given one, without holding the keys. The caller
 * reads each candidate back and compares its key: equal keys hash alike, keys that hash alike may
 * differ.
 *
 * @example
 * ```ts
 * import { HashIndex } from "./hash_index.ts";
 * import { hash32 } from "./hash.ts";
 *
 * const names = ["a/1.dcm", "b/2.dcm", "a/3.dcm"];
 * const index = new HashIndex();
 * names.forEach((name, i) => index.add(hash32(name), i));
 * const found = [...index.candidates(hash32("b/2.dcm"))].filter((i) => names[i] === "b/2.dcm");
 * console.assert(found.length === 1 && found[0] === 1);
 * // Names under one hash: each group read back and compared (here none: three hashes).
 * console.assert([...index.groups(2)].length === 0 && [...index.groups()].length === 3);
 * ```
 *
 * @module
 */

/** See the module's documentation. 8 bytes a number (a `BigUint64Array`, sorted once, when first asked). */
export class HashIndex {
  #keys = new BigUint64Array(64);
  #size = 0;
  #sorted = true;

  /** How many numbers are filed. */
  get size(): number {
    return this.#size;
  }

  /** File `value` (an integer from 0 to 2^32 - 1) under `hash` (a 32-bit unsigned integer). */
  add(hash: number, value: number): void {
    if (this.#size === this.#keys.length) {
      const grown = new BigUint64Array(Math.max(64, this.#keys.length * 2));
      grown.set(this.#keys);
      this.#keys = grown;
    }
    this.#keys[this.#size++] = (BigInt(hash >>> 0) << 32n) | BigInt(value >>> 0);
    this.#sorted = false;
  }

  /** The numbers filed under `hash`, smallest first. */
  *candidates(hash: number): IterableIterator<number> {
    const keys = this.#seal();
    const h = BigInt(hash >>> 0);
    // The first key of this hash: binary search on the hash (the high 32 bits).
    let lo = 0;
    let hi = this.#size;
    const first = h << 32n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid] < first) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.#size && keys[i] >> 32n === h; i++) yield Number(keys[i] & 0xffffffffn);
  }

  /** Every number filed, by hash, then smallest first within a hash. */
  *values(): IterableIterator<number> {
    const keys = this.#seal();
    for (let i = 0; i < this.#size; i++) yield Number(keys[i] & 0xffffffffn);
  }

  /** The numbers filed under each hash (smallest first), for hashes with at least `least` of them. */
  *groups(least = 1): IterableIterator<number[]> {
    const keys = this.#seal();
    for (let start = 0; start < this.#size;) {
      let end = start + 1;
      while (end < this.#size && keys[end] >> 32n === keys[start] >> 32n) end++;
      if (end - start >= least) {
        yield Array.from({ length: end - start }, (_, k) => Number(keys[start + k] & 0xffffffffn));
      }
      start = end;
    }
  }

  #seal(): BigUint64Array {
    if (!this.#sorted) {
      // Shrunk to what is filed, then sorted in place (no comparator: numeric order of the keys).
      this.#keys = this.#keys.slice(0, this.#size).sort();
      this.#sorted = true;
    }
    return this.#keys;
  }
}
