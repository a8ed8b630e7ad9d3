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
  // Each shared field by its place in `shared`: a combination's key names a field in a character or
  // two, not by its name (a survey's key was about 105 characters, 12,000 of them a map).
  const keys = new Map(shared.map((k, i) => [k, i.toString(36)]));
  const ids = new Map<string, number>();
  const parts: Record<string, unknown>[] = [];
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
  // Strings by number too: a combination's key is then a few bytes a field, not its values again
  // (about 100 bytes a combination instead of 490; a series is one, but files whose action counts
  // differ are one each). The strings are the values' own (interned by the callers).
  const stringIds = new Map<string, number>();
  const idOf = (o: object): number => {
    const known = (o as Record<symbol, number | undefined>)[idTag];
    if (known !== undefined) return known;
    const id = byContent.numberOf(o);
    // A frozen or sealed object is looked up by content each time.
    if (Object.isExtensible(o)) Object.defineProperty(o, idTag, { value: id });
    return id;
  };
  return {
    encode(value: V): unknown {
      const part: Record<string, unknown> = {};
      const own: Record<string, unknown> = {};
      // The combination's key: each shared field's place and its value (a string or an object by its
      // number, anything else as JSON, which has no ";"), so no two combinations have one key.
      let key = "";
      for (const k in value) {
        const v = (value as Record<string, unknown>)[k];
        if (v === undefined) continue;
        const f = keys.get(k);
        if (f === undefined) {
          own[k] = v;
          continue;
        }
        part[k] = v;
        let id: number | undefined;
        if (typeof v === "string") {
          id = stringIds.get(v);
          if (id === undefined) stringIds.set(v, id = stringIds.size);
        }
        key += typeof v === "object" && v !== null
          ? `${f}#${idOf(v).toString(36)};`
          : id !== undefined
          ? `${f}$${id.toString(36)};`
          : `${f}=${JSON.stringify(v)};`;
      }
      let s = ids.get(key);
      if (s === undefined) {
        s = parts.length;
        parts.push(part);
        ids.set(key, s);
      }
      return [s, own];
    },
    decode(stored: unknown): V {
      const [s, own] = stored as [number, Record<string, unknown>];
      return { ...parts[s], ...own } as V;
    },
  };
}
