/**
 * The boolean expressions of third-party pixel rule files (CTP signatures, deid filters) and how
 * they become the `when` of `deidentify.pixels` rules: expanded into alternatives (an OR of ANDs),
 * each alternative merged into one condition per attribute. What has no exact dcmtidy condition
 * (NOT, comparisons, unknown functions) is reported with a reason, never guessed.
 *
 * @module
 */
import { lookupKeyword, lookupTag, parseTag, tagForKeyword } from "../standard/dictionary.ts";

/** A test on one attribute, before it is written as a `when` condition. */
export type Test =
  | { readonly kind: "equals"; readonly value: string }
  | { readonly kind: "contains"; readonly text: string }
  | { readonly kind: "matches"; readonly re: string }
  | { readonly kind: "present"; readonly value: boolean };

/** A parsed expression; `fail` is a test that cannot be expressed, with the reason. */
export type Expr =
  | { readonly op: "and" | "or"; readonly args: readonly Expr[] }
  | { readonly op: "not"; readonly arg: Expr }
  | { readonly op: "atom"; readonly key: string; readonly test: Test }
  | { readonly op: "fail"; readonly reason: string };

/** A condition as the protocol writes it. */
export type Condition =
  | string
  | number
  | (string | number)[]
  | { contains: string }
  | { matches: string }
  | { present: boolean };

/** The `when` of one rule: attribute keyword (or `(gggg,eeee)`) to condition. */
export type When = Record<string, Condition>;

/** At most this many rules from one OR; more is reported as not imported. */
const MAX_ALTERNATIVES = 12;

const INTEGER_VRS = new Set(["US", "SS", "UL", "SL", "IS", "UV", "SV"]);

/** Escape text for a regular expression. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * The key a rule uses for an element written as a keyword or a tag number (`0008,0070`,
 * `(0008,0070)`, `0x00080070`): the keyword when the dictionary names exactly that tag, else
 * `(gggg,eeee)`; undefined when it is neither.
 */
export function elementKey(written: string): string | undefined {
  const w = written.trim();
  if (/^[A-Za-z][A-Za-z0-9]*$/.test(w)) return lookupKeyword(w) ? w : undefined;
  const hex = /^0x([0-9A-Fa-f]{8})$/.exec(w);
  const tag = hex ? parseInt(hex[1], 16) >>> 0 : parseTag(w.replace(/^\[(.*)\]$/, "($1)"));
  if (tag === undefined) return undefined;
  const entry = lookupTag(tag);
  if (entry && tagForKeyword(entry.keyword) === tag) return entry.keyword;
  const h = tag.toString(16).toUpperCase().padStart(8, "0");
  return `(${h.slice(0, 4)},${h.slice(4)})`;
}

/** Why a rule cannot test this key (file meta information, pixel data), or undefined when it can. */
export function untestable(key: string): string | undefined {
  const tag = parseTag(key) ?? tagForKeyword(key);
  if (tag === undefined) return undefined;
  if (tag >>> 16 === 0x0002) return `${key} is file meta information; rules look at the data set`;
  if (tag >>> 16 === 0x7fe0) return `${key} is pixel data; rules look at header values`;
  return undefined;
}

/** Whether values of the element are whole numbers (Rows, Columns, ...): equality is then numeric. */
function isInteger(key: string): boolean {
  const entry = lookupKeyword(key);
  return entry !== undefined && entry.vrs.length > 0 && entry.vrs.every((v) => INTEGER_VRS.has(v));
}

/** The test as a regular expression searched in the value (case-insensitive), for merging. */
function asRegExp(t: Test): string | undefined {
  if (t.kind === "equals") return `^\\s*${escapeRegExp(t.value.trim())}\\s*$`;
  if (t.kind === "contains") return escapeRegExp(t.text);
  if (t.kind === "matches") return t.re;
  return undefined;
}

function sameTest(a: Test, b: Test): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Several tests on one attribute that must all hold, as one test; a string is the reason it cannot be. */
function mergeAnd(key: string, tests: Test[]): Test | string {
  const unique = tests.filter((t, i) => tests.findIndex((u) => sameTest(t, u)) === i);
  const valued = unique.filter((t) => t.kind !== "present");
  if (unique.some((t) => t.kind === "present" && !t.value)) {
    if (unique.length === 1) return unique[0];
    return `${key} must be both missing and present`;
  }
  if (valued.length === 0) return unique[0];
  if (valued.length === 1) return valued[0];
  // A contains implied by another test's text is dropped (GE and GE MEDICAL: GE MEDICAL).
  const kept = valued.filter((t) =>
    !(t.kind === "contains" && valued.some((u) =>
      u !== t && (u.kind === "contains" || u.kind === "equals") &&
      (u.kind === "contains" ? u.text : u.value).toLowerCase().includes(t.text.toLowerCase())
    ))
  );
  const equals = kept.filter((t) => t.kind === "equals");
  if (equals.length > 1) return `${key} must equal two different values`;
  if (kept.length === 1) return kept[0];
  return { kind: "matches", re: "^" + kept.map((t) => `(?=[\\s\\S]*?(?:${asRegExp(t)}))`).join("") };
}

