/**
 * How verify tells a PHI value of the source in an output's text: by tokens, not substrings.
 * Private to src/verify/. Every search (element values, raw bytes, paths, NIfTI headers and
 * sidecars) goes through `needleOf`, so one rule decides what counts as evidence:
 *
 * - **Whole tokens.** A value matches only where it is not part of a longer word or number: the
 *   characters on either side are not letters, marks or digits (Unicode classes, any script), and
 *   a value that starts or ends with a digit does not continue a number or UID through a dot. So a
 *   given name "MARY" is not in "PRIMARY", an ID "2721" is not in a `2.25.` UID or in "427215",
 *   and the UID "1.2.3" is not in "1.2.3.4". Case is ignored (Unicode case folding).
 * - **Names.** A PN value is looked for as its parts in order (and, with two parts, also given name
 *   first), with any separator between them ("Doe^John", "DOE JOHN", "Doe_John", "John Doe"). A part
 *   alone counts only when it is specific enough: 3 or more letters (an initial, "M", or a two-letter
 *   part such as "Li" also reads as an abbreviation: MR, CT, LI), and not a placeholder word.
 * - **Placeholders.** Names such as "Anonymous", "Test", "User1", "Patient", "Phantom", "Unknown" or a
 *   mask ("XXXXXX", "----") identify no one and are everyday words of protocols and descriptions
 *   ("Structured Reporting Test Document"): alone they are not evidence. A multi-part name that holds
 *   one of them still counts as a whole ("Test^S R").
 * - **Scripts without spaces.** Chinese, Japanese and Korean text does not separate words, so a name
 *   in these scripts is looked for without word boundaries; alone, a part needs 2 characters (a
 *   single ideograph is an everyday character, not evidence).
 * - **Dates.** A DA value (YYYYMMDD) is also looked for as YYYY-MM-DD, DD.MM.YYYY, MM/DD/YYYY,
 *   DD/MM/YYYY and YYYY/MM/DD, and as the date of a date-time (followed by its time digits).
 *
 * @module
 */
import type { PhiValue } from "./phi.ts";

/** What to look for, and the rule it follows (said in findings). */
export interface Needle {
  readonly phi: PhiValue;
  /** Global, case-insensitive, Unicode. */
  readonly re: RegExp;
  /** The rule: "whole name", "name part", "date", "UID", "whole number", "whole token", "whole phrase". */
  readonly rule: string;
  /** Lower-case text every match contains (a quick test before the expression). */
  readonly anchor: string;
}

/** A match of a needle in some text. */
export interface TokenHit {
  readonly index: number;
  /** The text matched, as it is written there. */
  readonly text: string;
  /** The rule, with the spelling of a date when it is not YYYYMMDD. */
  readonly rule: string;
}

const WORD = "[\\p{L}\\p{M}\\p{N}]";
const NO_SPACE_SCRIPTS = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
/**
 * Words used for "no one": test data, anonymised exports, role placeholders. Alone (optionally with
 * a number: "User1", "Anonymized4") they are not evidence.
 */
const PLACEHOLDERS = new Set([
  "anon",
  "anonymous",
  "anonymized",
  "anonymised",
  "anonym",
  "test",
  "tests",
  "testing",
  "user",
  "patient",
  "patientname",
  "phantom",
  "unknown",
  "demo",
  "sample",
  "example",
  "none",
  "noname",
  "nobody",
  "name",
  "firstname",
  "lastname",
  "first",
  "last",
  "given",
  "family",
  "subject",
  "volunteer",
  "operator",
  "physician",
  "doctor",
  "admin",
  "default",
]);

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** Lookarounds that make `body` a whole token: no word character, nor a number or UID going on. */
function bounded(body: string, first: string, last: string, openEnd = ""): string {
  const left = `(?<!${WORD})${/\p{N}/u.test(first) ? "(?<!\\p{N}\\.)" : ""}`;
  let right = `(?!${WORD})${/\p{N}/u.test(last) ? "(?!\\.\\p{N})" : ""}`;
  if (openEnd) right = `(?:${right}|${openEnd})`;
  return `${left}(?:${body})${right}`;
}

/** The letters and digits of a part. */
const letters = (s: string) => s.replace(/[^\p{L}\p{M}\p{N}]/gu, "");

/** Whether a name part stands for no one: a placeholder word (and a number), or one character repeated. */
export function isPlaceholder(part: string): boolean {
  const w = letters(part).toLowerCase();
  if (w === "") return true;
  if (/^(.)\1*$/u.test(w) && w.length > 1) return true;
  return PLACEHOLDERS.has(w.replace(/\d+$/, "")) || PLACEHOLDERS.has(w);
}

/**
 * The parts of a name group: its family, given and middle names (not prefix and suffix: "Dr.",
 * "Jr."), split on ^ and spaces, without the punctuation around them ("ped:" is "ped").
 */
export function nameParts(group: string): string[] {
  return group.split("^").slice(0, 3).join(" ").split(/\s+/)
    .map((p) => p.replace(/^[^\p{L}\p{M}\p{N}]+|[^\p{L}\p{M}\p{N}]+$/gu, ""))
    .filter((p) => p !== "");
}

