/**
 * The plan as documented JSON (docs/plan-json.md): every file's fate, totals per patient, study
 * and series, the per-series diff, action counts, warnings and errors.
 *
 * Masked (the default, what `plan --json` prints): input files as `input #N`, identifying values
 * of the diff as `D***^J***`, and, when the protocol does not de-identify, output names and IDs
 * (they come from the original headers) as `***`. Unmasked (`--show-phi`, and the file `--out`
 * writes, which the user asked for): paths and values as they are.
 */
import { formatTag } from "../standard/dictionary.ts";
import { showValue } from "./changes.ts";
import { maskPath, planGroups, planTotals, renderPlanText } from "./render.ts";
import type { Plan } from "./types.ts";

/** Identifies the document and its version (bumped when a field changes meaning or goes away). */
export const PLAN_FORMAT = { format: "dcmtidy-plan", version: 1 } as const;

/** The plan as a JSON-ready object; `showPhi` unmasks paths and values. */
export function planJson(plan: Plan, showPhi: boolean): Record<string, unknown> {
  const r = (
    text: string | undefined,
  ) => (text === undefined ? undefined : renderPlanText(plan, text, showPhi));
  const deidentified = plan.protocol.deidentify !== undefined;
  const name = (s: string | undefined) => (s === undefined || deidentified || showPhi ? s : maskPath(s));
  const id = (s: string | undefined) => (s === undefined || deidentified || showPhi ? s : "***");
  const t = planTotals(plan);
  const groups = planGroups(plan);
  return {
    ...PLAN_FORMAT,
    masked: !showPhi,
    protocol: { name: plan.protocol.name, file: plan.protocol.file, sha256: plan.protocol.sha256 },
    deidentified,
    output: plan.protocol.output.root,
    outputFormat: plan.protocol.output.format,
    totals: {
      files: plan.files.length,
      ...t,
      patients: groups.patients.length,
      studies: groups.studies.length,
      series: plan.series.length,
      bytes: plan.series.reduce((n, s) => n + s.bytes, 0),
    },
    actions: plan.actions,
    patients: groups.patients.map((p) => ({
      patient: id(p.id),
      studies: p.studies,
      series: p.series,
      files: p.files,
      bytes: p.bytes,
    })),
    studies: groups.studies.map((s) => ({
      patient: id(s.patient),
      study: id(s.id),
      series: s.series,
      files: s.files,
      bytes: s.bytes,
    })),
    series: plan.series.map((s) => ({
      folder: name(s.folder),
      patient: id(s.pseudoId),
      study: id(s.studyUID),
      series: id(s.seriesUID),
      modality: s.modality,
      files: s.files,
      bytes: s.bytes,
      nifti: name(s.nifti),
      representative: showPhi ? plan.files.get(s.representative).input.rel : `input #${s.representative + 1}`,
      changes: s.changes.map((c) => ({
        path: c.path,
        tag: formatTag(c.tag),
        vr: c.vr,
        change: c.before === undefined ? "added" : c.after === undefined ? "removed" : "changed",
        before: c.before === undefined ? undefined : showValue(c.before, c.vr, c.maskBefore && !showPhi),
        after: c.after === undefined ? undefined : showValue(c.after, c.vr, c.maskAfter && !showPhi),
        beforeMasked: c.before === undefined ? undefined : c.maskBefore && !showPhi,
        afterMasked: c.after === undefined ? undefined : c.maskAfter && !showPhi,
      })),
    })),
    warnings: plan.warnings.map((w) => ({ kind: w.kind, message: r(w.message) })),
    errors: plan.errors.map(r),
    files: plan.files.map((f, i) => ({
      input: showPhi ? f.input.rel : `input #${i + 1}`,
      // An input root given with --input is often the patient's own folder.
      root: showPhi ? f.input.root : `input root #${plan.protocol.input.roots.indexOf(f.input.root) + 1}`,
      kind: f.input.kind,
      size: f.input.size,
      status: f.status,
      reason: r(f.reason),
      // With NIfTI only, the files are read for their series' volume, not written.
      output: plan.protocol.output.format === "nifti" ? undefined : name(f.dest),
      series: f.series,
      actions: f.counts,
      suspect: f.suspect ? { reason: f.suspect.reason, device: f.suspect.device?.label } : undefined,
      blank: f.blank && {
        regions: f.blank.regions.map((b) => [b.x, b.y, b.width, b.height]),
        keep: f.blank.keep.map((b) => [b.x, b.y, b.width, b.height]),
      },
      text: f.text?.map((b) => [b.x, b.y, b.width, b.height]),
    })),
  };
}
