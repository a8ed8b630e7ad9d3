/**
 * `deidentify.pixels` checked and resolved to plain data: each `when` key becomes a tag (a keyword
 * or `(gggg,eeee)`), each regular expression is compiled once to prove it valid. The result crosses
 * to the sandboxed workers as data; `deid/pixel_rules.ts` matches it against a file's header.
 *
 * @module
 */
import { PathError } from "../dicom/errors.ts";
import { parseKey } from "../dicom/edit.ts";
import { NUMBER_VRS } from "../dicom/vr.ts";
import { vrOf } from "../standard/dictionary.ts";
import type { PixelRuleData } from "./schema.ts";

/** One condition of a rule, on the original value of one top-level attribute. */
export interface PixelCondition {
  readonly tag: number;
  /** As written (keyword or tag), for messages. */
  readonly key: string;
  readonly test:
    | { readonly equals: readonly (string | number)[] }
    | { readonly contains: string }
    | { readonly matches: string }
    | { readonly present: boolean };
}

/** A resolved pixel rule. */
export interface PixelRule {
  readonly name: string;
  readonly when: readonly PixelCondition[];
  /** Rectangles [x, y, width, height] (negative x/y from the right/bottom), or every pixel. */
  readonly blank: "all" | readonly (readonly [number, number, number, number])[];
  /** The rectangles of SequenceOfUltrasoundRegions are never blanked. */
  readonly keepUltrasoundRegions: boolean;
}

/**
 * Resolve the protocol's pixel rules; each problem is reported through `at` with the path of the
 * value at fault (so the message carries its line and column).
 */
export function pixelRules(
  rules: readonly PixelRuleData[],
  at: (path: (string | number)[], message: string, key?: boolean) => void,
): PixelRule[] {
  const names = new Set<string>();
  return rules.map((r, i) => {
    if (names.has(r.name)) at(["pixels", i, "name"], `a second rule named ${r.name}: names must differ`);
    names.add(r.name);
    const when: PixelCondition[] = [];
    for (const [key, cond] of Object.entries(r.when)) {
      let tag: number;
      try {
        tag = parseKey(key);
      } catch (e) {
        if (!(e instanceof PathError)) throw e;
        at(["pixels", i, "when", key], e.message, true);
        continue;
      }
      if (tag >>> 16 === 0x0002 || tag >>> 16 === 0x7fe0) {
        at(["pixels", i, "when", key], `${key}: a rule looks at data set attributes, not at ${key}`, true);
      }
      const vr = vrOf(tag);
      if (vr === "SQ") {
        at(
          ["pixels", i, "when", key],
          `${key} is a sequence: rules compare the values of top-level attributes`,
          true,
        );
        continue;
      }
      const numeric = NUMBER_VRS[vr] !== undefined || vr === "IS" || vr === "DS";
      const values = typeof cond === "string" || typeof cond === "number"
        ? [cond]
        : Array.isArray(cond)
        ? cond
        : [];
      const notNumber = values.find((v) =>
        typeof v === "string" && (v.trim() === "" || !Number.isFinite(Number(v)))
      );
      if (numeric && notNumber !== undefined) {
        at(["pixels", i, "when", key], `${key} holds numbers: "${notNumber}" can never match`);
      }
      let test: PixelCondition["test"];
      if (typeof cond === "string" || typeof cond === "number") test = { equals: [cond] };
      else if (Array.isArray(cond)) test = { equals: cond };
      else if ("matches" in cond) {
        try {
          new RegExp(cond.matches, "i");
        } catch (e) {
          at(["pixels", i, "when", key, "matches"], `not a regular expression: ${(e as Error).message}`);
        }
        test = cond;
      } else test = cond;
      when.push({ tag, key, test });
    }
    return { name: r.name, when, blank: r.blank, keepUltrasoundRegions: r.keep === "ultrasound-regions" };
  });
}
