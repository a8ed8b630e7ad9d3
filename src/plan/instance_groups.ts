/**
 * Files that share a SOP Instance UID, found as the plan's assembly takes its files in input order
 * (`assemble.ts`): a file with the UID and the bytes of an earlier one is a duplicate of the first
 * such file (skipped by the plan); one with the UID but other bytes is written, with a warning
 * naming the first file of its UID. Each decision needs only the files before it, so the assembly
 * can take each file as soon as its survey and those before it are in, while the others are still
 * being surveyed.
 *
 * What is kept is 8 to 10 bytes a file: each UID's two 32-bit hashes (`hash32` and `hash32b`) in a
 * table of typed arrays, not the UIDs. Files whose UIDs have both hashes alike are taken to share
 * their UID: for different UIDs that happens with a chance of about 1 in 2^64 a pair (about 3 in
 * 10^8 among a million files), and its only effect is a warning too many, since files are
 * duplicates only when their bytes are the same too (their sizes and SHA-256). Bytes are hashed
 * only for files whose UID is met again (and the file met before), once each.
 *
 * @example
 * ```ts ignore
 * import { InstanceGroups } from "./instance_groups.ts";
 *
 * const paths = ["/raw/a.dcm", "/raw/b.dcm"];
 * const groups = new InstanceGroups((i) => ({ path: paths[i], size: 1024 }));
 * groups.check(0, "1.2.3", paths[0], 1024); // undefined: the first of its UID
 * await groups.check(1, "1.2.3", paths[1], 1024); // "same SOP Instance UID and bytes as ..." if b = a
 * ```
 *
 * @module
 */
import { inputRef } from "../scan/scan.ts";
import { hash32, hash32b, sha256File } from "../util/hash.ts";

/** See the module's documentation. */
export class InstanceGroups {
  /** Open addressing: each slot's first hash, and its file's index plus one (0: an empty slot). */
  #first = new Uint32Array(1024);
  #index = new Uint32Array(1024);
  /** The second hash of each file with a UID, by index. */
  #second = new Uint32Array(1024);
  #size = 0;
  /** The bytes' key (size and SHA-256) of each file whose UID was met twice, by index. */
  readonly #bytes = new Map<number, string>();
  /** Files with the UID of an earlier one but other bytes, with the first file of that UID. */
  readonly #same: [number, number][] = [];
  readonly #file: (index: number) => { readonly path: string; readonly size: number };

  /** `file`: where an earlier file is and its size, asked for when its UID is met again. */
  constructor(file: (index: number) => { readonly path: string; readonly size: number }) {
    this.#file = file;
  }

  /**
   * Files written with the UID of an earlier file but other bytes, each with the first file of that
   * UID, in input order.
   */
  get sameInstance(): readonly (readonly [number, number])[] {
    return this.#same;
  }

  /**
   * Note file `index` (every file before it has been checked), whose SOP Instance UID is `uid` (none:
   * not a DICOM file with one), at `path` with `size` bytes. The reason it is a duplicate of an
   * earlier file, or undefined; a promise when its bytes had to be hashed to tell.
   */
  check(
    index: number,
    uid: string | undefined,
    path: string,
    size: number,
  ): string | undefined | Promise<string | undefined> {
    if (!uid) return undefined;
    const first = hash32(uid);
    const second = hash32b(uid);
    const earlier = this.#find(first, second);
    this.#add(first, second, index);
    if (!earlier.length) return undefined;
    return this.#compare(index, path, size, earlier);
  }

  /** `check` for a file whose UID an earlier file has (`earlier`, in input order). */
  async #compare(index: number, path: string, size: number, earlier: number[]): Promise<string | undefined> {
    const mine = await this.#keyOf(index, () => ({ path, size }));
    for (const e of earlier) {
      if ((await this.#keyOf(e, () => this.#file(e))) === mine) {
        return `same SOP Instance UID and bytes as ${inputRef(e)}`;
      }
    }
    // The first file of a UID is never a duplicate: it is the one the warning names.
    this.#same.push([index, earlier[0]]);
    return undefined;
  }

  /** The key of file `index`'s bytes (its size and SHA-256), made once; `file` says where it is. */
  async #keyOf(index: number, file: () => { readonly path: string; readonly size: number }): Promise<string> {
    let key = this.#bytes.get(index);
    if (key === undefined) {
      const f = file();
      key = `${f.size}:${await sha256File(f.path).catch(() => `unreadable:${f.path}`)}`;
      this.#bytes.set(index, key);
    }
    return key;
  }

  /** The files noted so far whose UID has these hashes, in input order. */
  #find(first: number, second: number): number[] {
    const found: number[] = [];
    const mask = this.#first.length - 1;
    for (let slot = first & mask; this.#index[slot] !== 0; slot = (slot + 1) & mask) {
      const i = this.#index[slot] - 1;
      if (this.#first[slot] === first && this.#second[i] === second) found.push(i);
    }
    return found.sort((a, b) => a - b);
  }

  #add(first: number, second: number, index: number): void {
    // At most three quarters full: the probe runs stay short.
    if ((this.#size + 1) * 4 > this.#first.length * 3) this.#grow();
    const mask = this.#first.length - 1;
    let slot = first & mask;
    while (this.#index[slot] !== 0) slot = (slot + 1) & mask;
    this.#first[slot] = first;
    this.#index[slot] = index + 1;
    this.#size++;
    if (index >= this.#second.length) {
      const wider = new Uint32Array(Math.max(index + 1, this.#second.length * 2));
      wider.set(this.#second);
      this.#second = wider;
    }
    this.#second[index] = second;
  }

  #grow(): void {
    const [first, index] = [this.#first, this.#index];
    this.#first = new Uint32Array(first.length * 2);
    this.#index = new Uint32Array(first.length * 2);
    const mask = this.#first.length - 1;
    for (let s = 0; s < first.length; s++) {
      if (index[s] === 0) continue;
      let slot = first[s] & mask;
      while (this.#index[slot] !== 0) slot = (slot + 1) & mask;
      this.#first[slot] = first[s];
      this.#index[slot] = index[s];
    }
  }
}
