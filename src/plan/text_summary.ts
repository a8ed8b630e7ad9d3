/**
 * What `pixels_detect: ocr` found, for the plan's summary: per device of burned-in suspects, how many
 * have text and how many boxes, the rule that blanks them; for a device no rule matches, a proposed
 * rule whose `blank:` covers every box found (merged, with a margin), ready to paste into the
 * protocol. Words are never shown (they may be names): boxes only.
 *
 * @module
 */
import { boxesOutside, mergeBoxes } from "../pixels/detect.ts";
import type { Rect } from "../pixels/blank.ts";
import type { Plan } from "./types.ts";

/** Pixels added around each box of a proposed rule (text is rarely boxed tightly). */
const MARGIN = 4;

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

function yamlValue(v: string | number): string {
  return typeof v === "number" || /^[A-Za-z0-9 ._-]+$/.test(v) && !/^\d/.test(v)
    ? String(v)
    : JSON.stringify(v);
}

/** The summary's lines about text in pixels; none when nothing was searched. */
export function textLines(plan: Plan): string[] {
  // Only a plan that searched pixels for text has any (a pass over every file, read back from disk
  // past the memory bound, would find none: 0.7 s for 300,000 files).
  if (plan.protocol.deidentify?.pixels_detect !== "ocr") return [];
  const groups = new Map<
    string,
    {
      when: Record<string, string | number>;
      files: number;
      withText: number;
      total: number;
      boxes: Rect[];
      blanked: boolean;
    }
  >();
  let searched = 0;
  for (const f of plan.files) {
    if (!f.suspect || f.text === undefined) continue;
    searched++;
    const label = f.suspect.device?.label ?? "unknown device";
    const g = groups.get(label) ??
      {
        when: { ...(f.suspect.device?.when ?? {}) },
        files: 0,
        withText: 0,
        total: 0,
        boxes: [],
        blanked: false,
      };
    g.files++;
    if (f.text.length) g.withText++;
    g.total += f.text.length;
    // Only what the matching rules leave: a rule that matches need not cover every box.
    g.boxes.push(...(f.blank ? boxesOutside(f.text, f.blank.regions) : f.text));
    g.blanked ||= f.blank !== undefined;
    groups.set(label, g);
  }
  if (searched === 0) return [];
  const lines = [`text in pixels (pixels_detect: ocr), ${searched} suspect(s) searched:`];
  for (const [label, g] of groups) {
    const head = `  ${label}: ${g.withText} of ${g.files} with text, ${g.total} box(es)`;
    if (g.boxes.length === 0) {
      lines.push(g.blanked ? `${head}, all inside the regions its pixels rules blank` : head);
      continue;
    }
    const columns = Number(g.when.Columns ?? 0), rows = Number(g.when.Rows ?? 0);
    const merged = mergeBoxes(g.boxes, MARGIN, columns || Infinity, rows || Infinity);
    const name = slug(
      [g.when.Manufacturer, g.when.ManufacturerModelName, `${columns}x${rows}`].filter(Boolean).join("-"),
    ) ||
      "proposed";
    const when = Object.entries(g.when).map(([k, v]) => `${k}: ${yamlValue(v)}`).join(", ");
    lines.push(
      g.blanked
        ? `${head}, ${g.boxes.length} outside the regions its pixels rules blank. A rule for those, to check and paste:`
        : `${head}; no rule blanks them. A rule to check (plan --preview shows it) and paste:`,
    );
    lines.push(`    - name: ${name}`);
    lines.push(`      when: { ${when} }`);
    lines.push(`      blank: [${merged.map((r) => `[${r.x}, ${r.y}, ${r.width}, ${r.height}]`).join(", ")}]`);
  }
  return lines;
}
