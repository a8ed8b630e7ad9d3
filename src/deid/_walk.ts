/**
 * The walk of one data set: overlay planes dropped whole, then each element decided (`decide`) and
 * treated (code, protocol rule, PatientID policy, unlisted text), the removed ones spliced out, and
 * private creators kept only while their block has elements. Kept sequences walk their items the
 * same way (through `FileContext.walk`). Private to src/deid/.
 */
import { type DataSet, type Element, isPrivateCreator, isPrivateTag } from "../dicom/model.ts";
import { decodeStrings } from "../dicom/values.ts";
import { applyCode, scrubUnlisted } from "./code_actions.ts";
import { decide, type Decision } from "./precedence.ts";
import { applyRule } from "./protocol_rules.ts";
import { replacePatientId } from "./pseudonyms.ts";
import { count, type FileContext } from "./_context.ts";

/** De-identify the elements of `ds` in place (its items through `cx.walk`). */
export function walkDataSet(cx: FileContext, ds: DataSet): void {
  dropOverlayPlanes(cx, ds);
  const creators = creatorMap(ds);
  const keptBlocks = new Set<number>();
  for (let i = 0; i < ds.elements.length; i++) {
    const el = ds.elements[i];
    if (isPrivateCreator(el.tag)) continue; // decided once its block's elements are
    const creator = isPrivateTag(el.tag) ? creators.get(blockKey(el.tag)) : undefined;
    const decision = decide(el, creator, cx.config, cx.state.untrusted > 0);
    const keep = apply(cx, el, ds, decision);
    if (!keep) {
      ds.elements.splice(i--, 1);
      ds.modified = true;
      count(cx.state, "X");
    } else if (isPrivateTag(el.tag)) {
      keptBlocks.add(blockKey(el.tag));
    }
  }
  // A creator stays only while its block has elements (or everything private is kept).
  const keepAll = cx.config.privateTags === "keep";
  const before = ds.elements.length;
  ds.elements = ds.elements.filter((e) =>
    !isPrivateCreator(e.tag) || keepAll || keptBlocks.has(creatorKey(e.tag))
  );
  if (ds.elements.length !== before) ds.modified = true;
}

/** Apply a decision; returns false when the element is to be removed. */
function apply(cx: FileContext, el: Element, ds: DataSet, d: Decision): boolean {
  switch (d.kind) {
    case "patient-id":
      return replacePatientId(cx, el, ds);
    case "protocol":
      return applyRule(cx, el, ds, d.action);
    case "unlisted-text":
      return scrubUnlisted(cx, el, ds);
    case "code":
      return applyCode(cx, el, ds, d.code);
  }
}

/**
 * An overlay plane whose Overlay Data (60xx,3000) goes is removed whole: its other elements
 * (description, label, geometry) alone break the Overlay Plane module and may hold free text.
 */
function dropOverlayPlanes(cx: FileContext, ds: DataSet): void {
  const doomed = new Set<number>();
  for (const el of ds.elements) {
    const g = el.tag >>> 16;
    if ((el.tag & 0xffff) !== 0x3000 || g < 0x6000 || g > 0x601e || g % 2 !== 0) continue;
    const d = decide(el, undefined, cx.config, cx.state.untrusted > 0);
    if (
      (d.kind === "code" && (d.code === "X" || d.code === "C")) || // C: we cannot clean overlay bits
      (d.kind === "protocol" && ["remove", "X"].includes(String(d.action)))
    ) {
      doomed.add(g);
    }
  }
  if (doomed.size === 0) return;
  const before = ds.elements.length;
  ds.elements = ds.elements.filter((e) => !doomed.has(e.tag >>> 16));
  ds.modified = true;
  cx.state.counts["X"] = (cx.state.counts["X"] ?? 0) + before - ds.elements.length;
}

/** (group, block) of a private element. */
function blockKey(tag: number): number {
  return ((tag >>> 16) << 8) | ((tag >>> 8) & 0xff);
}

/** (group, block) a private creator element reserves. */
function creatorKey(tag: number): number {
  return ((tag >>> 16) << 8) | (tag & 0xff);
}

/** Private creators of a data set by (group, block), read once per data set. */
function creatorMap(ds: DataSet): Map<number, string> {
  const map = new Map<number, string>();
  for (const el of ds.elements) {
    if (isPrivateCreator(el.tag)) map.set(creatorKey(el.tag), decodeStrings(el, ds)[0] ?? "");
  }
  return map;
}
