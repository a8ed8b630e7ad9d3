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

/** The report's columns, read from a (written) data set: each element's first value, or "". */
export function reportFields(ds: DataSet): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, tag] of Object.entries(REPORT_FIELDS)) {
    const el = ds.elements.find((e) => e.tag === tag);
    out[name] = el ? (decodeStrings(el, ds)[0] ?? "") : "";
  }
  return out;
}
