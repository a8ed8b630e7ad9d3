/**
 * Edits at any depth of the data set tree, addressed by paths such as
 * `RequestAttributesSequence[0].RequestedProcedureID` or `(0040,0275)[*].(0040,1001)`. The walk
 * over every element of every item of every sequence is in `walk.ts`.
 */
import {
  formatTag,
  lookupTag,
  parseTag,
  suggestKeywords,
  tagForKeyword,
  vrOf,
} from "../standard/dictionary.ts";
import { PathError } from "./errors.ts";
import { type DataSet, type Element, isPrivateCreator, isPrivateTag } from "./model.ts";
import { type ElementValue, encodeValue } from "./values.ts";

/** One step of a path: a tag, and for a sequence the item(s) to go into. */
export interface PathStep {
  /** The element at this step, from its keyword or `(gggg,eeee)`. */
  readonly tag: number;
  /** An item index, "*" for every item, or undefined on the last step. */
  readonly index?: number | "*";
}

/** Parse one key: a keyword or a `(gggg,eeee)` tag. Unknown keywords get "did you mean" suggestions. */
export function parseKey(key: string): number {
  const asTag = parseTag(key);
  if (asTag !== undefined) return asTag;
  const t = tagForKeyword(key);
  if (t !== undefined) return t;
  const hints = suggestKeywords(key, 3);
  throw new PathError(
    `"${key}" is not a DICOM keyword or tag` +
      (hints.length ? ` (did you mean ${hints.map((h) => `"${h}"`).join(", ")}?)` : ""),
  );
}

/** Parse `Key[i].Key[*].Key` into steps. */
export function parsePath(path: string): PathStep[] {
  const parts = path.match(/\([0-9A-Fa-f]{4}[,-][0-9A-Fa-f]{4}\)(\[[^\]]*\])?|[^.]+/g);
  if (!parts || parts.join(".") !== path) throw new PathError(`cannot parse path "${path}"`);
  return parts.map((part, i) => {
    const m = part.match(/^(.*?)(?:\[(\d+|\*)\])?$/)!;
    const tag = parseKey(m[1]);
    const index = m[2] === undefined ? undefined : m[2] === "*" ? "*" : Number(m[2]);
    if (i < parts.length - 1 && index === undefined) {
      throw new PathError(`"${m[1]}" in "${path}" needs an item index, such as [0] or [*]`);
    }
    return { tag, index };
  });
}

/** Where a path leads: the data set holding the target and the target element if it exists. */
export interface Target {
  /** The data set that holds, or would hold, the target element. */
  readonly dataset: DataSet;
  /** The target's tag: the last step of the path. */
  readonly tag: number;
  /** The element when the data set has it; absent when setting it would insert it. */
  readonly element?: Element;
}

/** Resolve a path to every data set it reaches; missing intermediate sequences or items are an error. */
export function resolvePath(ds: DataSet, path: string | PathStep[]): Target[] {
  const steps = typeof path === "string" ? parsePath(path) : path;
  let sets: DataSet[] = [ds];
  for (const step of steps.slice(0, -1)) {
    const next: DataSet[] = [];
    for (const d of sets) {
      const el = d.elements.find((e) => e.tag === step.tag);
      if (!el?.items) throw new PathError(`${describe(step.tag)} is not a sequence present in the data set`);
      if (step.index === "*") next.push(...el.items.map((it) => it.dataset));
      else if (el.items[step.index!]) next.push(el.items[step.index!].dataset);
      else {throw new PathError(
          `${describe(step.tag)} has ${el.items.length} item(s), no item [${step.index}]`,
        );}
    }
    sets = next;
  }
  const last = steps[steps.length - 1];
  return sets.flatMap((d) => {
    const el = d.elements.find((e) => e.tag === last.tag);
    if (last.index === undefined) return [{ dataset: d, tag: last.tag, element: el }];
    if (!el?.items) throw new PathError(`${describe(last.tag)} is not a sequence present in the data set`);
    const items = last.index === "*" ? el.items : [el.items[last.index]].filter(Boolean);
    return items.map((it) => ({ dataset: it.dataset, tag: last.tag, element: el }));
  });
}

function describe(tag: number): string {
  const entry = lookupTag(tag);
  return entry ? `${entry.keyword} ${formatTag(tag)}` : formatTag(tag);
}

/** Insert an element at its sorted position (or replace the element with the same tag). */
export function insertElement(ds: DataSet, el: Element): void {
  const i = ds.elements.findIndex((e) => e.tag >= el.tag);
  if (i === -1) ds.elements.push(el);
  else if (ds.elements[i].tag === el.tag) ds.elements[i] = el;
  else ds.elements.splice(i, 0, el);
  el.dirty = true;
  ds.modified = true;
}

/** Replace an element's value (encoded for its VR and the data set); creates the element when missing. */
export function setValue(ds: DataSet, tag: number, value: ElementValue, vr?: string): Element {
  const existing = ds.elements.find((e) => e.tag === tag);
  if (existing?.items) {
    throw new PathError(`${describe(tag)} is a sequence; set the elements inside its items`);
  }
  const useVR = vr ?? (existing && existing.vr !== "UN" ? existing.vr : defaultVR(tag));
  const encoded = encodeValue(useVR, value, ds);
  if (existing) {
    existing.vr = useVR;
    existing.value = encoded;
    existing.external = undefined;
    existing.encapsulated = undefined;
    existing.dirty = true;
    return existing;
  }
  const el: Element = { tag, vr: useVR, length: encoded.length, value: encoded };
  insertElement(ds, el);
  return el;
}

function defaultVR(tag: number): string {
  if (isPrivateCreator(tag)) return "LO";
  if (isPrivateTag(tag)) throw new PathError(`give a VR for private element ${formatTag(tag)}`);
  const vr = vrOf(tag);
  if (!vr || vr === "UN") throw new PathError(`${formatTag(tag)} is not in the data dictionary; give a VR`);
  return vr;
}

/** A value of no bytes: nothing can be written into it, so every emptied element shares it. */
const EMPTY = new Uint8Array(0);

/** Make an element's value empty (zero length); a sequence loses its items. */
export function emptyValue(el: Element): void {
  el.value = EMPTY;
  if (el.items) el.items = [];
  el.external = undefined;
  el.encapsulated = undefined;
  el.dirty = true;
}

/** Remove an element from a data set; returns whether it was there. */
export function deleteElement(ds: DataSet, tag: number): boolean {
  const i = ds.elements.findIndex((e) => e.tag === tag);
  if (i === -1) return false;
  ds.elements.splice(i, 1);
  ds.modified = true;
  return true;
}

/** Set the value at a path (every data set it reaches); returns how many elements were set. */
export function setPath(ds: DataSet, path: string, value: ElementValue, vr?: string): number {
  const targets = resolvePath(ds, path);
  for (const t of targets) setValue(t.dataset, t.tag, value, vr);
  return targets.length;
}

/** Delete the element at a path (every data set it reaches); returns how many were removed. */
export function deletePath(ds: DataSet, path: string): number {
  return resolvePath(ds, path).filter((t) => deleteElement(t.dataset, t.tag)).length;
}
