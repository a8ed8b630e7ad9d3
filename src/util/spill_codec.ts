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
 * A `sharingCodec`, which can also hand the combinations it numbered to another codec of the same
 * fields, elsewhere (a worker's codec to the main thread's): records it encoded then decode there.
 */
export interface SharingCodec<V> extends SpillCodec<V> {
  /**
   * The combinations this codec numbered since it was last asked, in number order (their values
   * are this codec's: not to be changed).
   */
  newParts(): Record<string, unknown>[];
  /**
   * Take the combinations another codec numbered (each of its `newParts`, in turn): the records it
   * encodes decode here. A codec given parts only decodes: `encode` throws, and one that has
   * encoded cannot be given parts.
   */
  addParts(parts: readonly Record<string, unknown>[]): void;
}

/**
 * A codec that writes what records share once: the values under the `shared` keys are held in
 * memory by number (one entry per combination met), and a record's line carries that number and its
 * other fields. For records of which many share a few combinations (the files of a series).
 *
 * `lookup`: how a record's combination is found among those met. By default by the numbers of its
 * values, each looked up once per value: cheap for records whose values are the same strings and
 * objects again (a caller's interned ones), and it keeps no text. With "json", by the JSON text of
 * its shared values, one native stringify and one lookup a record: about a third of the time for
 * records whose values are new objects each time (a worker's, read from each file), for the memory
 * of each combination's text; such a codec encodes for another (`newParts`), which decodes.
 */
export function sharingCodec<V extends object>(
  shared: readonly string[],
  { lookup = "values" }: { readonly lookup?: "values" | "json" } = {},
): SharingCodec<V> {
  // Each shared field by its place in `shared`.
  const fields = new Map(shared.map((k, i) => [k, i]));
  const width = Math.max(1, shared.length);
  const parts: (Record<string, unknown> | undefined)[] = [];
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
  /** With `lookup: "json"`: each combination's number by the JSON of its values (see `encodeByJson`). */
  const byJson = lookup === "json" ? new Map<string, number>() : undefined;
  const encodeByJson = (value: V): unknown => {
    const part: Record<string, unknown> = {};
    const own: Record<string, unknown> = {};
    for (const k in value) {
      const v = (value as Record<string, unknown>)[k];
      if (v === undefined) continue;
      if (fields.has(k)) part[k] = v;
      else own[k] = v;
    }
    const text = JSON.stringify(part);
    let s = byJson!.get(text);
    if (s === undefined) byJson!.set(text, s = parts.push(part) - 1);
    return [s, own];
  };
  /** This record's steps (reused: a record's are compared, and copied only for a new combination). */
  const mine: number[] = [];
  /** Parts before this one were handed out by `newParts`. */
  let handedOut = 0;
  /** Parts came from another codec (`addParts`): this one only decodes. */
  let given = false;
  return {
    encode(value: V): unknown {
      if (given) throw new Error("a sharingCodec given another's parts only decodes");
      if (byJson) return encodeByJson(value);
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
      const part = parts[s];
      if (part === undefined && byJson) {
        throw new Error("a sharingCodec's part is decoded where it was handed");
      }
      return { ...part, ...own } as V;
    },
    newParts(): Record<string, unknown>[] {
      const out = parts.slice(handedOut) as Record<string, unknown>[];
      // Looked up by JSON, a part handed out is let go here (its text is kept): its values were a
      // file's own objects, which would stay for the whole survey.
      if (byJson) parts.fill(undefined, handedOut);
      handedOut = parts.length;
      return out;
    },
    addParts(more: readonly Record<string, unknown>[]): void {
      if (!given && parts.length) throw new Error("a sharingCodec that has encoded cannot be given parts");
      given = true;
      for (const part of more) parts.push(part);
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
