/**
 * The PHI of a source file and where it turns up in an output. The values de-identification
 * changed or removed (names, IDs, dates, UIDs) are what must not survive; they are looked for in
 * every element value of the output and in its raw bytes.
 */
import { lookupTag } from "../standard/dictionary.ts";
import { DEFAULT_WHOLE_FILE_LIMIT, readAt } from "../dicom/io.ts";
import {
  BULK_TAGS,
  type DataSet,
  type DicomFile,
  type Element,
  isPrivateCreator,
  isPrivateTag,
} from "../dicom/model.ts";
import { decodeStrings, valueBytes } from "../dicom/values.ts";
import { isStringVR } from "../dicom/vr.ts";
import { formatTag } from "../standard/dictionary.ts";
import { diffFlat, type FlatElement, flattenDataSet } from "../deid/diff.ts";

/** A flattened element with the strings it holds. */
export interface TextElement extends FlatElement {
  /** String values; for UN, the values of its dictionary VR, or its text when a private value reads as text. */
  readonly strings: readonly string[];
  /** The VR its strings are judged by: the dictionary's for UN, "LO" for private UN text. */
  readonly textVR: string;
}

const latin1 = new TextDecoder("latin1");
const utf8 = new TextEncoder();
const PRINTABLE = /^[\x20-\x7e\xa0-\xff\r\n\t]*$/;

/** Elements in the order `flattenDataSet` lists them (depth first, items after their sequence). */
function* inOrder(ds: DataSet): Generator<{ el: Element; ds: DataSet }> {
  for (const el of ds.elements) {
    yield { el, ds };
    for (const item of el.items ?? []) yield* inOrder(item.dataset);
  }
}

function stringsOf(flat: FlatElement, el: Element, ds: DataSet): { strings: string[]; textVR: string } {
  if (flat.values) return { strings: flat.values.filter((v) => v !== ""), textVR: el.vr };
  if (el.vr !== "UN" || el.items || el.external) return { strings: [], textVR: el.vr };
  // UN: implicit-VR private values, or values written with an unknown VR.
  const dictVR = lookupTag(el.tag)?.vrs[0];
  if (dictVR && dictVR !== "UN" && isStringVR(dictVR)) {
    try {
      return { strings: decodeStrings({ ...el, vr: dictVR }, ds).filter((v) => v !== ""), textVR: dictVR };
    } catch {
      return { strings: [], textVR: el.vr };
    }
  }
  const bytes = valueBytes(el);
  if (!bytes || !isPrivateTag(el.tag)) return { strings: [], textVR: el.vr };
  const text = latin1.decode(bytes).replace(/[\0 ]+$/, "");
  if (!PRINTABLE.test(text)) return { strings: [], textVR: el.vr };
  return { strings: text.split("\\").map((s) => s.trim()).filter((s) => s !== ""), textVR: "LO" };
}

function withStrings(ds: DataSet, prefix: string): TextElement[] {
  const flat = flattenDataSet(ds, prefix);
  const els = [...inOrder(ds)];
  if (els.length !== flat.length) throw new Error("internal: flattenDataSet and inOrder disagree");
  return flat.map((f, i) => ({ ...f, ...stringsOf(f, els[i].el, els[i].ds) }));
}

/**
 * A file flattened with the strings of every element: the file meta group (paths `meta:Keyword`)
 * and the data set. `meta` replaces the file's own group (the one the writer will build).
 */
export function flattenFile(file: DicomFile, meta: DataSet | undefined = file.meta): TextElement[] {
  return [...(meta ? withStrings(meta, "meta:") : []), ...withStrings(file.dataset, "")];
}

/** A value of the source that must not occur in its output. */
export interface PhiValue {
  readonly value: string;
  /** For masking: "PN" for names and their parts. */
  readonly vr: string;
  /** Path of the source element it comes from. */
  readonly source: string;
}

const TEXT_VRS = new Set(["LO", "SH", "LT", "ST", "UT", "UC"]);
const IDENTIFYING_KEYWORD = /ID|Number|Name|Address|[Pp]hone/;

