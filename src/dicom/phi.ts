/**
 * The one "may be PHI" rule: which values of an element may identify a person. It has one
 * broad test and two narrower ones, each the other's callers' exact question, so that the
 * screens, the dry-run diff and `verify` decide from the same facts:
 *
 * - {@link mayBePHI}, the rule itself: a name, a private value, anything the PS3.15 Basic Profile
 *   would not keep as it is, and any value whose VR can hold free text, a date or a UID. The
 *   dry-run diff masks by it.
 * - {@link isSensitive}: the profile's part of it alone (names, private values, what the Basic
 *   Profile would not keep). `dump` masks by it, so a dump still shows the modality, the
 *   manufacturer and the SOP class.
 * - {@link isIdentifying}: the values that name, date or number a person or a study (PN, DA, DT,
 *   UI, and text that is private or whose keyword says ID, Number, Name, Address or Phone): what
 *   `verify` looks for in outputs. Every value it accepts is one `mayBePHI` accepts too.
 *
 * Private creators and the writing software's identity (ImplementationClassUID and
 * ImplementationVersionName) name vendors and software, not people.
 *
 * @module
 */
import { lookupTag } from "../standard/dictionary.ts";
import { ruleForTag } from "../standard/ps3_15.ts";
import { tags } from "../standard/tags.ts";
import { isPrivateCreator, isPrivateTag } from "./model.ts";

/** Values of these VRs say nothing about a person unless the profile says otherwise. */
const PLAIN_VRS: ReadonlySet<string> = new Set([
  "CS",
  "IS",
  "DS",
  "US",
  "SS",
  "UL",
  "SL",
  "FL",
  "FD",
  "SV",
  "UV",
  "AT",
  "SQ",
]);
/** Names, dates and UIDs: identifying whatever their element. */
const IDENTIFYING_VRS: ReadonlySet<string> = new Set(["PN", "DA", "DT", "UI"]);
/** Text that identifies when it is private or its keyword says so. */
const TEXT_VRS: ReadonlySet<string> = new Set(["LO", "SH", "LT", "ST", "UT", "UC"]);
const IDENTIFYING_KEYWORD = /ID|Number|Name|Address|[Pp]hone/;
/** The writing software, replaced by ours on write. */
const SOFTWARE_IDENTITY: ReadonlySet<number> = new Set([
  tags.ImplementationClassUID,
  tags.ImplementationVersionName,
]);

/**
 * Whether a value of this element may be PHI: {@link isSensitive}, or a VR that is not a plain
 * code or number (text, dates, UIDs, binary). The test behind every mask of the dry-run diff.
 */
export function mayBePHI(tag: number, vr: string): boolean {
  return isSensitive(tag, vr) || !PLAIN_VRS.has(vr);
}

/**
 * Whether a value of this element may identify a person by the profile: every person name,
 * every private value (and the illegal odd groups 0001-0007) but a private creator, and anything
 * the PS3.15 Basic Profile would not keep as it is. Terminal output (`dump`) masks by it.
 */
export function isSensitive(tag: number, vr: string): boolean {
  if (vr === "PN") return true;
  if ((tag >>> 16) % 2 === 1) return !isPrivateCreator(tag); // private, and the illegal odd groups 0001-0007
  const rule = ruleForTag(tag);
  return rule !== undefined && rule.basic !== "K";
}

/**
 * Whether a value of this element names, dates or numbers a person or a study, so that finding it
 * again in a de-identified output is a leak: PN, DA, DT and UI values, and LO, SH, LT, ST, UT and
 * UC values that are private or whose keyword says ID, Number, Name, Address or Phone. Never a
 * private creator or the writing software's identity. `vr` is the VR the value is read by (the
 * dictionary's for a UN value). `verify` looks for these values of a source in its output.
 */
export function isIdentifying(tag: number, vr: string): boolean {
  if (SOFTWARE_IDENTITY.has(tag) || isPrivateCreator(tag)) return false; // software and vendors, not people
  if (IDENTIFYING_VRS.has(vr)) return true;
  if (!TEXT_VRS.has(vr)) return false;
  return isPrivateTag(tag) || IDENTIFYING_KEYWORD.test(lookupTag(tag)?.keyword ?? "");
}

/** Mask a value, keeping only its shape: `Doe^John` becomes `D***^J***`. */
export function maskValue(value: string, vr: string): string {
  // Names keep their initials, to tell people apart on screen; anything else keeps nothing
  // (a one-letter value such as PatientSex would otherwise show whole).
  // Only a Latin initial of a longer name: in Korean or Chinese one character is often the whole
  // family name, and a one-letter component would be shown whole.
  const initial = (s: string) => (s.length === 0 ? "" : /^[A-Za-z]./.test(s) ? s[0] + "***" : "***");
  if (vr === "PN") return value.split("=").map((group) => group.split("^").map(initial).join("^")).join("=");
  return value.length === 0 ? "" : "***";
}
