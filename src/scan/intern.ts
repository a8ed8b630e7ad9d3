/**
 * One copy of each value that many files share. What the plan keeps per file crosses from a worker
 * by structured clone, which makes new strings and objects for every message: a series' UIDs, its
 * pseudonym, modality and description, its files' identical action counts, the input root, would be
 * held once per file. Handed through one `Interner`, they are held once per value. Values unique to a
 * file (its path, its destination, its SOP Instance UID) are not put in: the table would only grow.
 *
 * @module
 */
import { ContentMap, isPlain } from "../util/content_map.ts";

/**
 * The one copy of each string and of each plain-data value (the same fields in the same order, see
 * `sameData`) handed to it.
 */
export class Interner {
  readonly #strings = new Map<string, string>();
  /** By content (not by the JSON, which would be held as long as the table). */
  readonly #data = new ContentMap();
  /** What `data` keeps: handed back as it is, without its JSON made again to look it up. */
  readonly #kept = new WeakSet<object>();

  /** The copy of `s` this interner keeps (`s` itself the first time); undefined stays undefined. */
  string<T extends string | undefined>(s: T): T {
    if (s === undefined) return s;
    const known = this.#strings.get(s);
    if (known !== undefined) return known as T;
    this.#strings.set(s, s);
    return s;
  }

  /**
   * The copy of a plain-data value (an object or array of strings, numbers and booleans, as a
   * message carries it) this interner keeps, by its JSON: callers must not change what it returns.
   */
  data<T>(value: T): T {
    if (value === undefined || value === null || typeof value !== "object") return value;
    if (this.#kept.has(value)) return value;
    const contents = this.#data.size;
    // A new content is kept as a copy whose strings are this interner's: a message's copy of a
    // series' report columns held the pseudonym and new UIDs a second time (24,060 of the 62,889
    // UIDs on the main thread's heap 150,000 surveys into a run of 300,000 files).
    const i = this.#data.numberOf(value, (v) => this.#interned(v));
    const example = this.#data.example(i) as T;
    if (i === contents) this.#kept.add(example as object);
    return example;
  }

  /** A plain-data value with its strings this interner's, at any depth (the same fields in order). */
  #interned(v: unknown): unknown {
    if (typeof v === "string") return this.string(v);
    if (v === null || typeof v !== "object") return v;
    if (Array.isArray(v)) return v.map((x) => this.#interned(x));
    if (!isPlain(v)) return v; // anything else is the same only as itself (see `sameData`)
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = this.#interned(x);
    return out;
  }

  /**
   * A copy of a plain record whose values go through this interner (strings by `string`, the rest
   * by `data`), except those under the keys in `own`, which are one file's and kept as they are.
   * Absent (undefined) fields stay absent.
   */
  record<T extends object>(value: T, own: ReadonlySet<string>): T {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = v === undefined || own.has(k) ? v : typeof v === "string" ? this.string(v) : this.data(v);
    }
    return out as T;
  }
}
