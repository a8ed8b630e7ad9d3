/**
 * The C (clean) action for text: remove every identifying value known for this file (names,
 * IDs, accession, birth date in its usual spellings, institution and staff names) and anything
 * that looks like a date or an ID, keeping the rest of the description readable.
 */
import { Memo } from "../util/memo.ts";
import type { DataSet } from "../dicom/model.ts";
import { decodeStrings } from "../dicom/values.ts";
import { tags } from "../standard/tags.ts";

/** Attributes whose values are gathered as "known PHI" of a file before it is cleaned. */
const PHI_SOURCES = new Set<number>([
  tags.PatientName,
  tags.PatientID,
  tags.OtherPatientIDs,
  tags.OtherPatientNames,
  tags.PatientBirthName,
  tags.PatientMotherBirthName,
  tags.PatientBirthDate,
  tags.AccessionNumber,
  tags.InstitutionName,
  tags.InstitutionAddress,
  tags.InstitutionalDepartmentName,
  tags.ReferringPhysicianName,
  tags.PhysiciansOfRecord,
  tags.PerformingPhysicianName,
  tags.NameOfPhysiciansReadingStudy,
  tags.OperatorsName,
  tags.RequestingPhysician,
  tags.PatientAddress,
  tags.PatientTelephoneNumbers,
  tags.StudyID,
  tags.StationName,
]);

/**
 * The identifying strings of a data set, in the forms they may appear in free text: the values of
 * the attributes above at the top level, and every person name at any depth (a content creator,
 * a verifying observer, a name in a request sequence). `forms`: the forms of values met before
 * (a session passes its own; by default none).
 */
export function collectPHI(ds: DataSet, forms: FormsCache = formsCache()): string[] {
  const found = new Set<string>();
  // Every element at any depth, items after their sequence, in order (what `walk` visits; without
  // the place and path it makes for each element, which this needs none of).
  const visit = (owner: DataSet) => {
    for (const el of owner.elements) {
      if (el.items) {
        for (const item of el.items) visit(item.dataset);
        continue;
      }
      if (el.vr !== "PN" && !(owner === ds && PHI_SOURCES.has(el.tag))) continue;
      let values: string[];
      try {
        values = decodeStrings(el, owner);
      } catch {
        continue; // an undecodable name is removed by its own rule; it cannot be searched for here
      }
      for (const v of values) for (const form of formsOf(forms, v, el.vr)) found.add(form);
    }
  };
  visit(ds);
  // Longest first, so "John Doe" goes before "John".
  return [...found].filter((s) => s.length >= 2).sort((a, b) => b.length - a.length);
}

/**
 * The forms of values met so far (see `formsOf`): a session keeps one, so they go with it. Values
 * are identifying, like the session's other tables; it prints and writes none of them.
 */
export type FormsCache = Memo<string, readonly string[]>;

/**
 * A new `FormsCache`: 1,024 values kept for good, the others for a few files (see `Memo`). Kept
 * tables cost a worker memory for the whole run (4,096 values and the keys' 8,192 results: 11 MB
 * more at the peak of a run of 300,000 files); with none, a dump going round 600 patients made each
 * file's forms again (a run of 30,000 files 3 to 18 % slower in two A/B runs).
 */
export function formsCache(): FormsCache {
  return new Memo(1024);
}

/** Values longer than this are not remembered: a name or an ID is short, and an entry's size is its own. */
const FORMS_VALUE_LIMIT = 256;

/**
 * The forms of a value, remembered in `cache`: a study's files repeat the same names, IDs and
 * dates, and working out their forms was most of what gathering them cost. Bounded (see `Memo`).
 */
function formsOf(cache: FormsCache, v: string, vr: string): readonly string[] {
  const key = `${vr}\0${v}`;
  let forms = cache.get(key);
  if (!forms) {
    const found = new Set<string>();
    addForms(found, v, vr);
    forms = [...found];
    if (v.length <= FORMS_VALUE_LIMIT) cache.set(key, forms);
  }
  return forms;
}

