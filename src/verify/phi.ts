/**
 * The PHI of a source file and where it turns up in an output's elements. The values
 * de-identification changed or removed (names, IDs, dates, UIDs: `isIdentifying` of
 * src/dicom/phi.ts) are what must not survive; they are looked for in every element value of the
 * output (here) and in its raw bytes (`_phi_bytes.ts`).
 */
import { diffFlat, type FlatElement, flattenDataSet } from "../deid/diff.ts";
import { type DataSet, type DicomFile, type Element, isPrivateTag } from "../dicom/model.ts";
import { isIdentifying } from "../dicom/phi.ts";
import { decodeStrings, valueBytes } from "../dicom/values.ts";
import { isStringVR } from "../dicom/vr.ts";
import { lookupTag } from "../standard/dictionary.ts";
import { findToken, holds, nameParts, needleOf } from "./_tokens.ts";

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

/**
 * Whether a private binary value holds text: printable Latin-1, mostly ASCII, with a letter or digit.
 * Structure bytes (FE FF DD E0, a sequence delimiter) are printable Latin-1 letters, but not text.
 */
function isText(text: string): boolean {
  if (!PRINTABLE.test(text) || !/[A-Za-z0-9]/.test(text)) return false;
  const ascii = text.replace(/[^\x20-\x7e\r\n\t]/g, "").length;
  return ascii * 2 > text.length;
}

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
  if (!isText(text)) return { strings: [], textVR: el.vr };
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
  /** A part of a name (one of the words of a PN value), not the whole name. */
  readonly part?: boolean;
}

/**
 * The values one element contributes: whole values of 4+ bytes (UTF-8), each name group and each
 * name part (split on ^ and spaces: whether one alone is evidence is `needleOf`'s rule), the date
 * of a date-time.
 */
function valuesOf(e: TextElement): PhiValue[] {
  const out: PhiValue[] = [];
  const add = (value: string, vr: string, min = 4) => {
    const v = value.trim();
    if (utf8.encode(v).length >= min) out.push({ value: v, vr, source: e.path });
  };
  for (const s of e.strings) {
    if (e.textVR === "PN") {
      for (const group of s.split("=")) {
        const g = group.replace(/^[\^\s]+|[\^\s]+$/g, "");
        if (g !== "") out.push({ value: g, vr: "PN", source: e.path });
        const parts = nameParts(g);
        // Every person's name part by part (the patient's, an operator's, a physician's): a staff
        // member named in a kept description identifies the site's people, and de-identification
        // removes name parts from kept text (deid/clean.ts), so a part left is a leak.
        if (parts.length > 1) {
          for (const part of parts) out.push({ value: part, vr: "PN", source: e.path, part: true });
        }
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
 * or whose keyword says ID, Number, Name, Address or Phone (`isIdentifying`, src/dicom/phi.ts),
 * that de-identification (`before` to `after`) changed or removed, at any depth, including inside sequences removed whole. Values the
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
    // Both texts are in lower case already.
    return (v: PhiValue, key: string) =>
      v.vr === "PN" ? whole.has(key) || holds(v, toolText, toolText) : holds(v, all, all);
  };
  const keptStandard = keptIn(after.filter((e) => !isPrivateTag(e.tag)));
  const keptPrivate = keptIn(after.filter((e) => isPrivateTag(e.tag)));
  const seen = new Set<string>();
  const out: PhiValue[] = [];
  for (const e of touched) {
    if (!isIdentifying(e.tag, e.textVR) || hooked(e)) continue;
    for (const v of valuesOf(e)) {
      const key = v.value.toLowerCase();
      if (seen.has(key) || hookedValues.has(key) || !needleOf(v) || keptStandard(v, key)) continue;
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
  /** Paths of the elements holding it (as a token: `_tokens.ts`). */
  readonly paths: string[];
  /** The rule it matched by (at the first path). */
  readonly rule: string;
}

/** The PHI values that occur in any element value as tokens (`_tokens.ts`: whole words, any case). */
export function findInElements(phi: readonly PhiValue[], elements: readonly TextElement[]): ElementHit[] {
  const texts = elements.filter((e) => e.strings.length > 0)
    .map((e) => {
      const text = e.strings.join("\\");
      return { path: e.path, text, lower: text.toLowerCase() };
    });
  const hits: ElementHit[] = [];
  for (const p of phi) {
    const n = needleOf(p);
    if (!n) continue;
    let rule = "";
    const paths = texts.filter((t) => {
      const hit = findToken(n, t.text, 0, t.lower);
      if (hit && !rule) rule = hit.rule;
      return hit !== undefined;
    }).map((t) => t.path);
    if (paths.length) hits.push({ phi: p, paths, rule });
  }
  return hits;
}

/** Hits without the ones another hit explains: a surname inside the whole name, in the same elements. */
export function withoutParts<T extends { phi: PhiValue; paths: string[] }>(hits: readonly T[]): T[] {
  return hits.filter((h) =>
    !hits.some((o) =>
      o !== h && o.phi.value.length > h.phi.value.length &&
      o.phi.value.toLowerCase().includes(h.phi.value.toLowerCase()) &&
      h.paths.every((p) => o.paths.includes(p))
    )
  );
}
