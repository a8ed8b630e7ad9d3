/**
 * A plan as people read it: its texts with references resolved (input files as `input #N` or
 * paths, output paths masked when they come from original headers), totals by status, and totals
 * per patient and study.
 *
 * @module
 */
import { MISSING } from "../protocol/segments.ts";
import { renderRefs } from "../scan/scan.ts";
import type { Disposition, Plan } from "./types.ts";

/** An output path made from original headers, masked segment by segment (each one `***`). */
export function maskPath(path: string): string {
  return path === "." ? path : path.split("/").map(() => "***").join("/");
}

/**
 * A plan's text (warning, error, reason) with its references resolved: input files as paths
 * (`showPhi`) or `input #N`; output paths as they are, unless they come from original headers and
 * `showPhi` is off.
 */
export function renderPlanText(plan: Plan, text: string, showPhi: boolean): string {
  const named = plan.protocol.deidentify !== undefined || showPhi;
  const outputs = text.replace(/\{\{output:([^}]*)\}\}/g, (_: string, p: string) => {
    const path = decodeURIComponent(p);
    return named ? path : maskPath(path);
  });
  return renderRefs(outputs, { at: (i) => plan.files.at(i)?.input }, showPhi);
}

/** Counts of a plan, by status. */
export function planTotals(plan: Plan): Record<Disposition, number> {
  const t: Record<Disposition, number> = { write: 0, skip: 0, quarantine: 0 };
  for (const f of plan.files) t[f.status]++;
  return t;
}

/** Totals of one patient or study of the output. */
export interface GroupTotal {
  /** The pseudonym (patients) or the StudyInstanceUID (studies) of the output. */
  readonly id: string;
  /** For a study: its patient's pseudonym. */
  readonly patient?: string;
  studies: number;
  series: number;
  files: number;
  bytes: number;
}

/** Totals per patient and per study of the written files (from the series), in first-seen order. */
export function planGroups(plan: Plan): { patients: GroupTotal[]; studies: GroupTotal[] } {
  const patients = new Map<string, GroupTotal>();
  const studies = new Map<string, GroupTotal>();
  const seenStudy = new Set<string>();
  for (const s of plan.series) {
    const pid = s.pseudoId ?? MISSING;
    const sid = s.studyUID ?? MISSING;
    const p = patients.get(pid) ?? { id: pid, studies: 0, series: 0, files: 0, bytes: 0 };
    patients.set(pid, p);
    const st = studies.get(`${pid}\0${sid}`) ??
      { id: sid, patient: pid, studies: 1, series: 0, files: 0, bytes: 0 };
    studies.set(`${pid}\0${sid}`, st);
    if (!seenStudy.has(`${pid}\0${sid}`)) {
      seenStudy.add(`${pid}\0${sid}`);
      p.studies++;
    }
    for (const g of [p, st]) {
      g.series++;
      g.files += s.files;
      g.bytes += s.bytes;
    }
  }
  return { patients: [...patients.values()], studies: [...studies.values()] };
}
