/** What `verify` reports: one finding per problem, each of a kind. */

/** What kind of problem a finding is. */
export type FindingKind =
  /** files.csv says written, but the output is not there. */
  | "missing"
  /** A file in the output tree that no row of files.csv accounts for. */
  | "unaccounted"
  /** An input file (under the protocol's globs) that files.csv does not list. */
  | "unlisted-input"
  /** The output does not parse as DICOM. */
  | "unreadable"
  /** PatientIdentityRemoved is not YES, or DeidentificationMethod is missing. */
  | "marks"
  /** A PHI value of the source in an element value of the output. */
  | "phi-element"
  /** A PHI value of the source (a name, ID, date or UID) in the output's path. */
  | "phi-path"
  /** A PHI value of the source in the output's raw bytes only (preamble, binary values...). */
  | "phi-bytes"
  /** A ReferencedSOPInstanceUID that does not point at the output of the input it referenced. */
  | "uid-reference"
  /** The outputs of one source study, series or frame of reference do not share one UID (or several share one). */
  | "uid-consistency"
  /** Sort-only: the output is not its input's bytes (nor a link to it). */
  | "not-identical"
  /** The source cannot be read or de-identified again, so the output cannot be checked. */
  | "unverifiable"
  /** A PHI value of a source in the header of a NIfTI volume made from it, or in its JSON sidecar. */
  | "phi-nifti"
  /**
   * `burned_in: blank`: a blanked region is not uniformly black, a pixel outside the regions is not
   * the source's, the marks of clean pixels are missing, or a suspect was written unblanked.
   */
  | "pixels"
  /** `pixels_detect: ocr`: text found in a written image's pixels outside any blanked region (any box counts). */
  | "phi-pixels";

/** One problem. Details never hold PHI unless `showPhi`: values are masked, inputs are `input #N`. */
export interface Finding {
  /** What kind of problem it is (see `FindingKind`). */
  readonly kind: FindingKind;
  /** The output file, relative to the output root. */
  readonly output?: string;
  /** The input's row in files.csv (1 = first row), the N of `input #N`. */
  readonly input?: number;
  /** What was found, masked unless `showPhi`. */
  readonly detail: string;
}