/** A value and the other forms it may take in free text (see `collectPHI`). */
function addForms(found: Set<string>, v: string, vr: string): void {
  if (!v) return;
  found.add(v);
  if (vr === "PN") {
    // Each name component on its own ("Doe", "John"), and "John Doe" orders.
    const parts = v.split(/[\^=]/).map((p) => p.trim()).filter((p) => p.length >= 2);
    for (const p of parts) found.add(p);
    if (parts.length >= 2) found.add(`${parts[1]} ${parts[0]}`).add(`${parts[0]} ${parts[1]}`);
    // Words within a component too ("ped: borjan", "Mary Ann"): verify looks for every name part
    // of three letters or more as a whole word, so de-identification removes them from kept text.
    for (const w of v.split(/[\^=\s]+/)) {
      const word = trimToLetterOrDigit(w);
      if (lettersIn(word) >= 3) found.add(word);
    }
  }
  if (vr === "DA") {
    const m = v.match(/^(\d{4})(\d{2})(\d{2})$/);
    if (m) {
      const [, y, mo, d] = m;
      for (
        const f of [
          `${y}-${mo}-${d}`,
          `${d}/${mo}/${y}`,
          `${mo}/${d}/${y}`,
          `${d}.${mo}.${y}`,
          `${d}-${mo}-${y}`,
        ]
      ) {
        found.add(f);
      }
    }
  }
}

const EDGES = /^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu;
const LETTER = /\p{L}/u;

/** An ASCII letter or digit: the ASCII members of `\p{L}` and `\p{N}`. */
function isAsciiAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** `w` without what precedes its first letter or digit and follows its last (Unicode classes). */
function trimToLetterOrDigit(w: string): string {
  let start = 0;
  let end = w.length;
  for (let i = 0; i < w.length; i++) if (w.charCodeAt(i) > 0x7f) return w.replace(EDGES, "");
  while (start < end && !isAsciiAlnum(w.charCodeAt(start))) start++;
  while (end > start && !isAsciiAlnum(w.charCodeAt(end - 1))) end--;
  return w.slice(start, end);
}

/** How many letters (`\p{L}`, by code point) `word` holds. */
function lettersIn(word: string): number {
  let n = 0;
  for (let i = 0; i < word.length; i++) {
    const c = word.charCodeAt(i);
    if (c > 0x7f) return [...word].filter((ch) => LETTER.test(ch)).length;
    if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) n++;
  }
  return n;
}

const DATE_LIKE = /\b(\d{4}[-./]?\d{2}[-./]?\d{2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})\b/g;
const ID_LIKE = /\b[A-Za-z]{0,3}\d{6,}\b/g;

const ASCII = /^[^\u0080-\uffff]*$/; // no code unit above 0x7f

/**
 * A test that tells, without a regular expression, that a value cannot occur in `text` (ignoring
 * case): true only when both are ASCII and the lower-cased text does not contain the value. Most
 * of a file's known values occur in none of its texts, and building a case-insensitive expression
 * for each one against each text was a third of the time de-identification took. Non-ASCII text
 * always goes to the expression, whose Unicode case folding `toLowerCase` does not match (the
 * Kelvin sign matches "k"). The test is made again whenever a value was removed.
 */
function absenceTest(text: string): (value: string) => boolean {
  if (!ASCII.test(text)) return () => false;
  const lower = text.toLowerCase();
  return (value) => ASCII.test(value) && !lower.includes(value.toLowerCase());
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Remove known PHI and date- or ID-like runs from free text; returns the cleaned text, trimmed. */
export function cleanText(text: string, phi: readonly string[]): string {
  let out = text;
  let absent = absenceTest(out);
  for (const p of phi) {
    if (absent(p)) continue;
    const next = out.replace(new RegExp(escape(p), "gi"), " ");
    if (next !== out) absent = absenceTest(out = next); // a space where a value was may join two words
  }
  out = out.replace(DATE_LIKE, " ").replace(ID_LIKE, " ");
  return out.replace(/[ \t]{2,}/g, " ").replace(/\s+([,.;:])/g, "$1").trim();
}

/**
 * Remove the file's known identifying values from text, as whole words only (a StudyID "12" must
 * not cut "T-12000" apart), leaving everything else as it is.
 */
export function removeKnownPHI(text: string, phi: readonly string[]): string {
  let out = text;
  let absent = absenceTest(out);
  for (const p of phi) {
    if (absent(p)) continue;
    const next = out.replace(new RegExp(`(?<![\\p{L}\\p{N}])${escape(p)}(?![\\p{L}\\p{N}])`, "giu"), " ");
    if (next !== out) absent = absenceTest(out = next);
  }
  return out === text ? text : out.replace(/[ \t]{2,}/g, " ").trim();
}
