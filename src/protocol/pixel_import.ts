/**
 * Third-party pixel rule files turned into `deidentify.pixels` rules (`dcmtidy init --pixels-from`):
 * RSNA CTP `DicomPixelAnonymizer.script` signatures and the `%filter` sections of pydicom/deid
 * recipes. Pure functions over text: the command line reads the file and writes the protocol.
 *
 * What has an exact dcmtidy condition is imported; what has not (NOT, numeric comparisons,
 * unknown functions or fields, whole-image flags) is written into the protocol as a comment with
 * the original text and the reason, and counted, never guessed.
 *
 * @module
 */
import { stringify } from "yaml";
import { looksLikeCtp, parseCtpScript } from "./_pixel_ctp.ts";
import { looksLikeDeid, parseDeidRecipe } from "./_pixel_deid.ts";
import { type SourceEntry, toWhens, type When } from "./_pixel_expr.ts";

export type { Condition, When } from "./_pixel_expr.ts";

/** The formats `--pixels-from` reads. */
export type PixelRuleFormat = "ctp" | "deid";

/** A readable name of each format, for messages. */
export const PIXEL_RULE_FORMATS: Readonly<Record<PixelRuleFormat, string>> = {
  ctp: "RSNA CTP DicomPixelAnonymizer script",
  deid: "pydicom/deid recipe (%filter)",
};

/** One imported rule, in the shape of a `deidentify.pixels` entry. */
export interface ImportedPixelRule {
  readonly name: string;
  readonly when: When;
  readonly blank: "all" | [number, number, number, number][];
  readonly keep?: "ultrasound-regions";
}

/** One signature or filter of the source file and what became of it. */
export interface PixelImportEntry {
  /** 1-based line of the source file where it starts. */
  readonly line: number;
  /** Its text as written. */
  readonly text: string;
  /** The rules it became (several for an OR that one rule cannot say); empty when not imported. */
  readonly rules: readonly ImportedPixelRule[];
  /** Why it was not imported. */
  readonly reason?: string;
}

/** The result of an import, in the order of the source file. */
export interface PixelImport {
  readonly format: PixelRuleFormat;
  readonly entries: readonly PixelImportEntry[];
  /** Every imported rule, in order. */
  readonly rules: readonly ImportedPixelRule[];
  /** The entries that were not imported. */
  readonly skipped: readonly PixelImportEntry[];
}

/** The format of a pixel rule file from its content; undefined when it is neither. */
export function detectPixelRuleFormat(text: string): PixelRuleFormat | undefined {
  if (looksLikeDeid(text)) return "deid";
  if (looksLikeCtp(text)) return "ctp";
  return undefined;
}

const slug = (text: string) => text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");

/** Words for a rule name from its conditions: the texts it tests, then COLUMNSxROWS. */
function nameWords(when: When): string {
  const words: string[] = [];
  for (const [key, c] of Object.entries(when)) {
    if (key === "Rows" || key === "Columns") continue;
    if (typeof c === "string") words.push(c);
    else if (Array.isArray(c)) words.push(...c.map(String));
    else if (typeof c === "object" && "contains" in c) words.push(c.contains);
  }
  let text = slug(words.join(" "));
  if (text.length > 40) text = text.slice(0, 40).replace(/-[^-]*$/, "");
  const size = typeof when.Columns === "number" && typeof when.Rows === "number"
    ? `${when.Columns}x${when.Rows}`
    : "";
  return [text, size].filter((s) => s).join("-");
}

/** Import a pixel rule file of the given format (see {@link detectPixelRuleFormat}). */
export function importPixelRules(text: string, format: PixelRuleFormat): PixelImport {
  const sources: SourceEntry[] = format === "ctp" ? parseCtpScript(text) : parseDeidRecipe(text);
  const names = new Set<string>();
  const unique = (name: string) => {
    let n = name;
    for (let i = 2; names.has(n); i++) n = `${name}-${i}`;
    names.add(n);
    return n;
  };
  const entries = sources.map((s, i): PixelImportEntry => {
    const base = { line: s.line, text: s.text };
    if (s.problem !== undefined || !s.expr || !s.blank) return { ...base, rules: [], reason: s.problem };
    const whens = toWhens(s.expr);
    if (typeof whens === "string") return { ...base, rules: [], reason: whens };
    const rules = whens.map((when, j) => {
      const stem = format === "ctp"
        ? [`ctp-${i + 1}`, nameWords(when)].filter((w) => w).join("-")
        : `deid-${slug(s.label ?? "") || i + 1}`;
      const suffix = whens.length > 1 ? `-${String.fromCharCode(97 + j)}` : "";
      return {
        name: unique(stem + suffix),
        when,
        blank: s.blank!,
        ...(s.keep ? { keep: s.keep } : {}),
      };
    });
    return { ...base, rules };
  });
  return {
    format,
    entries,
    rules: entries.flatMap((e) => e.rules),
    skipped: entries.filter((e) => e.rules.length === 0),
  };
}