/** ImplementationClassUID and ImplementationVersionName: the writing software, replaced by ours. */
const SOFTWARE_IDENTITY = new Set([0x00020012, 0x00020013]);

function isPhiElement(e: TextElement): boolean {
  if (SOFTWARE_IDENTITY.has(e.tag) || isPrivateCreator(e.tag)) return false; // software and vendors, not people
  if (["PN", "DA", "DT", "UI"].includes(e.textVR)) return true;
  if (!TEXT_VRS.has(e.textVR)) return false;
  return isPrivateTag(e.tag) || IDENTIFYING_KEYWORD.test(lookupTag(e.tag)?.keyword ?? "");
}

/**
 * The values one element contributes: whole values of 4+ bytes (UTF-8), each name group and name
 * part of 3+ bytes (an ideographic name part is one or two characters), the date of a date-time.
 */
function valuesOf(e: TextElement): PhiValue[] {
  const out: PhiValue[] = [];
  const add = (value: string, vr: string, min = 4) => {
    const v = value.trim();
    if (utf8.encode(v).length >= min) out.push({ value: v, vr, source: e.path });
  };
  for (const s of e.strings) {
    if (e.textVR === "PN") {
      add(s.replace(/[\^=\s]+$/, ""), "PN");
      for (const group of s.split("=")) {
        add(group.replace(/[\^\s]+$/, ""), "PN");
        for (const part of group.split("^")) add(part, "PN", 3);
      }
    } else if (e.textVR === "DA") {
      for (const d of s.split("-")) add(d, "DA"); // a range: both ends
    } else if (e.textVR === "DT") {
      add(s, "DT");
      if (/^\d{8}/.test(s)) add(s.slice(0, 8), "DA");
    } else {
      add(s, e.textVR);
    }
  }
  return out;
}

/**
 * The PHI of a source: values of PN, DA, DT and UI elements, and of text elements that are private
 * or whose keyword says ID, Number, Name, Address or Phone, that de-identification (`before` to
 * `after`) changed or removed, at any depth, including inside sequences removed whole. Values the
 * de-identified data set still holds anywhere (a date the profile keeps elsewhere) are left out, and
 * so are values of elements a hook handles (`hooked`: hooks run only in the run's workers).
 */
export function phiValues(
  before: readonly TextElement[],
  after: readonly TextElement[],
  hooked: (e: TextElement) => boolean = () => false,
): PhiValue[] {
  const indexOf = new Map(before.map((e, i) => [e.path, i]));
  const touched: TextElement[] = [];
  for (const c of diffFlat(before, after)) {
    if (c.before === undefined) continue; // added by de-identification
    const i = indexOf.get(c.path);
    if (i === undefined) continue;
    touched.push(before[i]);
    if (c.after === undefined) {
      // A sequence removed whole: diffFlat lists only the sequence; everything inside it (listed
      // right after it) went too.
      for (let j = i + 1; j < before.length && before[j].path.startsWith(`${c.path}[`); j++) {
        touched.push(before[j]);
      }
    }
  }
  const hookedValues = new Set<string>();
  for (const e of before) {
    if (!hooked(e)) continue;
    for (const v of valuesOf(e)) hookedValues.add(v.value.toLowerCase());
    for (const s of e.strings) hookedValues.add(s.trim().toLowerCase());
  }
  // Values the de-identified data set keeps are not looked for: in a standard element, whatever the
  // source; in a private element, only values that came from private elements. A name, ID, date or
  // UID of a standard element turning up in a kept private value is a leak, not a kept value.
  // Names count as kept only as whole values: a name inside kept text ("DOE window") is a leak, not
  // a value the profile chose to keep. Other values are kept when kept text contains them (a model
  // name in a removed private element and in ManufacturerModelName "Discovery MR750").
  const text = (elements: readonly TextElement[]) =>
    elements.map((e) => e.strings.join("\\")).join("\n").toLowerCase();
  const wholeValues = (elements: readonly TextElement[]) =>
    new Set(elements.flatMap((e) => valuesOf(e).map((v) => v.value.toLowerCase())));
  // DeidentificationMethod is written from the protocol's name: a patient named like the protocol
  // is no leak there.
  const toolText = text(after.filter((e) => e.path === "DeidentificationMethod"));
  const keptIn = (elements: readonly TextElement[]) => {
    const whole = wholeValues(elements);
    const all = text(elements);
    return (v: PhiValue, key: string) =>
      v.vr === "PN" ? whole.has(key) || toolText.includes(key) : all.includes(key);
  };
  const keptStandard = keptIn(after.filter((e) => !isPrivateTag(e.tag)));
  const keptPrivate = keptIn(after.filter((e) => isPrivateTag(e.tag)));
  const seen = new Set<string>();
  const out: PhiValue[] = [];
  for (const e of touched) {
    if (!isPhiElement(e) || hooked(e)) continue;
    for (const v of valuesOf(e)) {
      const key = v.value.toLowerCase();
      if (seen.has(key) || hookedValues.has(key) || keptStandard(v, key)) continue;
      if (isPrivateTag(e.tag) && keptPrivate(v, key)) continue;
      seen.add(key);
      out.push(v);
    }
  }
  return out;
}

