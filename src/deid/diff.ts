/**
 * What de-identification did to a data set, element by element: the tree flattened to paths
 * (`Seq[0].Keyword`) with each value as text, and the differences between a before and an after.
 * `plan` shows them as a dry-run diff; `verify` uses the before values as the PHI to look for.
 */
import { formatTag, lookupTag } from "../standard/dictionary.ts";
import { privateCreatorOf } from "../dicom/walk.ts";
import { type DataSet, type Element, isPrivateTag } from "../dicom/model.ts";
import { decodeValue } from "../dicom/values.ts";

/** One element of a flattened tree. */
export interface FlatElement {
  /** `Keyword`, `(gggg,eeee)` when unknown or private, with `[i].` for each enclosing item. */
  readonly path: string;
  /** Tag number, (group << 16 | element) >>> 0. */
  readonly tag: number;
  /** The VR as read ("UN" when unknown). */
  readonly vr: string;
  /** The value as text (multiple values joined with `\`); `<N items>` for sequences, `<N bytes>` for bulk. */
  readonly text: string;
  /** The string values one by one (absent for sequences, binary and bulk values). */
  readonly values?: readonly string[];
  /** Private creator of a private element. */
  readonly creator?: string;
}

/** How one element changed. `before` is absent for added elements, `after` for removed ones. */
export interface TagChange {
  /** Where the element is, as in `FlatElement.path`. */
  readonly path: string;
  /** Tag number, (group << 16 | element) >>> 0: what `mayBePHI` and the masks look at. */
  readonly tag: number;
  /** The VR after the change (before it, for a removed element). */
  readonly vr: string;
  /** The value as text before (`FlatElement.text`); absent when the element was added. */
  readonly before?: string;
  /** The value as text after; absent when the element was removed. */
  readonly after?: string;
}

function nameOf(el: Element, ds: DataSet): { name: string; creator?: string } {
  if (isPrivateTag(el.tag)) return { name: formatTag(el.tag), creator: privateCreatorOf(ds, el.tag) };
  return { name: lookupTag(el.tag)?.keyword ?? formatTag(el.tag) };
}

function valueText(el: Element, ds: DataSet): { text: string; values?: string[] } {
  if (el.items) return { text: `<${el.items.length} item${el.items.length === 1 ? "" : "s"}>` };
  if (el.external) return { text: el.external.length < 0 ? "<bulk data>" : `<${el.external.length} bytes>` };
  if (el.encapsulated) {
    return { text: `<encapsulated, ${el.span ? el.span.end - el.span.valueStart : 0} bytes>` };
  }
  let value;
  try {
    value = decodeValue(el, ds);
  } catch {
    return { text: `<${el.value?.length ?? el.length} bytes, not decodable>` };
  }
  if (value === undefined) return { text: "" };
  if (value instanceof Uint8Array) {
    if (value.length === 0) return { text: "" };
    const head = Array.from(value.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
    return { text: `<${value.length} bytes ${head}${value.length > 8 ? "..." : ""}>` };
  }
  if (el.vr === "AT") return { text: (value as number[]).map(formatTag).join("\\") };
  const values = (value as (string | number | bigint)[]).map(String);
  return { text: values.join("\\"), values: typeof value[0] === "string" ? values : undefined };
}

/** Every element at every depth, in tree order, with its path and value as text. */
export function flattenDataSet(ds: DataSet, prefix = ""): FlatElement[] {
  const out: FlatElement[] = [];
  const seen = new Map<string, number>();
  for (const el of ds.elements) {
    const { name, creator } = nameOf(el, ds);
    // A tag twice in one data set (malformed, but read) keeps both, told apart by a count.
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    const path = `${prefix}${name}${n > 1 ? `#${n}` : ""}`;
    out.push({ path, tag: el.tag, vr: el.vr, creator, ...valueText(el, ds) });
    el.items?.forEach((item, i) => out.push(...flattenDataSet(item.dataset, `${path}[${i}].`)));
  }
  return out;
}

/**
 * The changes from `before` to `after` (two flattenings of the same file), in the order of
 * `before` then additions. Inside a sequence that was removed or added whole, only the sequence
 * itself is listed.
 */
export function diffFlat(before: readonly FlatElement[], after: readonly FlatElement[]): TagChange[] {
  const afterByPath = new Map(after.map((e) => [e.path, e]));
  const beforePaths = new Set(before.map((e) => e.path));
  const changes: TagChange[] = [];
  const gone: string[] = [];
  const within = (path: string, roots: string[]) => roots.some((r) => path.startsWith(`${r}[`));
  for (const b of before) {
    if (within(b.path, gone)) continue;
    const a = afterByPath.get(b.path);
    if (!a) {
      changes.push({ path: b.path, tag: b.tag, vr: b.vr, before: b.text });
      if (b.text.endsWith("item>") || b.text.endsWith("items>")) gone.push(b.path);
    } else if (a.text !== b.text || a.vr !== b.vr) {
      changes.push({ path: b.path, tag: b.tag, vr: a.vr, before: b.text, after: a.text });
    }
  }
  const added: string[] = [];
  for (const a of after) {
    if (beforePaths.has(a.path) || within(a.path, added)) continue;
    changes.push({ path: a.path, tag: a.tag, vr: a.vr, after: a.text });
    if (a.text.endsWith("item>") || a.text.endsWith("items>")) added.push(a.path);
  }
  return changes;
}