function toCondition(key: string, t: Test): Condition {
  switch (t.kind) {
    case "equals":
      return isInteger(key) && /^[+-]?\d+$/.test(t.value.trim()) ? Number(t.value.trim()) : t.value.trim();
    case "contains":
      return { contains: t.text };
    case "matches":
      return { matches: t.re };
    case "present":
      return { present: t.value };
  }
}

/** The expression as alternatives of atoms (OR of ANDs), or the reason it cannot be. */
function alternatives(e: Expr): { key: string; test: Test }[][] | string {
  switch (e.op) {
    case "fail":
      return e.reason;
    case "not":
      return "NOT has no dcmtidy condition (a rule says what an image is, never what it is not)";
    case "atom":
      return [[{ key: e.key, test: e.test }]];
    case "or": {
      const out: { key: string; test: Test }[][] = [];
      for (const a of e.args) {
        const alts = alternatives(a);
        if (typeof alts === "string") return alts;
        out.push(...alts);
      }
      return out;
    }
    case "and": {
      let out: { key: string; test: Test }[][] = [[]];
      for (const a of e.args) {
        const alts = alternatives(a);
        if (typeof alts === "string") return alts;
        out = out.flatMap((left) => alts.map((right) => [...left, ...right]));
        if (out.length > MAX_ALTERNATIVES) return `more than ${MAX_ALTERNATIVES} alternatives (OR)`;
      }
      return out;
    }
  }
}

/** One alternative as per-attribute tests, in first-seen order. */
function mergeAlternative(atoms: { key: string; test: Test }[]): Map<string, Test> | string {
  const byKey = new Map<string, Test[]>();
  for (const a of atoms) byKey.set(a.key, [...(byKey.get(a.key) ?? []), a.test]);
  const out = new Map<string, Test>();
  for (const [key, tests] of byKey) {
    const t = mergeAnd(key, tests);
    if (typeof t === "string") return t;
    out.set(key, t);
  }
  return out;
}

/** Alternatives that differ in one attribute only become one rule: a list of values, or one regex. */
function collapse(alts: Map<string, Test>[]): When | undefined {
  const keys = [...alts[0].keys()];
  if (alts.some((a) => a.size !== keys.length || keys.some((k) => !a.has(k)))) return undefined;
  const differing = keys.filter((k) => alts.some((a) => !sameTest(a.get(k)!, alts[0].get(k)!)));
  if (differing.length !== 1) return undefined;
  const key = differing[0];
  const tests = alts.map((a) => a.get(key)!);
  const when: When = {};
  for (const k of keys) {
    if (k !== key) {
      when[k] = toCondition(k, alts[0].get(k)!);
      continue;
    }
    if (tests.every((t) => t.kind === "equals")) {
      const values = tests.map((t) => toCondition(k, t) as string | number);
      when[k] = values.filter((v, i) => values.indexOf(v) === i);
    } else {
      const res = tests.map(asRegExp);
      if (res.some((r) => r === undefined)) return undefined;
      when[k] = { matches: res.map((r) => `(?:${r})`).join("|") };
    }
  }
  return when;
}

/** The `when` of each rule an expression becomes, or the reason it cannot be imported. */
export function toWhens(e: Expr): When[] | string {
  const alts = alternatives(e);
  if (typeof alts === "string") return alts;
  if (alts.length > MAX_ALTERNATIVES) return `more than ${MAX_ALTERNATIVES} alternatives (OR)`;
  const merged: Map<string, Test>[] = [];
  for (const a of alts) {
    const m = mergeAlternative(a);
    if (typeof m === "string") return m;
    if (m.size === 0) return "no condition on any attribute (it would match every image)";
    if (
      !merged.some((x) => x.size === m.size && [...x].every(([k, t]) => m.has(k) && sameTest(t, m.get(k)!)))
    ) {
      merged.push(m);
    }
  }
  if (merged.length > 1) {
    const one = collapse(merged);
    if (one) return [one];
  }
  return merged.map((m) => Object.fromEntries([...m].map(([k, t]) => [k, toCondition(k, t)])));
}

/** One rule or signature of a third-party file, parsed, before it becomes rules. */
export interface SourceEntry {
  /** A name for it when the file gives one (a deid LABEL). */
  readonly label?: string;
  /** 1-based line in the file where it starts. */
  readonly line: number;
  /** Its text as written, for the comment above the rules. */
  readonly text: string;
  readonly expr?: Expr;
  readonly blank?: "all" | [number, number, number, number][];
  readonly keep?: "ultrasound-regions";
  /** Set when it cannot be imported: why. */
  readonly problem?: string;
}

/** A regular expression from another engine, checked to compile here; undefined if it does not. */
export function checkRegExp(re: string): string | undefined {
  try {
    new RegExp(re, "i");
    return re;
  } catch {
    return undefined;
  }
}
