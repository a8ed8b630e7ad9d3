/**
 * How a `SpillMap`'s records are written to its file and read back (`SpillCodec`), and a codec for
 * records of which many share a few combinations of values (`sharingCodec`: the files of a series).
 *
 * @example Records that share their series' values
 * ```ts ignore
 * import { sharingCodec } from "./spill_codec.ts";
 * import { SpillMap } from "./spill_map.ts";
 *
 * const codec = sharingCodec<{ series: string; n: number }>(["series"]);
 * using files = new SpillMap(await Deno.makeTempDir(), 1024, codec);
 * for (let n = 0; n < 10_000; n++) files.set(n, { series: "1.2.3", n }); // "1.2.3" held once
 * ```
 *
 * @module
 */
import { ContentMap } from "./content_map.ts";

/** What a record is written to the file as (a JSON value), and read back from. */
export interface SpillCodec<V> {
  encode(value: V): unknown;
  decode(stored: unknown): V;
}

/**
 * A codec that writes what records share once: the values under the `shared` keys are held in
 * memory by number (one entry per combination met), and a record's line carries that number and its
 * other fields. For records of which many share a few combinations (the files of a series).
 */
export function sharingCodec<V extends object>(shared: readonly string[]): SpillCodec<V> {
  // Each shared field by its place in `shared`.
  const fields = new Map(shared.map((k, i) => [k, i]));
  const width = Math.max(1, shared.length);
  const parts: Record<string, unknown>[] = [];
  // A combination is its steps, one a shared field: the field's place and its value's number (a
  // string, an object or any other value, numbered apart), so no two combinations have the same
  // steps. They are hashed, and a combination found under the hash is compared step by step with
  // the steps it was kept with (`Steps`), not looked up by a key string made for each record (a
  // string made and hashed a record, and one kept a combination: 2 MB of keys at 300,000 files).
  const steps = new Steps();
  const byHash = new Map<number, number | number[]>();
  // The objects among shared values (a header, report columns, action counts), numbered by content
  // and remembered by identity: the files of a series share the same objects (interned), so each is
  // looked up by content once, not once a record (`ContentMap`, which keeps the first object of each
  // content: the one in `parts`). Remembered on the object itself, under a symbol of this codec's
  // own, in a property that is not enumerable: JSON, spreads, `Object.keys` and structured clones
  // leave it out, and it lives as long as the object, which must not be changed once encoded (the
  // callers' shared values are an `Interner`'s, never changed). Not a WeakMap: with thousands of weak entries
  // every collection after them is slower (reading 300,000 records back took 2.7 -> 3.8 us a record
  // with one). Not a bounded cache, as before: records that go round more series than it holds (the
  // bench's 12,000 series of 300,000 files, whose files go round the patients) missed it every time,
  // and each record's objects were looked up by content again.
  const idTag = Symbol("sharingCodec's number");
  const byContent = new ContentMap();
  // Strings by number (the values' own, interned by the callers), and the other values (numbers,
  // booleans, null) by their JSON, as they are written.
  const stringIds = new Map<string, number>();
  const otherIds = new Map<string, number>();
  const idOf = (o: object): number => {
    const known = (o as Record<symbol, number | undefined>)[idTag];
    if (known !== undefined) return known;
    const id = byContent.numberOf(o);
    // A frozen or sealed object is looked up by content each time.
    if (Object.isExtensible(o)) Object.defineProperty(o, idTag, { value: id });
    return id;
  };
  const numbered = (ids: Map<string, number>, key: string): number => {
    let id = ids.get(key);
    if (id === undefined) ids.set(key, id = ids.size);
    return id;
  };
  /** This record's steps (reused: a record's are compared, and copied only for a new combination). */
  const mine: number[] = [];
  return {
    encode(value: V): unknown {
      const own: Record<string, unknown> = {};
      let n = 0;
      let h = 0x811c9dc5;
      for (const k in value) {
        const v = (value as Record<string, unknown>)[k];
        if (v === undefined) continue;
        const f = fields.get(k);
        if (f === undefined) {
          own[k] = v;
          continue;
        }
        const step = f +
          width *
            (typeof v === "string"
              ? 3 * numbered(stringIds, v)
              : typeof v === "object" && v !== null
              ? 3 * idOf(v) + 1
              : 3 * numbered(otherIds, JSON.stringify(v)) + 2);
        mine[n++] = step;
        h = Math.imul(h ^ (step >>> 0), 0x01000193) ^ Math.floor(step / 0x100000000);
      }
      mine.length = n;
      h &= 0x3fffffff; // a small integer: a key the map holds as it is
      const found = byHash.get(h);
      let s = -1;
      if (typeof found === "number") {
        if (steps.same(found, mine)) s = found;
      } else if (found) {
        for (const p of found) {
          if (steps.same(p, mine)) {
            s = p;
            break;
          }
        }
      }
      if (s < 0) {
        // A new combination: its shared values, as this record has them, and its steps.
        const part: Record<string, unknown> = {};
        for (const k in value) {
          const v = (value as Record<string, unknown>)[k];
          if (v !== undefined && fields.has(k)) part[k] = v;
        }
        s = parts.push(part) - 1;
        steps.add(mine);
        if (found === undefined) byHash.set(h, s);
        else if (typeof found === "number") byHash.set(h, [found, s]);
        else found.push(s);
      }
      return [s, own];
    },
    decode(stored: unknown): V {
      const [s, own] = stored as [number, Record<string, unknown>];
      return { ...parts[s], ...own } as V;
    },
  };
}

/**
 * The steps of each combination of a `sharingCodec`, by its number, in one array of numbers (4
 * bytes a step; 8 once a step is past 2^32).
 */
class Steps {
  #codes: Uint32Array | Float64Array = new Uint32Array(256);
  #starts = new Uint32Array(64);
  #count = 0;
  #end = 0;

  /** Keep the steps of the next combination. */
  add(steps: readonly number[]): void {
    if (this.#end + steps.length > this.#codes.length) {
      const wider = this.#codes instanceof Uint32Array
        ? new Uint32Array(Math.max(this.#codes.length * 2, this.#end + steps.length))
        : new Float64Array(Math.max(this.#codes.length * 2, this.#end + steps.length));
      wider.set(this.#codes);
      this.#codes = wider;
    }
    if (this.#codes instanceof Uint32Array && steps.some((s) => s > 0xffffffff)) {
      this.#codes = Float64Array.from(this.#codes);
    }
    this.#codes.set(steps, this.#end);
    if (this.#count + 2 > this.#starts.length) {
      const wider = new Uint32Array(this.#starts.length * 2);
      wider.set(this.#starts);
      this.#starts = wider;
    }
    this.#end += steps.length;
    this.#starts[++this.#count] = this.#end;
  }

  /** Whether combination `i` has exactly these steps. */
  same(i: number, steps: readonly number[]): boolean {
    const from = this.#starts[i];
    if (this.#starts[i + 1] - from !== steps.length) return false;
    for (let j = 0; j < steps.length; j++) if (this.#codes[from + j] !== steps[j]) return false;
    return true;
  }
}