/** Where a PHI value was found among an output's element values. */
export interface ElementHit {
  readonly phi: PhiValue;
  /** Paths of the elements holding it (case-insensitive match). */
  readonly paths: string[];
}

/** The PHI values that occur in any element value (as a substring, ignoring case). */
export function findInElements(phi: readonly PhiValue[], elements: readonly TextElement[]): ElementHit[] {
  const texts = elements.filter((e) => e.strings.length > 0)
    .map((e) => ({ path: e.path, text: e.strings.join("\\").toLowerCase() }));
  const hits: ElementHit[] = [];
  for (const p of phi) {
    const key = p.value.toLowerCase();
    const paths = texts.filter((t) => t.text.includes(key)).map((t) => t.path);
    if (paths.length) hits.push({ phi: p, paths });
  }
  return hits;
}

/** Hits without the ones another hit explains: a surname inside the whole name, in the same elements. */
export function withoutParts(hits: readonly ElementHit[]): ElementHit[] {
  return hits.filter((h) =>
    !hits.some((o) =>
      o !== h && o.phi.value.length > h.phi.value.length &&
      o.phi.value.toLowerCase().includes(h.phi.value.toLowerCase()) &&
      h.paths.every((p) => o.paths.includes(p))
    )
  );
}

/** Where a PHI value was found in an output's bytes. */
export interface ByteHit {
  readonly phi: PhiValue;
  /** Offset in the file, or in the inflated data set of a deflated file. */
  readonly offset: number;
  /** Preamble, file meta group, the element it lies in, or "inflated data set at ...". */
  readonly where: string;
}

const CHUNK = 1024 * 1024;

/** Each value as the lower-cased "latin1" strings its UTF-8 and Latin-1 encodings decode to. */
function needles(phi: readonly PhiValue[]): { phi: PhiValue; text: string[] }[] {
  return phi.map((p) => {
    const forms = new Set([latin1.decode(utf8.encode(p.value)).toLowerCase()]);
    if ([...p.value].every((c) => c.charCodeAt(0) <= 0xff)) {
      forms.add(latin1.decode(Uint8Array.from(p.value, (c) => c.charCodeAt(0))).toLowerCase());
    }
    return { phi: p, text: [...forms] };
  });
}

/** Describe a data set offset: the innermost element whose bytes hold it. */
function elementAt(ds: DataSet, offset: number, prefix = ""): string | undefined {
  for (const el of ds.elements) {
    const s = el.span;
    if (!s || offset < s.start || offset >= s.end) continue;
    const name = `${prefix}${
      isPrivateTag(el.tag) ? formatTag(el.tag) : lookupTag(el.tag)?.keyword ?? formatTag(el.tag)
    }`;
    for (const [i, item] of (el.items ?? []).entries()) {
      const inner = elementAt(item.dataset, offset, `${name}[${i}].`);
      if (inner) return inner;
    }
    return name;
  }
  return undefined;
}

