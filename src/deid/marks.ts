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
import { decodeStrings } from "../dicom/values.ts";
import { allCid7050Codes, cid7050, type CodedConcept } from "../standard/ps3_15.ts";
import { tags } from "../standard/tags.ts";
import type { DeidConfig } from "./config.ts";

function codeItem(ds: DataSet, c: CodedConcept): Item {
  const item: DataSet = { elements: [], encoding: ds.encoding, parent: ds };
  setValue(item, tags.CodeValue, c.codeValue, "SH");
  setValue(item, tags.CodingSchemeDesignator, c.codingSchemeDesignator, "SH");
  setValue(item, tags.CodeMeaning, c.codeMeaning, "LO");
  return { length: UNDEFINED_LENGTH, dataset: item };
}

/**
 * After the pixels of `ds` (a de-identified top level, `addMarks` done) were blanked: Burned In
 * Annotation becomes NO and Clean Pixel Data Option (113101, CID 7050) joins the method codes.
 */
export function markPixelsCleaned(ds: DataSet): void {
  setValue(ds, tags.BurnedInAnnotation, "NO", "CS");
  const clean = allCid7050Codes().find((c) => c.codeValue === "113101")!;
  const seq = ds.elements.find((e) => e.tag === tags.DeidentificationMethodCodeSequence);
  if (!seq?.items) {
    insertElement(ds, {
      tag: tags.DeidentificationMethodCodeSequence,
      vr: "SQ",
      length: UNDEFINED_LENGTH,
      items: [codeItem(ds, clean)],
    });
    return;
  }
  const has = (it: Item) =>
    it.dataset.elements.some((e) => e.tag === tags.CodeValue && decodeStrings(e, it.dataset)[0] === "113101");
  if (seq.items.some(has)) return;
  seq.items.push(codeItem(ds, clean));
  seq.dirty = true;
  ds.modified = true;
}

/** Add the marks to the top level `ds`; `dates` is the date policy that was in force. */
export function addMarks(ds: DataSet, config: DeidConfig, dates: DeidConfig["dates"]): void {
  setValue(ds, tags.PatientIdentityRemoved, "YES", "CS");
  setValue(ds, tags.DeidentificationMethod, [...config.method], "LO");
  const codes = [cid7050("basic"), ...config.options.map((o) => cid7050(o))];
  const items: Item[] = codes.map((c) => codeItem(ds, c));
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
