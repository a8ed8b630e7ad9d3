/**
 * Reading the few attributes the NIfTI converter needs, at the top level or inside the functional
 * group sequences of enhanced multi-frame objects, as plain numbers and strings.
 */
import type { DataSet, Element } from "../dicom/model.ts";
import { decodeNumbers, decodeStrings } from "../dicom/values.ts";
import { tags } from "../standard/tags.ts";

/** The element with `tag` directly in `ds`, if any. */
export function elementOf(ds: DataSet, tag: number): Element | undefined {
  return ds.elements.find((e) => e.tag === tag);
}

/** The text values of an element (empty when absent or empty). */
export function strings(ds: DataSet, tag: number): string[] {
  const el = elementOf(ds, tag);
  return el && !el.items ? decodeStrings(el, ds) : [];
}

/** The first text value, undefined when absent or empty. */
export function string(ds: DataSet, tag: number): string | undefined {
  const v = strings(ds, tag)[0];
  return v === undefined || v === "" ? undefined : v;
}

/**
 * The numbers of an element: binary VRs decoded, DS and IS parsed. Returns [] when absent, empty,
 * or when any value is not a finite number (a half-readable value is no value).
 */
export function numbers(ds: DataSet, tag: number): number[] {
  const el = elementOf(ds, tag);
  if (!el || el.items) return [];
  if (el.vr === "DS" || el.vr === "IS") {
    const parts = decodeStrings(el, ds);
    if (parts.length === 0 || (parts.length === 1 && parts[0] === "")) return [];
    const out = parts.map((p) => (p === "" ? NaN : Number(p)));
    return out.every(Number.isFinite) ? out : [];
  }
  const raw = decodeNumbers(el, ds);
  const out = (raw as (number | bigint)[]).map((n) => Number(n));
  return out.every(Number.isFinite) ? out : [];
}

/** The first number, or undefined. */
export function number(ds: DataSet, tag: number): number | undefined {
  return numbers(ds, tag)[0];
}

/** The data sets of a sequence's items ([] when absent or not a sequence). */
export function items(ds: DataSet, tag: number): DataSet[] {
  return elementOf(ds, tag)?.items?.map((i) => i.dataset) ?? [];
}

/** The first item of a sequence. */
export function firstItem(ds: DataSet, tag: number): DataSet | undefined {
  return items(ds, tag)[0];
}

/**
 * Look an attribute up the way an enhanced object defines it: in the frame's own functional
 * groups, then in the shared ones (each holds macros, i.e. one-item sequences, that hold the
 * attribute), then at the top level.
 */
export function frameValue<T>(
  top: DataSet,
  frame: DataSet | undefined,
  macro: number,
  get: (ds: DataSet) => T | undefined,
): T | undefined {
  const sources: DataSet[] = [];
  if (frame) sources.push(...items(frame, macro));
  const shared = firstItem(top, tags.SharedFunctionalGroupsSequence);
  if (shared) sources.push(...items(shared, macro));
  for (const s of sources) {
    const v = get(s);
    if (v !== undefined) return v;
  }
  return get(top);
}
