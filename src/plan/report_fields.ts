/**
 * The report's columns of one file, read from its (de-identified or sorted) header: what the plan
 * keeps for a sort-only run and what the run records for every written file.
 *
 * @module
 */
import type { DataSet } from "../dicom/model.ts";
import { decodeStrings } from "../dicom/values.ts";
import { tags } from "../standard/tags.ts";

const REPORT_FIELDS: Readonly<Record<string, number>> = {
  PatientID: tags.PatientID,
  StudyDate: tags.StudyDate,
  StudyID: tags.StudyID,
  SeriesNumber: tags.SeriesNumber,
  SeriesDescription: tags.SeriesDescription,
  Modality: tags.Modality,
  StudyInstanceUID: tags.StudyInstanceUID,
  SeriesInstanceUID: tags.SeriesInstanceUID,
};

/** Column by tag, for the one pass over a data set's elements. */
const COLUMN_OF: ReadonlyMap<number, string> = new Map(Object.entries(REPORT_FIELDS).map(([n, t]) => [t, n]));

/** The report's columns, read from a (written) data set: each element's first value, or "". */
export function reportFields(ds: DataSet): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(REPORT_FIELDS)) out[name] = "";
  // One pass over the elements (a file writes tens of thousands of these); the first element of a
  // tag counts, as a lookup by tag would find it.
  const seen = new Set<string>();
  for (const el of ds.elements) {
    const name = COLUMN_OF.get(el.tag);
    if (name === undefined || seen.has(name)) continue;
    seen.add(name);
    out[name] = decodeStrings(el, ds)[0] ?? "";
  }
  return out;
}
