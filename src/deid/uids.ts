/**
 * UIDs that must never be remapped: everything under the DICOM root 1.2.840.10008 (SOP classes,
 * transfer syntaxes, well-known frames of reference and coding schemes of the UID registry) and
 * the coding-scheme UIDs of PS3.16 Table 8-1 that live outside it. Instance UIDs are never there.
 */
const DICOM_ROOT = "1.2.840.10008.";

/** Coding scheme UIDs from PS3.16 Table 8-1 outside the DICOM root (SNOMED, LOINC, UCUM, RadLex...). */
const CODING_SCHEMES = new Set([
  "2.16.840.1.113883.6.96", // SNOMED CT
  "2.16.840.1.113883.6.1", // LOINC
  "2.16.840.1.113883.6.8", // UCUM
  "2.16.840.1.113883.6.256", // RadLex
  "2.16.840.1.113883.6.3", // ICD-10
  "2.16.840.1.113883.6.103", // ICD-9-CM
  "2.16.840.1.113883.6.90", // ICD-10-CM
  "2.16.840.1.113883.6.12", // CPT-4
  "2.16.840.1.113883.6.24", // MDC
  "2.16.840.1.113883.6.88", // RxNorm
  "2.16.840.1.113883.6.5", // SNOMED RT
  "2.16.840.1.113883.6.6", // SNOMED 2
  "2.16.840.1.113883.6.51", // SNOMED 3
  "2.16.840.1.113883.6.43.1", // ICD-O-3
  "1.2.840.10008.2.16.4", // DCM (also under the root)
]);

const LONGEST_SCHEME = Math.max(...[...CODING_SCHEMES].map((s) => s.length));

/** Whether a UID is a registry or coding-scheme UID that identifies no one and must stay as it is. */
export function isWellKnownUID(uid: string): boolean {
  // Instance UIDs are mostly longer than any scheme's: those skip hashing for the set's lookup.
  return uid.startsWith(DICOM_ROOT) || (uid.length <= LONGEST_SCHEME && CODING_SCHEMES.has(uid));
}
