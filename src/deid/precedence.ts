/**
 * Which treatment an element gets: a pure function of the element, its private creator and the
 * settings. Precedence: the protocol's first per-tag rule that selects the element > the PatientID
 * policy > the private-tag policy (odd groups) > the option columns of PS3.15 Table E.1-1 > its basic
 * column > unlisted standard elements kept (names, instance UIDs and free text get their listed
 * kin's treatment), unknown ones removed. Compound codes (X/Z/D, ...) resolve here too.
 *
 * @module
 */
import { lookupTag } from "../standard/dictionary.ts";
import { isPrivateTag } from "../dicom/model.ts";
import type { TagRule } from "../protocol/protocol.ts";
import type { Action } from "../protocol/schema.ts";
import { selects } from "../protocol/selector.ts";
import {
  type ActionCode,
  effectiveAction,
  isSafePrivate,
  privateRule,
  ruleForTag,
} from "../standard/ps3_15.ts";
import { tags } from "../standard/tags.ts";
import type { DeidConfig } from "./config.ts";
import { FREE_TEXT_VRS } from "./_vrs.ts";

/** A single PS3.15 action code, after compound codes are resolved. */
export type Code = "X" | "Z" | "D" | "K" | "C" | "U";

/** What one element's treatment resolved to. */
export type Decision =
  | { readonly kind: "code"; readonly code: Code }
  | { readonly kind: "protocol"; readonly action: Action; readonly rule: TagRule }
  | { readonly kind: "patient-id" }
  /** Free text the table does not list: kept, minus the identifying values known for the file. */
  | { readonly kind: "unlisted-text" };

/** X/Z sequences that are Type 2 in the modules that hold them (Acquisition Context). */
const TYPE2_SEQUENCES = new Set<number>([tags.AcquisitionContextSequence]);
/** UIDs that name kinds of things (classes, syntaxes, schemes), never an instance: never remapped. */
const NOT_INSTANCE_UID =
  /Class|Syntax|Scheme|Template|ContextGroup|Implementation|Mapping|Registry|Algorithm/;

/**
 * The treatment of one element. `creator` is the private creator of its block (undefined for a
 * standard element, or a private one without a creator); `untrusted` is true inside the items of a
 * sequence whose row is D, where unlisted free text is dummied rather than kept.
 */
export function decide(
  el: { readonly tag: number; readonly vr: string },
  creator: string | undefined,
  config: DeidConfig,
  untrusted: boolean,
): Decision {
  for (const rule of config.rules) {
    if (selects(rule.selector, el.tag, creator)) return { kind: "protocol", action: rule.action, rule };
  }
  if (el.tag === tags.PatientID) return { kind: "patient-id" };
  if (el.tag >>> 16 === 0x0002) return { kind: "code", code: "X" }; // meta elements inside a data set
  if (isPrivateTag(el.tag)) return { kind: "code", code: privateCode(el.tag, creator, config) };
  if ((el.tag & 0xffff) === 0) return { kind: "code", code: "K" }; // group lengths are recomputed
  const rule = ruleForTag(el.tag);
  if (!rule) {
    if (!lookupTag(el.tag)) return { kind: "code", code: "X" }; // a value we do not understand goes
    // The table is not exhaustive (its own notes say so): names and instance UIDs it does not
    // list still identify, so they get the treatment of their listed kin.
    if (el.vr === "PN") return { kind: "code", code: "Z" };
    if (el.vr === "UI" && !NOT_INSTANCE_UID.test(lookupTag(el.tag)!.keyword)) {
      return { kind: "code", code: "U" };
    }
    // Free text the table does not list, inside a sequence the profile dummies: dummy it too.
    // Elsewhere it is kept, but never with a name or ID of this file in it ("DOE window").
    if (FREE_TEXT_VRS.has(el.vr)) {
      return untrusted ? { kind: "code", code: "D" } : { kind: "unlisted-text" };
    }
    return { kind: "code", code: "K" };
  }
  return {
    kind: "code",
    code: resolveCompound(effectiveAction(rule, config.options), el.vr, el.tag, config.compound),
  };
}

/** The private-tag policy for an element of an odd group (`creator`: its block's creator). */
function privateCode(tag: number, creator: string | undefined, config: DeidConfig): "X" | "K" {
  const policy = config.privateTags;
  if (policy === "keep") return "K";
  if (creator === undefined) return "X"; // no creator: nobody can say what it is
  if (policy === "remove") {
    const code = effectiveAction(privateRule(), config.options);
    return code === "X" ? "X" : isSafePrivate(tag >>> 16, tag & 0xff, creator) ? "K" : "X";
  }
  if (policy === "keep-safe") return isSafePrivate(tag >>> 16, tag & 0xff, creator) ? "K" : "X";
  return policy.keep_creators.includes(creator.trim()) ? "K" : "X";
}

/** One code for a compound one (X/Z, Z/D, X/Z/U*, ...), as `compound` asks. */
function resolveCompound(
  code: ActionCode,
  vr: string,
  tag: number,
  compound: DeidConfig["compound"],
): Code {
  if (code.length === 1) return code as Code;
  if (compound === "minimal") return code[0] as "X" | "Z";
  // Conformant: the least destructive code that keeps a required attribute present and valid.
  if (code === "X/Z/U*") return vr === "UI" || vr === "SQ" ? "U" : "Z";
  // X/Z means X for Type 3, Z for Type 2. An emptied Type 3 sequence breaks its IOD (dciodvfy:
  // "0 items, 1-n required"), so sequences go unless they are Type 2 where they occur.
  if (code === "X/Z") return vr === "SQ" && !TYPE2_SEQUENCES.has(tag) ? "X" : "Z";
  return "D"; // Z/D, X/D, X/Z/D
}
