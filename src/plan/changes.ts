/**
 * The dry-run diff: every tag change de-identification makes to one file, with a verdict on each
 * value: may it identify someone (then screens and `plan --json` mask it unless --show-phi)?
 *
 * The verdict errs on the side of masking. A value before de-identification is masked whenever
 * it could be PHI. A value after is shown only when dcmtidy made it (a pseudonym, a `2.25.` UID,
 * a shifted date, an empty or dummy value, a protocol constant, a mark) and it repeats no
 * identifying value of the original; a value the protocol kept or derived from the original
 * (`keep`, `regexp`, cleaned free text, a hook) stays masked.
 */
import type { DeidConfig } from "../deid/config.ts";
import { diffFlat, type FlatElement, flattenDataSet, type TagChange } from "../deid/diff.ts";
import { addedAttributes } from "../standard/ps3_15.ts";
import { parseTag } from "../standard/dictionary.ts";
import type { DicomFile } from "../dicom/model.ts";
import { maskValue, mayBePHI } from "../dicom/phi.ts";
import { tags } from "../standard/tags.ts";
import { selects } from "../protocol/selector.ts";

/** One tag change of the plan's diff. */
export interface PlannedChange extends TagChange {
  /** `before` may identify someone: shown masked unless --show-phi. */
  readonly maskBefore: boolean;
  /** `after` may identify someone (kept or derived from the original): masked unless --show-phi. */
  readonly maskAfter: boolean;
}

/** A file flattened (meta group and data set), for a diff. */
export interface FlatFile {
  readonly meta: readonly FlatElement[];
  readonly dataset: readonly FlatElement[];
}

/** Flatten a file's meta group and data set (call before and after `deidentify`). */
export function flattenFile(file: DicomFile): FlatFile {
  return { meta: file.meta ? flattenDataSet(file.meta) : [], dataset: flattenDataSet(file.dataset) };
}

const BINARY_VRS = new Set(["OB", "OW", "OF", "OD", "OL", "OV", "UN"]);
/** What `dummyValue` (src/deid/dummy.ts) writes. */
const DUMMIES = new Set([
  "ANONYMOUS",
  "ANONYMIZED",
  "19000101",
  "000000",
  "19000101000000",
  "000Y",
  "0",
  "O",
  "UNMODIFIED",
  "urn:dcmtidy:anonymized",
]);
/** The marks the engine adds (PatientIdentityRemoved, DeidentificationMethod...). */
const MARK_TAGS: ReadonlySet<number> = new Set(
  addedAttributes().map((a) => parseTag(a.tag)).filter((t): t is number => t !== undefined),
);
const MARK_SEQUENCE = "DeidentificationMethodCodeSequence[";

const valuesOf = (text: string) => text.split("\\");

/** Whether dcmtidy made this value (rather than kept or derived it from the original). */
function madeByTool(c: TagChange, config: DeidConfig, creator: string | undefined): boolean {
  const after = c.after!;
  if (after === "" || c.vr === "SQ") return true;
  const rule = config.rules.find((r) => selects(r.selector, c.tag, creator));
  if (rule) {
    const a = rule.action;
    if (typeof a === "string") return !["keep", "K"].includes(a);
    return "replace" in a || "shift_date" in a; // regexp and fn derive from the original
  }
  if (MARK_TAGS.has(c.tag) || c.path.startsWith(MARK_SEQUENCE)) return true;
  if (c.tag === tags.PatientID) return config.patientId !== "keep";
  const values = valuesOf(after);
  if (c.vr === "UI") return values.every((v) => v.startsWith("2.25."));
  if ((c.vr === "DA" || c.vr === "DT") && config.dates !== undefined && config.dates !== "keep") return true;
  return values.every((v) => DUMMIES.has(v));
}

/**
 * The changes from `before` to `after` (one file, flattened before and after de-identification),
 * meta group first, each with its mask verdicts.
 */
export function planChanges(before: FlatFile, after: FlatFile, config: DeidConfig): PlannedChange[] {
  const all = [...before.meta, ...before.dataset];
  const creators = new Map(all.filter((e) => e.creator !== undefined).map((e) => [e.path, e.creator]));
  // Any identifying value of the original, to catch it wherever it reappears.
  const original = new Set<string>();
  for (const e of all) {
    if (!mayBePHI(e.tag, e.vr) || e.vr === "SQ") continue;
    for (const v of [e.text, ...valuesOf(e.text)]) if (v.trim().length > 1) original.add(v);
  }
  const changes = [...diffFlat(before.meta, after.meta), ...diffFlat(before.dataset, after.dataset)];
  return changes.map((c) => {
    const phi = mayBePHI(c.tag, c.vr);
    const maskBefore = c.before !== undefined && phi;
    const repeats = c.after !== undefined && c.vr !== "SQ" &&
      [c.after, ...valuesOf(c.after)].some((v) => original.has(v));
    const maskAfter = c.after !== undefined &&
      (repeats || (phi && !madeByTool(c, config, creators.get(c.path))));
    return { ...c, maskBefore, maskAfter };
  });
}

/**
 * A value as shown: itself, or masked (names keep their initials, `D***^J***`; binary values
 * keep their length only; sequences show their item count).
 */
export function showValue(text: string, vr: string, masked: boolean): string {
  if (!masked || vr === "SQ") return text;
  if (BINARY_VRS.has(vr) || /^<\d+ bytes/.test(text)) {
    return text.replace(/^<(\d+) bytes\b.*>$/, "<$1 bytes>");
  }
  return valuesOf(text).map((v) => maskValue(v, vr)).join("\\");
}