/** Search a buffer (already in memory) for the needles not found yet. */
function searchBuffer(
  bytes: Uint8Array,
  base: number,
  todo: { phi: PhiValue; text: string[] }[],
  found: Map<PhiValue, number>,
): void {
  const hay = latin1.decode(bytes).toLowerCase(); // one char per byte, so indexes are offsets
  for (const n of todo) {
    if (found.has(n.phi)) continue;
    for (const t of n.text) {
      const i = hay.indexOf(t);
      if (i >= 0) {
        found.set(n.phi, base + i);
        break;
      }
    }
  }
}

/**
 * Look for PHI values in an output's raw bytes (ignoring ASCII and Latin-1 case): the preamble,
 * the file meta group and every element, in UTF-8 and Latin-1. Top-level Pixel Data is skipped:
 * it holds image samples, where a short name matches by chance; burned-in text is a matter for
 * `burned_in`. A deflated data set is searched inflated. Files are read in chunks that overlap.
 */
export async function findInBytes(
  path: string,
  file: DicomFile,
  phi: readonly PhiValue[],
): Promise<ByteHit[]> {
  if (phi.length === 0) return [];
  const todo = needles(phi);
  const longest = Math.max(...todo.flatMap((n) => n.text.map((t) => t.length)));
  const found = new Map<PhiValue, number>();
  const ranges: [number, number][] = [];
  let inflated: Uint8Array | undefined;
  if (file.transferSyntax.deflated) {
    ranges.push([0, file.datasetOffset]);
    inflated = file.dataset.elements.find((e) => e.span)?.span?.src;
  } else {
    const skip = file.dataset.elements.filter((e) => BULK_TAGS.has(e.tag)).map((e): [number, number] =>
      e.external
        ? [e.external.offset, e.external.offset + e.external.length]
        : e.span
        ? [e.span.valueStart, e.span.end]
        : [0, 0]
    ).filter(([a, b]) => b > a).sort((a, b) => a[0] - b[0]);
    let at = 0;
    for (const [a, b] of skip) {
      if (a > at) ranges.push([at, a]);
      at = Math.max(at, b);
    }
    ranges.push([at, file.size]);
  }
  const f = await Deno.open(path, { read: true });
  try {
    for (const [start, end] of ranges) {
      for (let pos = start; pos < end; pos += CHUNK) {
        const n = Math.min(end, pos + CHUNK + longest - 1) - pos;
        searchBuffer(await readAt(f, pos, n), pos, todo, found);
        if (found.size === todo.length) break;
      }
    }
  } finally {
    f.close();
  }
  const fileHits = new Map(found);
  if (inflated) {
    const rest = todo.filter((n) => !found.has(n.phi));
    searchBuffer(inflated, 0, rest, found);
  }
  // Offsets name their element only when every span points into one buffer of the whole file.
  const whole = !file.transferSyntax.deflated && file.size <= DEFAULT_WHOLE_FILE_LIMIT;
  // A surname found inside the whole name, at the same place, is the same finding.
  const within = (p: PhiValue, offset: number) =>
    [...found].some(([o, at]) =>
      o !== p && o.value.length > p.value.length && o.value.toLowerCase().includes(p.value.toLowerCase()) &&
      offset >= at && offset < at + utf8.encode(o.value).length
    );
  return [...found].filter(([p, offset]) => !within(p, offset)).map(([p, offset]) => {
    let where: string;
    if (!fileHits.has(p)) where = `inflated data set, ${elementAt(file.dataset, offset) ?? `byte ${offset}`}`;
    else if (file.preamble && offset < 128) where = "preamble";
    else if (offset < file.datasetOffset) where = "file meta group";
    else where = (whole ? elementAt(file.dataset, offset) : undefined) ?? `byte ${offset}`;
    return { phi: p, offset, where };
  });
}