const flow = (value: unknown) => stringify(value, { collectionStyle: "flow", lineWidth: 0 }).trim();
const comment = (indent: string, text: string) =>
  text.split(/\r?\n/).map((l) => `${indent}#   ${l.trimEnd()}`.trimEnd());

/**
 * The `pixels:` key and its list as YAML lines, indented by `indent` spaces: each rule under a
 * comment with the text it came from; each entry not imported as comments, with the reason.
 */
export function pixelRulesYaml(imp: PixelImport, source: string, indent = 2): string {
  const pad = " ".repeat(indent);
  const item = pad + "  ";
  const lines = [
    `${pad}# Pixel rules imported from ${source} (${PIXEL_RULE_FORMATS[imp.format]}): ` +
    `${imp.rules.length} rule(s), ${imp.skipped.length} not imported.`,
    `${pad}# Check every rule against sample images before relying on it.`,
    imp.rules.length ? `${pad}pixels:` : `${pad}pixels: []`,
  ];
  for (const e of imp.entries) {
    if (e.rules.length === 0) {
      lines.push(`${item}# not imported (line ${e.line}): ${e.reason ?? "nothing to import"}`);
      lines.push(...comment(item, e.text));
      continue;
    }
    lines.push(`${item}# line ${e.line}:`, ...comment(item, e.text));
    for (const r of e.rules) {
      lines.push(
        `${item}- name: ${flow(r.name)}`,
        `${item}  when: ${flow(r.when)}`,
        `${item}  blank: ${flow(r.blank)}`,
      );
      if (r.keep) lines.push(`${item}  keep: ${r.keep}`);
    }
  }
  return lines.join("\n") + "\n";
}

/**
 * A starter protocol with the imported rules: `burned_in: blank` and the `pixels:` list at the end
 * of its `deidentify:` section (with no rule imported, `burned_in` stays as the starter has it).
 * Throws when the starter has no such section.
 */
export function withPixelRules(starter: string, imp: PixelImport, source: string): string {
  const lines = starter.replace(/\n$/, "").split("\n");
  const start = lines.findIndex((l) => /^deidentify:\s*(#.*)?$/.test(l));
  if (start < 0) throw new Error("the starter protocol has no deidentify section");
  let end = lines.findIndex((l, i) => i > start && /^\S/.test(l));
  if (end < 0) end = lines.length;
  const burnedIn = "  burned_in: blank".padEnd(33) +
    "# the regions of the pixels rules below are blanked; other suspects are quarantined";
  const at = lines.findIndex((l, i) => i > start && i < end && /^ {2}burned_in:/.test(l));
  // burned_in: blank without any rule would quarantine every suspect: then the starter's stays.
  if (imp.rules.length > 0) {
    if (at >= 0) lines[at] = burnedIn;
    else lines.splice(end++, 0, burnedIn);
  }
  lines.splice(end, 0, ...pixelRulesYaml(imp, source).replace(/\n$/, "").split("\n"));
  return lines.join("\n") + "\n";
}

/** A summary for the terminal: how many rules were imported, and each entry not imported with why. */
export function describePixelImport(imp: PixelImport, source: string): string {
  const lines = [
    `${source}: ${PIXEL_RULE_FORMATS[imp.format]}; ${imp.rules.length} pixel rule(s) imported` +
    ` from ${imp.entries.length - imp.skipped.length} of ${imp.entries.length}, ` +
    `${imp.skipped.length} not imported`,
  ];
  for (const e of imp.skipped) lines.push(`  line ${e.line}: ${e.reason ?? "nothing to import"}`);
  if (imp.rules.length === 0) {
    lines.push("  burned_in left as the preset has it: blank needs at least one rule");
  }
  return lines.join("\n");
}
