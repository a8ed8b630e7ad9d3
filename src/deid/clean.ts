/**
 * The C (clean) action for text: remove every identifying value known for this file (names,
 * IDs, accession, birth date in its usual spellings, institution and staff names) and anything
 * that looks like a date or an ID, keeping the rest of the description readable.
 */
import { decodeStrings } from "../dicom/values.ts";
import type { DataSet, Element } from "../dicom/model.ts";

/** Attributes whose values are gathered as "known PHI" of a file before it is cleaned. */
const PHI_SOURCES = new Set([
  0x00100010, // PatientName
  0x00100020, // PatientID
  0x00101000, // OtherPatientIDs
  0x00101001, // OtherPatientNames
  0x00101005, // PatientBirthName
  0x00101060, // PatientMotherBirthName
  0x00100030, // PatientBirthDate
  0x00080050, // AccessionNumber
  0x00080080, // InstitutionName
  0x00080081, // InstitutionAddress
  0x00081040, // InstitutionalDepartmentName
  0x00080090, // ReferringPhysicianName
  0x00081048, // PhysiciansOfRecord
  0x00081050, // PerformingPhysicianName
  0x00081060, // NameOfPhysiciansReadingStudy
  0x00081070, // OperatorsName
  0x00321032, // RequestingPhysician
  0x00101040, // PatientAddress
  0x00102154, // PatientTelephoneNumbers
  0x00200010, // StudyID
  0x00081010, // StationName
]);

/** Call `visit` with every element of a data set at any depth and the data set holding it. */
function eachElement(ds: DataSet, visit: (el: Element, owner: DataSet) => void): void {
  for (const el of ds.elements) {
    visit(el, ds);
    if (el.items) { for (const item of el.items) eachElement(item.dataset, visit); }
  }
}

/**
 * The identifying strings of a data set, in the forms they may appear in free text: the values of
 * the attributes above at the top level, and every person name at any depth (a content creator,
 * a verifying observer, a name in a request sequence).
 */
export function collectPHI(ds: DataSet): string[] {
  const found = new Set<string>();
  eachElement(ds, (el, owner) => {
    if (el.vr !== "PN" && !(owner === ds && PHI_SOURCES.has(el.tag))) return;
    if (el.items) return;
    let values: string[];
    try {
      values = decodeStrings(el, owner);
    } catch {
      return; // an undecodable name is removed by its own rule; it cannot be searched for here
    }
    for (const v of values) {
      if (!v) continue;
      found.add(v);
      if (el.vr === "PN") {
        // Each name component on its own ("Doe", "John"), and "John Doe" orders.
        const parts = v.split(/[\^=]/).map((p) => p.trim()).filter((p) => p.length >= 2);
        for (const p of parts) found.add(p);
        if (parts.length >= 2) found.add(`${parts[1]} ${parts[0]}`).add(`${parts[0]} ${parts[1]}`);
      }
      if (el.vr === "DA") {
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
  });
  // Longest first, so "John Doe" goes before "John".
  return [...found].filter((s) => s.length >= 2).sort((a, b) => b.length - a.length);
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
