/** A de-identified output carries the marks of de-identification, and one SOP Instance UID. */
import { top } from "./_context.ts";
import type { FindingKind } from "./findings.ts";
import type { TextElement } from "./phi.ts";

/**
 * Check an output's flattened elements: PatientIdentityRemoved is YES and DeidentificationMethod
 * is there (`marks`), and the file meta's MediaStorageSOPInstanceUID is its SOPInstanceUID
 * (`uid-reference`).
 */
export function checkMarks(
  actual: readonly TextElement[],
  find: (kind: FindingKind, detail: string) => void,
): void {
  const removed = top(actual, "PatientIdentityRemoved");
  if (removed !== "YES") find("marks", `PatientIdentityRemoved is ${removed ? "not YES" : "missing"}`);
  if (!top(actual, "DeidentificationMethod")) find("marks", "DeidentificationMethod is missing");
  const sopMeta = top(actual, "meta:MediaStorageSOPInstanceUID");
  const sop = top(actual, "SOPInstanceUID");
  if (sopMeta && sop && sopMeta !== sop) {
    find("uid-reference", "MediaStorageSOPInstanceUID of the file meta differs from SOPInstanceUID");
  }
}