/** Whether a part alone is evidence (see the module's rules). */
export function isSpecificPart(part: string): boolean {
  if (isPlaceholder(part)) return false;
  const n = [...letters(part)].length;
  return NO_SPACE_SCRIPTS.test(part) ? n >= 2 : n >= 3;
}

function text(value: string): string {
  const v = value.trim();
  return v.split(/\s+/).map(escape).join("\\s+");
}

const DATE_FORMS: [string, (y: string, m: string, d: string) => string][] = [
  ["YYYY-MM-DD", (y, m, d) => `${y}-${m}-${d}`],
  ["DD.MM.YYYY", (y, m, d) => `${d}.${m}.${y}`],
  ["MM/DD/YYYY", (y, m, d) => `${m}/${d}/${y}`],
  ["DD/MM/YYYY", (y, m, d) => `${d}/${m}/${y}`],
  ["YYYY/MM/DD", (y, m, d) => `${y}/${m}/${d}`],
];

const needles = new WeakMap<PhiValue, Needle | null>();

/**
 * What to look for for a PHI value, or undefined when the value alone is not evidence (a short or
 * placeholder name part, a name of placeholders only). Made once per value.
 */
export function needleOf(p: PhiValue): Needle | undefined {
  let n = needles.get(p);
  if (n === undefined) needles.set(p, n = makeNeedle(p) ?? null);
  return n ?? undefined;
}

function makeNeedle(p: PhiValue): Needle | undefined {
  const v = p.value.trim();
  if (v === "") return undefined;
  const longest = (words: string[]) =>
    words.reduce((a, b) => (b.length > a.length ? b : a), "").toLowerCase();
  const make = (body: string, rule: string, openEnd = "", anchor = longest(v.split(/\s+/))) => ({
    phi: p,
    re: new RegExp(bounded(body, [...v][0], [...v].at(-1)!, openEnd), "giu"),
    rule,
    anchor,
  });
  if (p.vr === "PN") {
    const parts = nameParts(v);
    const cjk = NO_SPACE_SCRIPTS.test(v);
    if (parts.length === 0) return undefined;
    if (parts.length === 1) {
      if (!isSpecificPart(parts[0])) return undefined;
    } else if (parts.every(isPlaceholder) || [...parts.map(letters).join("")].length < (cjk ? 2 : 4)) {
      return undefined; // initials only ("J^D")
    }
    const sep = cjk ? "[^\\p{L}\\p{M}\\p{N}]*" : "[^\\p{L}\\p{M}\\p{N}]+";
    const orders = parts.length === 2 ? [parts, [parts[1], parts[0]]] : [parts];
    const body = orders.map((o) => o.map(escape).join(sep)).join("|");
    const rule = p.part ? "name part" : parts.length === 1 ? "whole name" : "whole name, part by part";
    const anchor = longest(parts);
    if (cjk) return { phi: p, re: new RegExp(body, "giu"), rule, anchor };
    // A reversed order starts and ends with other characters than the value: bound each order.
    const re = orders.map((o) => bounded(o.map(escape).join(sep), [...o[0]][0], [...o.at(-1)!].at(-1)!))
      .join("|");
    return { phi: p, re: new RegExp(re, "giu"), rule, anchor };
  }
  const date = p.vr === "DA" ? /^(\d{4})(\d{2})(\d{2})$/.exec(v) : null;
  if (date) {
    const [, y, m, d] = date;
    const forms = [v, ...DATE_FORMS.map(([, f]) => f(y, m, d))];
    // The date of a date-time: followed by its time (HHMMSS.FFFFFF&ZZXX).
    const dt = "(?=\\d{2,6}(?:\\.\\d{1,6})?(?:[+-]\\d{4})?(?![\\p{L}\\p{M}\\p{N}]))";
    return make(forms.map(escape).join("|"), "date", dt, y);
  }
  if (p.vr === "UI") return make(escape(v), "UID");
  if (/^[\p{N}\p{P}\p{S}\s]*$/u.test(v) || p.vr === "DT") return make(text(v), "whole number");
  return make(text(v), /^\S+$/.test(v) ? "whole token" : "whole phrase");
}

/**
 * The first match of `n` in `hay` at `from` or after, if any, with the rule (and a date's spelling).
 * The text before `from` is context only (what precedes a token). `lower`: `hay` in lower case,
 * when the caller looks for many needles in one text.
 */
export function findToken(n: Needle, hay: string, from = 0, lower?: string): TokenHit | undefined {
  if (!(lower ?? hay.toLowerCase()).includes(n.anchor)) return undefined;
  n.re.lastIndex = from;
  const m = n.re.exec(hay);
  if (!m) return undefined;
  let rule = n.rule;
  if (rule === "date") {
    const form = DATE_FORMS.find(([, f]) => {
      const [, y, mo, d] = /^(\d{4})(\d{2})(\d{2})$/.exec(n.phi.value.trim())!;
      return f(y, mo, d) === m[0];
    });
    rule = form ? `date, spelled ${form[0]}` : "date";
  }
  return { index: m.index, text: m[0], rule };
}

/** Whether `hay` (`lower`: in lower case) holds `p` by the rules (false when `p` alone is not evidence). */
export function holds(p: PhiValue, hay: string, lower?: string): boolean {
  const n = needleOf(p);
  return n !== undefined && findToken(n, hay, 0, lower) !== undefined;
}
