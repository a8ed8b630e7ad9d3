/**
 * Which values may identify a person, so terminal output can mask them (unless --show-phi).
 * The test is deliberately broad: anything the PS3.15 basic profile would not keep as it is,
 * every person name, and every private value.
 */
import { ruleForTag } from "../standard/ps3_15.ts";
import { isPrivateCreator } from "./model.ts";

/** Whether a value of this element may identify a person. */
export function isSensitive(tag: number, vr: string): boolean {
  if (vr === "PN") return true;
  if ((tag >>> 16) % 2 === 1) return !isPrivateCreator(tag); // private, and the illegal odd groups 0001-0007
  const rule = ruleForTag(tag);
  return rule !== undefined && rule.basic !== "K";
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
