/**
 * What the steps that de-identify one file share: the session's settings and keyed functions
 * (`FileContext`), the file's running state (`FileState`), and the small helpers every step uses.
 * Private to src/deid/.
 */
import { emptyValue, setValue } from "../dicom/edit.ts";
import { DicomError } from "../dicom/errors.ts";
import type { DataSet, Element } from "../dicom/model.ts";
import { decodeStrings, type ElementValue } from "../dicom/values.ts";
import { lookupTag } from "../standard/dictionary.ts";
import type { DeidConfig } from "./config.ts";
import type { Keys } from "./keys.ts";

/** Per-file state while walking. */
export interface FileState {
  readonly pseudoId: string;
  readonly dayOffset?: number;
  readonly phi: readonly string[];
  readonly counts: Record<string, number>;
  readonly warnings: string[];
  /** `{replace}` rules, applied after the walk so their placeholders see de-identified values. */
  readonly replacements: { ds: DataSet; el: Element; template: string }[];
  /** Inside the items of a sequence whose row is D: unlisted free text there is not trusted. */
  untrusted: number;
  /** IssuerOfPatientID of the top level as read, for PatientIDs nested below it. */
  readonly topIssuer: string;
}

/** The session as the steps on one file see it, with that file's state. */
export interface FileContext {
  /** The settings the file is de-identified with. */
  readonly config: DeidConfig;
  /** The salt's keyed functions. */
  readonly keys: Keys;
  /** The date policy in force (see `datePolicy`). */
  readonly dates: DeidConfig["dates"];
  /** The file's running state. */
  readonly state: FileState;
  /**
   * The session's new UID for an original (the same original always maps the same way); `tag`: the
   * element it is the value of, which says whether other files will ask for it too.
   */
  uid(original: string, tag?: number): string;
  /** The session's pseudonym for a patient (issuer + ID), checked for collisions. */
  pseudonymFor(issuer: string, id: string): string;
  /** De-identify a nested data set (the item of a kept sequence) the same way. */
  walk(ds: DataSet): void;
}

/** Count one element under `label` (an action code or a protocol action). */
export function count(state: FileState, label: string): void {
  state.counts[label] = (state.counts[label] ?? 0) + 1;
}

/** The length of an element's value as read (0 for one held elsewhere). */
export function elementLength(el: Element): number {
  if (el.value) return el.value.length;
  if (el.span && !el.external) return el.span.end - el.span.valueStart;
  return 0;
}

/** Set a value; one that cannot be encoded (a character set we cannot write) is emptied instead. */
export function safeSet(ds: DataSet, el: Element, value: ElementValue): void {
  try {
    // A UN element takes the dictionary's VR when there is one; otherwise it cannot hold text.
    setValue(ds, el.tag, value, el.vr === "UN" ? lookupTag(el.tag)?.vrs[0] ?? "UN" : el.vr);
  } catch (e) {
    if (!(e instanceof DicomError)) throw e;
    emptyValue(el);
  }
}

/** The first value of a top-level element of `ds` as a string, or undefined when it is absent. */
export function topValue(ds: DataSet, tag: number): string | undefined {
  const el = ds.elements.find((e) => e.tag === tag);
  return el ? decodeStrings(el, ds)[0] : undefined;
}
