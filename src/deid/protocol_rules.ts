/**
 * The protocol's per-tag actions applied to an element its rule selects: the codes by name (keep,
 * remove, empty, dummy, uid), `hash`, `C:VALUE`, `{replace}` templates (filled once the walk is
 * done), `{regexp}`, `{shift_date}` and `{fn}` hooks of a TypeScript protocol.
 *
 * @module
 */
import { removeKnownPHI } from "./clean.ts";
import type { DataSet, Element } from "../dicom/model.ts";
import { decodeStrings, type ElementValue } from "../dicom/values.ts";
import type { Action } from "../protocol/schema.ts";
import { lookupTag, tagForKeyword } from "../standard/dictionary.ts";
import { applyDatePolicy, dummy, empty, keep, remapUIDs } from "./code_actions.ts";
import { DeidError } from "./errors.ts";
import { count, type FileContext, type FileState, safeSet } from "./_context.ts";

/**
 * Apply a protocol rule's action; returns false when the element is to be removed. Throws
 * `DeidError` for an action the element cannot take (a value set on a sequence), a regexp that
 * does not compile, or a hook that throws or does not return a string or undefined synchronously.
 */
export function applyRule(cx: FileContext, el: Element, ds: DataSet, action: Action): boolean {
  const set = (v: ElementValue, label: string) => {
    if (el.items) throw new DeidError(`${label} cannot set a sequence`);
    safeSet(ds, el, v);
    count(cx.state, label);
    return true;
  };
  if (typeof action === "string") {
    if (action.startsWith("C:")) return set(action.slice(2), "C:");
    switch (action) {
      case "keep":
      case "K":
        return keep(cx, el, ds);
      case "remove":
      case "X":
        return false;
      case "empty":
      case "Z":
        return empty(cx, el, "Z");
      case "dummy":
      case "D":
        return el.items ? empty(cx, el, "Z") : dummy(cx, el, ds);
      case "uid":
      case "U":
        return remapUIDs(cx, el, ds);
      case "hash":
        return set(decodeStrings(el, ds).map((v) => cx.keys.hashValue(v)), "hash");
    }
    throw new DeidError(`unknown action "${action}"`);
  }
  if ("replace" in action) {
    if (el.items) throw new DeidError("replace cannot set a sequence");
    cx.state.replacements.push({ ds, el, template: action.replace });
    count(cx.state, "replace");
    return true;
  }
  if ("regexp" in action) {
    let re: RegExp;
    try {
      re = new RegExp(action.regexp.find, "g");
    } catch (e) {
      throw new DeidError(`regexp ${JSON.stringify(action.regexp.find)}: ${(e as Error).message}`);
    }
    // The rewritten text then loses the file's known names and IDs, as kept text does: a pattern
    // written for dates does not let a name through.
    const rewrite = (v: string) => removeKnownPHI(v.replace(re, action.regexp.replace), cx.state.phi);
    return set(decodeStrings(el, ds).map(rewrite), "regexp");
  }
  if ("shift_date" in action) {
    return applyDatePolicy(cx, el, ds, cx.dates ?? "remove");
  }
  const hook = cx.config.hooks[action.fn];
  let out: string | undefined;
  try {
    out = hook(decodeStrings(el, ds).join("\\") || undefined, {
      keyword: lookupTag(el.tag)?.keyword ?? "",
      vr: el.vr,
      pseudoId: cx.state.pseudoId,
    });
  } catch (e) {
    throw new DeidError(`hook "${action.fn}" failed: ${(e as Error).message}`);
  }
  if (out !== undefined && typeof out !== "string") {
    // A promise (fetch, async file reads) would settle after the file is written: refused.
    if (out && typeof (out as Promise<unknown>).catch === "function") {
      (out as Promise<unknown>).catch(() => {});
    }
    throw new DeidError(`hook "${action.fn}" must return a string or undefined, synchronously`);
  }
  if (out === undefined) return false;
  return set(out, "fn");
}

/** Fill `{replace}` templates from the de-identified top level, once the walk is done. */
export function applyReplacements(top: DataSet, state: FileState): void {
  for (const r of state.replacements) {
    const text = r.template.replace(/\{([A-Za-z_]+)\}/g, (_: string, k: string) => {
      if (k === "pseudo_id") return state.pseudoId;
      const tag = tagForKeyword(k);
      const el = tag === undefined ? undefined : top.elements.find((e) => e.tag === tag);
      return el && !el.items ? decodeStrings(el, top).join("\\") : "";
    });
    safeSet(r.ds, r.el, text);
  }
}
