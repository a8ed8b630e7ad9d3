/**
 * UIDs across the outputs: each reference (ReferencedSOPInstanceUID) points at the output of the
 * input it referenced (`uid-reference`), and the outputs of one source study, series or frame of
 * reference share one UID, different from the others' (`uid-consistency`).
 */
import { tags } from "../standard/tags.ts";
import { top } from "./_context.ts";
import type { Finding } from "./findings.ts";
import type { TextElement } from "./phi.ts";

const UID_TAGS = {
  sop: "SOPInstanceUID",
  study: "StudyInstanceUID",
  series: "SeriesInstanceUID",
  frame: "FrameOfReferenceUID",
} as const;
type UidKey = keyof typeof UID_TAGS;

/** What the cross-file checks need from one checked output. */
export interface OutputFacts {
  readonly row: number;
  readonly output: string;
  readonly source: Partial<Record<UidKey, string>>;
  readonly actual: Partial<Record<UidKey, string>>;
  /** ReferencedSOPInstanceUIDs: the source's values and the output's at the same path. */
  readonly refs: { path: string; source: readonly string[]; actual: readonly string[] }[];
}

function uidsOf(flat: readonly TextElement[]): Partial<Record<UidKey, string>> {
  const out: Partial<Record<UidKey, string>> = {};
  for (const [k, keyword] of Object.entries(UID_TAGS) as [UidKey, string][]) {
    const v = top(flat, keyword);
    if (v) out[k] = v;
  }
  return out;
}

/**
 * The facts of one output (`row`: its input's row in files.csv, 1 = first) for `uidFindings`: the
 * UIDs of its source (`before`) and its own (`actual`), and its references.
 */
export function outputFacts(
  row: number,
  output: string,
  before: readonly TextElement[],
  actual: readonly TextElement[],
): OutputFacts {
  const actualByPath = new Map(actual.map((e) => [e.path, e]));
  const refs = before.filter((e) => e.tag === tags.ReferencedSOPInstanceUID && e.strings.length > 0)
    .flatMap((e) => {
      const a = actualByPath.get(e.path);
      return a ? [{ path: e.path, source: e.strings, actual: a.strings }] : [];
    });
  return { row, output, source: uidsOf(before), actual: uidsOf(actual), refs };
}

/** References between outputs, and one output UID per source study, series and frame of reference. */
export function uidFindings(facts: readonly OutputFacts[]): Finding[] {
  const findings: Finding[] = [];
  // Which outputs each source SOP Instance UID became (duplicates may share one).
  const outputsOf = new Map<string, OutputFacts[]>();
  for (const f of facts) {
    if (!f.source.sop) continue;
    outputsOf.set(f.source.sop, [...(outputsOf.get(f.source.sop) ?? []), f]);
  }
  const bySop = new Map<string, OutputFacts>();
  for (const f of facts) if (f.actual.sop) bySop.set(f.actual.sop, f);
  for (const f of facts) {
    for (const r of f.refs) {
      r.source.forEach((value, i) => {
        const targets = outputsOf.get(value);
        if (!targets) return; // dangling in the source already: nothing of ours to resolve
        const now = r.actual[i];
        if (targets.some((t) => t.actual.sop === now)) return;
        const hit = now ? bySop.get(now) : undefined;
        findings.push({
          kind: "uid-reference",
          output: f.output,
          input: f.row,
          detail: `${r.path} should point at ${targets[0].output} but ${
            hit ? `points at ${hit.output}` : "points at no output"
          }`,
        });
      });
    }
  }
  for (const key of ["study", "series", "frame"] as const) {
    const name = UID_TAGS[key];
    const split = new Map<string, Map<string, string[]>>();
    const merged = new Map<string, Set<string>>();
    for (const f of facts) {
      const s = f.source[key];
      const a = f.actual[key] ?? "(none)";
      if (!s) continue;
      const group = split.get(s) ?? new Map<string, string[]>();
      group.set(a, [...(group.get(a) ?? []), f.output]);
      split.set(s, group);
      merged.set(a, (merged.get(a) ?? new Set()).add(s));
    }
    for (const group of split.values()) {
      if (group.size < 2) continue;
      const sorted = [...group.values()].sort((x, y) => y.length - x.length);
      for (const minority of sorted.slice(1)) {
        for (const output of minority) {
          findings.push({
            kind: "uid-consistency",
            output,
            detail: `its ${name} differs from the other outputs of its source's ${key} (e.g. ${
              sorted[0][0]
            })`,
          });
        }
      }
    }
    for (const [a, sources] of merged) {
      if (a === "(none)" || sources.size < 2) continue;
      const outputs = facts.filter((f) => f.actual[key] === a).map((f) => f.output);
      findings.push({
        kind: "uid-consistency",
        output: outputs[0],
        detail: `${sources.size} different source ${name}s became one (${outputs.length} outputs)`,
      });
    }
  }
  return findings;
}
