/**
 * The PS3.15 action codes applied to one element: X (remove), Z (empty), D (dummy), K (keep, going
 * into a sequence's items), C (clean) and U (new UIDs), and the date policy that kept dates follow.
 * Each returns false when the element is to be removed, true when it stays (changed or not), and
 * counts what it did.
 *
 * @module
 */
import { emptyValue } from "../dicom/edit.ts";
import type { DataSet, Element } from "../dicom/model.ts";
import { decodeStrings } from "../dicom/values.ts";
import { cleanText, removeKnownPHI } from "./clean.ts";
import type { DeidConfig } from "./config.ts";
import { shiftDA, shiftDT, yearOnly } from "./dates.ts";
import { dummyValue } from "./dummy.ts";
import type { Code } from "./precedence.ts";
import { count, elementLength, type FileContext, safeSet } from "./_context.ts";
import { BULK_VRS, DATE_VRS, FREE_TEXT_VRS } from "./_vrs.ts";

/** Apply a (resolved) action code; returns false when the element is to be removed. */
export function applyCode(cx: FileContext, el: Element, ds: DataSet, code: Code): boolean {
  // Dates the profile keeps (K) or modifies (C) follow the date policy; Z and D still apply
  // (a birth date is a patient characteristic, not longitudinal information).
  if (DATE_VRS.has(el.vr) && (code === "K" || code === "C") && !el.items && cx.dates !== undefined) {
    return applyDatePolicy(cx, el, ds, cx.dates);
  }
  switch (code) {
    case "X":
      return false;
    case "Z":
      return empty(cx, el, "Z");
    case "D":
      if (el.items) {
        // Keep the structure (it may be Type 1), but nothing unlisted inside is trusted.
        cx.state.untrusted++;
        try {
          return keep(cx, el, ds);
        } finally {
          cx.state.untrusted--;
        }
      }
      return dummy(cx, el, ds);
    case "K":
      return keep(cx, el, ds);
    case "C":
      return clean(cx, el, ds);
    case "U":
      if (el.items || el.vr !== "UI") return keep(cx, el, ds);
      return remapUIDs(cx, el, ds);
  }
}

/** Free text the table does not list: kept, minus the identifying values known for the file. */
export function scrubUnlisted(cx: FileContext, el: Element, ds: DataSet): boolean {
  if (el.items) return keep(cx, el, ds);
  const values = decodeStrings(el, ds);
  const scrubbed = values.map((v) => removeKnownPHI(v, cx.state.phi));
  if (scrubbed.every((v, i) => v === values[i])) return keep(cx, el, ds);
  safeSet(ds, el, scrubbed);
  count(cx.state, "C");
  return true;
}

/**
 * K: keep, going into a sequence's items; a kept date still follows the date policy, and kept free
 * text is cleaned when the protocol asks for `scrub_free_text`.
 */
export function keep(cx: FileContext, el: Element, ds: DataSet): boolean {
  if (el.items) {
    for (const item of el.items) cx.walk(item.dataset);
    // Items changed inside: the writer recomputes the lengths it must.
  } else if (DATE_VRS.has(el.vr) && cx.dates !== undefined && cx.dates !== "keep") {
    return applyDatePolicy(cx, el, ds, cx.dates);
  } else if (cx.config.scrubFreeText && (FREE_TEXT_VRS.has(el.vr) || el.vr === "AE")) {
    // Only what clean cleans: it hands every other VR back to keep.
    return clean(cx, el, ds);
  }
  count(cx.state, "K");
  return true;
}

/** Z: an empty value, counted under `label`. */
export function empty(cx: FileContext, el: Element, label: string): boolean {
  emptyValue(el);
  count(cx.state, label);
  return true;
}

/** D: a dummy value valid for the VR (binary values keep their size). */
export function dummy(cx: FileContext, el: Element, ds: DataSet): boolean {
  const original = decodeStrings(el, ds)[0] ?? "";
  const value = dummyValue(
    el.tag,
    el.vr,
    () => cx.keys.uid(`dummy\0${original}\0${el.tag}`),
    elementLength(el),
  );
  safeSet(ds, el, value);
  count(cx.state, "D");
  return true;
}

/** C: text without the file's known identifying values; dates follow the date policy; bulk goes. */
export function clean(cx: FileContext, el: Element, ds: DataSet): boolean {
  if (el.items) return keep(cx, el, ds);
  if (DATE_VRS.has(el.vr)) return applyDatePolicy(cx, el, ds, cx.dates ?? "remove");
  // Bulk binary values (overlay and curve data, maker notes, UN) cannot be cleaned by us: they go.
  if (BULK_VRS.has(el.vr)) return false;
  // Numbers, ages, times and UIDs hold no text to clean; names, codes and descriptions may.
  if (!FREE_TEXT_VRS.has(el.vr) && el.vr !== "AE" && el.vr !== "CS") {
    return keep(cx, el, ds);
  }
  const values = decodeStrings(el, ds).map((v) => cleanText(v, cx.state.phi));
  safeSet(ds, el, values.length ? values : "");
  count(cx.state, "C");
  return true;
}

/** U: every UID value replaced by the session's keyed UID (a non-UI element is emptied). */
export function remapUIDs(cx: FileContext, el: Element, ds: DataSet): boolean {
  if (el.items) return keep(cx, el, ds);
  if (el.vr !== "UI") return empty(cx, el, "Z");
  const values = decodeStrings(el, ds);
  if (values.length === 0) return keep(cx, el, ds);
  safeSet(ds, el, values.map((v) => (v ? cx.uid(v, el.tag) : v)));
  count(cx.state, "U");
  return true;
}

/** A DA or DT value kept, emptied, shifted by the file's day offset, or cut to its year. */
export function applyDatePolicy(
  cx: FileContext,
  el: Element,
  ds: DataSet,
  policy: NonNullable<DeidConfig["dates"]>,
): boolean {
  if (policy === "keep") {
    count(cx.state, "K");
    return true;
  }
  if (policy === "remove") return empty(cx, el, "Z");
  const values = decodeStrings(el, ds);
  const out = values.map((v) => {
    if (v === "") return v;
    if (policy === "year-only") return yearOnly(v);
    return el.vr === "DT" ? shiftDT(v, cx.state.dayOffset!) : shiftDA(v, cx.state.dayOffset!);
  });
  // A value that is not a date we can read is not kept: nobody can say what it reveals.
  if (out.some((v) => v === undefined)) return empty(cx, el, "Z");
  safeSet(ds, el, out as string[]);
  count(cx.state, policy === "year-only" ? "year-only" : "shift");
  return true;
}
