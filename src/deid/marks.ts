/**
 * The marks PS3.15 asks a de-identified data set to carry: PatientIdentityRemoved (YES),
 * DeidentificationMethod (what was applied, in words), DeidentificationMethodCodeSequence (the CID
 * 7050 codes of the basic profile and each option) and LongitudinalTemporalInformationModified
 * (what happened to the dates).
 *
 * @module
 */
import { insertElement, setValue } from "../dicom/edit.ts";
import { type DataSet, type Item, UNDEFINED_LENGTH } from "../dicom/model.ts";
import { cid7050 } from "../standard/ps3_15.ts";
import { tags } from "../standard/tags.ts";
import type { DeidConfig } from "./config.ts";

/** Add the marks to the top level `ds`; `dates` is the date policy that was in force. */
export function addMarks(ds: DataSet, config: DeidConfig, dates: DeidConfig["dates"]): void {
  setValue(ds, tags.PatientIdentityRemoved, "YES", "CS");
  setValue(ds, tags.DeidentificationMethod, [...config.method], "LO");
  const codes = [cid7050("basic"), ...config.options.map((o) => cid7050(o))];
  const items: Item[] = codes.map((c) => {
    const item: DataSet = { elements: [], encoding: ds.encoding, parent: ds };
    setValue(item, tags.CodeValue, c.codeValue, "SH");
    setValue(item, tags.CodingSchemeDesignator, c.codingSchemeDesignator, "SH");
    setValue(item, tags.CodeMeaning, c.codeMeaning, "LO");
    return { length: UNDEFINED_LENGTH, dataset: item };
  });
  insertElement(ds, {
    tag: tags.DeidentificationMethodCodeSequence,
    vr: "SQ",
    length: UNDEFINED_LENGTH,
    items,
  });
  const ltim = dates === undefined || dates === "remove"
    ? "REMOVED"
    : dates === "keep"
    ? "UNMODIFIED"
    : "MODIFIED";
  setValue(ds, tags.LongitudinalTemporalInformationModified, ltim, "CS");
}
