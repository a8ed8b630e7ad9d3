/**
 * The plan: for every scanned file, what will happen to it (written where, skipped or quarantined
 * and why), computed from headers only. `dcmtidy plan` shows it; `dcmtidy run` executes it.
 * Output names come from the de-identified header, never the original. For one file of each
 * output series the plan also keeps the tag changes de-identification makes (the dry-run diff).
 * Each header is read once, by the survey (`survey.ts`), in workers or in this thread; what
 * depends on other files (duplicates, series, collisions) is decided here, in input order.
 */
import { readDicomFileSync } from "../dicom/io.ts";
import { configFromProtocol, type DeidConfig } from "../deid/config.ts";
import { DeidSession, PseudonymRegistry } from "../deid/engine.ts";
import type { Keys } from "../deid/keys.ts";
import type { Protocol } from "../protocol/load.ts";
import { readLookupTable } from "../protocol/lookup.ts";
import { MISSING } from "../protocol/template.ts";
import { niftiFamily, niftiPaths } from "../nifti/convert.ts";
import { formatTag, lookupTag } from "../standard/dictionary.ts";
import { inputRef, markDuplicates, renderRefs, type ScannedFile, walkInputs } from "../scan/scan.ts";
import type { PlannedChange } from "./changes.ts";
import {
  fileChanges,
  type FinishedOutput,
  type PlanContext,
  type StagedOutput,
  type Survey,
  surveyHere,
} from "./survey.ts";
import { openPlanWorkers, type PlanWorkers } from "../run/pool.ts";
import type { Shard } from "./shard.ts";
import { withoutPaths } from "../run/errors.ts";
import type { ChangesOf } from "../run/worker.ts";

/** What will happen to one input file. */
export type Disposition = "write" | "skip" | "quarantine";

/** One input file in the plan. */
export interface PlannedFile {
  /** The file as scanned: its path, kind, size and header facts. */
  readonly input: ScannedFile;
  /** What happens to it; `reason` says why when it is not written. */
  status: Disposition;
  /** Why it is skipped or quarantined, or a note on a written file (burned-in suspect). */
  reason?: string;
  /** Destination relative to the output root, with `/` separators. */
  dest?: string;
  /** Values of the output (de-identified when the protocol de-identifies, else the originals). */
  readonly pseudoId?: string;
  /** StudyInstanceUID of the output (remapped when de-identifying, unless `uids: keep`). */
  readonly studyUID?: string;
  /** SeriesInstanceUID of the output: with the folder, what groups files into `Plan.series`. */
  readonly seriesUID?: string;
  /** SeriesDescription of the output, as de-identification left it. */
  readonly seriesDescription?: string;
  /** Modality, e.g. "MR". */
  readonly modality?: string;
  /** Index of its output series in `Plan.series` (written files). */
  readonly series?: number;
  /** Elements touched, by action code, as the plan de-identified the header (written files). */
  readonly counts?: Readonly<Record<string, number>>;
  /** The report's columns, for a sort-only run (which does not read the file again). */
  readonly fields?: Readonly<Record<string, string>>;
  /** Its output, written ahead by the plan of a run (see `PlanOptions.stage`). */
  readonly staged?: StagedOutput;
}

/** One output series: a SeriesInstanceUID in one output folder. */
export interface PlannedSeries {
  /** Output folder relative to the output root (`.` for the root itself). */
  readonly folder: string;
  /** SeriesInstanceUID of the output (absent when the files have none). */
  readonly seriesUID?: string;
  /** StudyInstanceUID of the output, taken from the series' first file. */
  readonly studyUID?: string;
  /** The subject's pseudonym (the original PatientID for a protocol that does not de-identify). */
  readonly pseudoId?: string;
  /** Modality of the first file, e.g. "MR". */
  readonly modality?: string;
  /** SeriesDescription of the first file, as de-identification left it. */
  readonly description?: string;
  /** How many planned files are written into it. */
  files: number;
  /** Input bytes of its files. */
  bytes: number;
  /** Index in `Plan.files` of the file whose changes are shown (the first one written). */
  readonly representative: number;
  /** Tag changes of the representative file (empty when the protocol does not de-identify). */
  readonly changes: readonly PlannedChange[];
  /** Frames of its files (NumberOfFrames, 1 for single-frame files): at most this many NIfTI volumes. */
  frames: number;
  /**
   * With `output.format` nifti or both: where its NIfTI goes, relative to the output root and without
   * extension. The run writes `<nifti>.nii.gz` and `<nifti>.json`, or, when the series splits,
   * `<nifti>_1.nii.gz`, `<nifti>_1.json`, `<nifti>_2...` (see `niftiFamily`).
   */
  nifti?: string;
}

/** Kinds of plan warnings (documented in docs/plan-json.md). */
export type WarningKind =
  | "collision"
  | "template-na"
  | "burned-in"
  | "dicomdir"
  | "no-patient-id"
  | "lookup-miss"
  | "same-instance"
  | "deid";

/** A warning: something the run will do that the user may not expect. */
export interface PlanWarning {
  /** What it is about (the kinds are in docs/plan-json.md): for filtering, and in `plan --json`. */
  readonly kind: WarningKind;
  /** The text; input files appear as references (see `renderRefs`). */
  readonly message: string;
}

/** A compiled plan. */
export interface Plan {
  /** The protocol the plan was made from; the run takes its output settings from it. */
  readonly protocol: Protocol;
  /** Every scanned file, in scan order; an index here is the file's `inputRef` in reasons and warnings. */
  readonly files: PlannedFile[];
  /** Output series, in the order of their first file. */
  readonly series: PlannedSeries[];
  /** Elements touched by de-identification over every written file, by action code. */
  readonly actions: Readonly<Record<string, number>>;
  /** Shown by `dcmtidy plan`; they do not stop a run. */
  readonly warnings: PlanWarning[];
  /** Problems that stop the run (a missing input root, a collision with `on_collision: error`, ...). */
  readonly errors: string[];
  /** The folder of outputs written ahead (`PlanOptions.stage`): `runPlan` removes it. */
  readonly staging?: string;
}

/**
 * Phases `makePlan` reports progress for: "scan" reads and plans every file's header ("stage"
 * when it also writes each output ahead, see `PlanOptions.stage`); "plan" makes the dry-run diffs
 * (one file per output series).
 */
export type PlanPhase = "scan" | "stage" | "plan";

/** Options for `makePlan`. */
export interface PlanOptions {
  /**
   * Sandboxed workers that survey the files (read and de-identify each header, name its output);
   * 0 (the default) surveys in this thread. The plan is the same either way.
   */
  readonly workers?: number;
  /** The salt's bytes, for the workers (with `workers` above 0 and a de-identifying protocol). */
  readonly salt?: Uint8Array;
  /**
   * For a plan `runPlan` executes right after, unasked (`run --yes`): a new folder under the output
   * root (made here, owner-only) where the workers write each file's output as they survey it, so
   * the run only renames it into place. Used for de-identifying protocols without hooks (hooks run
   * only in the run's own workers) writing DICOM, surveyed in workers; ignored otherwise. The plan
   * then names it in `Plan.staging`: `runPlan` removes it; a caller that does not run the plan
   * removes it itself.
   */
  readonly stage?: string;
  /** With `stage`: the shard the run is, whose files alone are written ahead. */
  readonly shard?: Shard;
  /**
   * With `stage`: outputs the run's journal has finished, by destination (see `finishedOutputs`):
   * their files are not written ahead, the run resumes them.
   */
  readonly finished?: ReadonlyMap<string, FinishedOutput>;
  /** Stops the plan: its workers are stopped and its staging folder removed; `makePlan` rejects. */
  readonly signal?: AbortSignal;
}

const folderOf = (dest: string) => (dest.includes("/") ? dest.slice(0, dest.lastIndexOf("/")) : ".");

/**
 * Scan the inputs and decide every file's fate. `keys` is needed when the protocol de-identifies
 * (pseudonyms and UIDs shape the output names). `onProgress` is told of the scan (every file's
 * header read and planned), then of the dry-run diffs (one file per output series).
 */
export async function makePlan(
  protocol: Protocol,
  keys?: Keys,
  onProgress?: (done: number, total: number, phase: PlanPhase) => void,
  options: PlanOptions = {},
): Promise<Plan> {
  const warnings: PlanWarning[] = [];
  const errors: string[] = [];
  const empty = (): Plan => ({ protocol, files: [], series: [], actions: {}, warnings, errors });
  for (const root of protocol.input.roots) {
    try {
      if (!(await Deno.stat(root)).isDirectory) errors.push(`input root ${root} is not a folder`);
    } catch {
      errors.push(`input root ${root} does not exist`);
    }
  }
  if (errors.length) return empty();
  const listed = await walkInputs(protocol.input);
  const d = protocol.deidentify;
  let config: DeidConfig | undefined;
  if (d) {
    if (!keys) throw new Error("a de-identifying plan needs the salt's keys");
    const lookup = d.lookupFile ? await readLookupTable(d.lookupFile) : undefined;
    config = configFromProtocol(protocol, lookup);
  }
  const workers = options.workers ?? 0;
  const stage = options.stage && workers > 0 && config && Object.keys(config.hooks).length === 0 &&
      protocol.output.format === "dicom"
    ? options.stage
    : undefined;
  let staging = stage;
  let pool: PlanWorkers | undefined;
  try {
    if (stage) {
      // What a killed run staged is not trusted: it is made again.
      await Deno.remove(stage, { recursive: true }).catch(() => {});
      await Deno.mkdir(stage, { recursive: true, mode: 0o700 });
    }
    pool = workers > 0 && listed.length > 0
      ? await openPlanWorkers(
        protocol,
        config,
        options.salt,
        listed,
        workers,
        stage ? { dir: stage, shard: options.shard, finished: options.finished } : undefined,
      )
      : undefined;
    // TypeScript hooks run only in the run's sandboxed workers. Here their elements count as
    // removed, so a path built from them shows "na" rather than an unhooked original value.
    const ctx: PlanContext | undefined = pool ? undefined : {
      session: config && new DeidSession(
        { ...config, hooks: Object.fromEntries(Object.keys(config.hooks).map((k) => [k, () => undefined])) },
        keys!,
        { checkPseudonyms: false },
      ),
      config,
      burnedIn: d?.burned_in ?? "warn",
      root: protocol.output.root,
      folder: protocol.output.folder,
      file: protocol.output.file,
      keepFields: !d,
    };
    // Aborted: stop waiting; the finally below stops the workers, then removes what they staged.
    const aborted = new Promise<never>((_, reject) => {
      if (options.signal?.aborted) reject(options.signal.reason);
      options.signal?.addEventListener("abort", () => reject(options.signal!.reason), { once: true });
    });
    aborted.catch(() => {});
    const scanProgress = onProgress &&
      ((done: number, total: number) => onProgress(done, total, stage ? "stage" : "scan"));
    const surveys = await Promise.race([
      pool ? pool.survey(listed, scanProgress) : surveyHere(listed, ctx, scanProgress),
      aborted,
    ]);
    const scanned = surveys.map((s) => s.scanned);
    await markDuplicates(scanned);
    const plan = assemble(surveys, warnings, errors);
    const representatives = plan.series.map((s) => ({
      index: s.representative,
      path: plan.files[s.representative].input.path,
    }));
    if (d && representatives.length) {
      onProgress?.(0, representatives.length, "plan");
      let done = 0;
      const made = pool
        ? await Promise.race([pool.changes(representatives), aborted])
        : representatives.map(({ index, path }) => changesHere(index, path, ctx!));
      const byFile = new Map(made.map((c) => [c.index, c]));
      plan.series.forEach((s, i) => {
        const c = byFile.get(s.representative)!;
        if (c.error !== undefined) {
          warnings.push({
            kind: "deid",
            // File system errors name the path, which may name the patient.
            message: `${inputRef(s.representative)}: its series' dry-run diff could not be made: ${
              withoutPaths(c.error)
            }`,
          });
        }
        plan.series[i] = { ...s, changes: c.changes ?? [] };
        onProgress?.(++done, representatives.length, "plan");
      });
    }
    const format = protocol.output.format;
    // NIfTI only: the files are read, not written as DICOM, so their names cannot collide.
    if (format !== "nifti") resolveCollisions(plan.files, protocol.output.onCollision, warnings, errors);
    if (format !== "dicom") {
      assignNiftiStems(
        plan.files,
        plan.series,
        plan.seriesDest,
        format,
        protocol.output.onCollision,
        warnings,
        errors,
      );
    }
    // Aborted after the last wait: the plan is not handed on (the finally removes what was staged).
    options.signal?.throwIfAborted();
    const done = {
      protocol,
      files: plan.files,
      series: plan.series,
      actions: plan.actions,
      warnings,
      errors,
    };
    if (errors.length === 0 && staging) {
      staging = undefined; // runPlan's now
      return { ...done, staging: stage };
    }
    return done;
  } finally {
    pool?.close();
    if (staging) await removeStaging(staging);
  }
}

/**
 * Remove a staging folder. A worker stopped in the middle of a write may finish that one file
 * just after (it stops at its next step, a piece of 1 MiB at most): tries again for 2 s.
 */
async function removeStaging(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      await Deno.remove(dir, { recursive: true });
      return;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** A file's dry-run diff, made in this thread. */
function changesHere(index: number, path: string, ctx: PlanContext): ChangesOf {
  try {
    return { index, changes: fileChanges(readDicomFileSync(path, { headerOnly: true }), ctx) };
  } catch (e) {
    return { index, error: (e as Error).message };
  }
}

/**
 * The plan from its surveys, in input order: what depends on other files. Duplicates are skipped,
 * pseudonyms checked for collisions, files grouped into output series (by SeriesInstanceUID and
 * folder). Returns the series without their diffs, and each one's least destination (its NIfTI's
 * name). Warnings and errors are appended in input order.
 */
function assemble(
  surveys: readonly Survey[],
  warnings: PlanWarning[],
  errors: string[],
): { files: PlannedFile[]; series: PlannedSeries[]; seriesDest: string[]; actions: Record<string, number> } {
  const files: PlannedFile[] = [];
  const series: PlannedSeries[] = [];
  const seriesIndex = new Map<string, number>();
  /**
   * Per series, the least template destination of its files (before collisions rename them): its
   * NIfTI's name, `0001` rather than whichever instance the raw dump happens to list first.
   */
  const seriesDest: string[] = [];
  const actions: Record<string, number> = {};
  const naCount = new Map<number, number>();
  const pseudonyms = new PseudonymRegistry();
  let written = 0;
  sameInstanceWarnings(surveys.map((s) => s.scanned), warnings);
  for (const [index, { scanned: input, facts, staged }] of surveys.entries()) {
    if (input.kind !== "dicom" || !facts) {
      const status: Disposition = input.kind === "unreadable" ? "quarantine" : "skip";
      files.push({ input, status, reason: input.reason ?? input.kind });
      if (input.kind === "dicomdir") {
        warnings.push({
          kind: "dicomdir",
          message: `${inputRef(index)}: DICOMDIR not copied: its records point at input paths`,
        });
      }
      continue;
    }
    // Checked here, in input order over every file: which file a collision stops must not depend
    // on which worker de-identified which file.
    try {
      for (const [pseudo, subject] of facts.pseudonyms) pseudonyms.register(pseudo, subject);
    } catch (e) {
      files.push({ input, status: "quarantine", reason: (e as Error).message });
      continue;
    }
    warnings.push(...facts.warnings);
    errors.push(...facts.errors);
    for (const t of facts.na) naCount.set(t, (naCount.get(t) ?? 0) + 1);
    if (facts.quarantine !== undefined || facts.dest === undefined) {
      files.push({ input, status: "quarantine", reason: facts.quarantine });
      continue;
    }
    const dest = facts.dest;
    const folder = folderOf(dest);
    const key = `${facts.seriesUID ?? ""}\0${folder}`;
    let s = seriesIndex.get(key);
    if (s === undefined) {
      s = series.length;
      seriesIndex.set(key, s);
      series.push({
        folder,
        seriesUID: facts.seriesUID,
        studyUID: facts.studyUID,
        pseudoId: facts.pseudoId,
        modality: facts.modality,
        description: facts.description,
        files: 0,
        bytes: 0,
        representative: files.length,
        changes: [],
        frames: 0,
      });
      seriesDest.push(dest);
    }
    if (dest < seriesDest[s]) seriesDest[s] = dest;
    series[s].files++;
    series[s].bytes += input.size;
    series[s].frames += facts.frames;
    for (const [code, n] of Object.entries(facts.counts ?? {})) actions[code] = (actions[code] ?? 0) + n;
    files.push({
      input,
      status: "write",
      reason: facts.note,
      dest,
      pseudoId: facts.pseudoId,
      studyUID: facts.studyUID,
      seriesUID: facts.seriesUID,
      seriesDescription: facts.description,
      modality: facts.modality,
      series: s,
      counts: facts.counts,
      fields: facts.fields,
      staged,
    });
    written++;
  }
  for (const [t, n] of naCount) {
    if (n === written && written > 0) {
      warnings.push({
        kind: "template-na",
        message: `the output template uses ${lookupTag(t)?.keyword ?? "the element"} ${formatTag(t)}, ` +
          `which is ${MISSING} for every file (absent, or removed by the profile: keep it with a per-tag ` +
          `rule if it holds nothing identifying, or take it out of the template)`,
      });
    }
  }
  return { files, series, seriesDest, actions };
}

/** Two files for one destination: the later ones (in input order) get `_2`, `_3`... or the plan fails. */
function resolveCollisions(
  files: PlannedFile[],
  mode: "suffix" | "error",
  warnings: PlanWarning[],
  errors: string[],
): void {
  const used = new Set<string>();
  const lower = (p: string) => p.toLowerCase(); // case-insensitive file systems merge "A" and "a"
  for (const [index, f] of files.entries()) {
    if (f.status !== "write" || !f.dest) continue;
    if (!used.has(lower(f.dest))) {
      used.add(lower(f.dest));
      continue;
    }
    if (mode === "error") {
      errors.push(
        `${inputRef(index)} and another file would both be written as ${
          outputRef(f.dest)
        } (on_collision: error)`,
      );
      continue;
    }
    const dot = f.dest.lastIndexOf(".");
    const slash = f.dest.lastIndexOf("/");
    const [stem, ext] = dot > slash ? [f.dest.slice(0, dot), f.dest.slice(dot)] : [f.dest, ""];
    let n = 2;
    while (used.has(lower(`${stem}_${n}${ext}`))) n++;
    const renamed = `${stem}_${n}${ext}`;
    warnings.push({
      kind: "collision",
      message: `${inputRef(index)}: ${outputRef(f.dest)} is taken, written as ${outputRef(renamed)}`,
    });
    f.dest = renamed;
    used.add(lower(renamed));
  }
}

/**
 * Give each series its NIfTI stem: its least template destination without the extension.
 * When any name of its family (`niftiFamily`) is taken, case-insensitively, by an earlier
 * series or (with `both`) by a DICOM file, the later series becomes `<stem>-2`, `-3`... with a
 * warning, or the plan fails with `on_collision: error`.
 */
function assignNiftiStems(
  files: readonly PlannedFile[],
  series: PlannedSeries[],
  seriesDest: readonly string[],
  format: "nifti" | "both",
  mode: "suffix" | "error",
  warnings: PlanWarning[],
  errors: string[],
): void {
  const lower = (p: string) => p.toLowerCase();
  const used = new Set<string>();
  if (format === "both") {
    for (const f of files) if (f.status === "write" && f.dest) used.add(lower(f.dest));
  }
  const clashes = (stem: string, frames: number) => niftiFamily(stem, frames).some((p) => used.has(lower(p)));
  for (const [i, s] of series.entries()) {
    const base = niftiPaths(seriesDest[i]).nifti.slice(0, -".nii.gz".length);
    let stem = base;
    if (clashes(base, s.frames)) {
      if (mode === "error") {
        errors.push(
          `${inputRef(s.representative)}: its series' NIfTI ${outputRef(`${base}.nii.gz`)} is taken ` +
            `by another series or file (on_collision: error)`,
        );
      } else {
        let n = 2;
        while (clashes(`${base}-${n}`, s.frames)) n++;
        stem = `${base}-${n}`;
        warnings.push({
          kind: "collision",
          message:
            `${inputRef(s.representative)}: its series' NIfTI ${outputRef(`${base}.nii.gz`)} is taken, ` +
            `written as ${outputRef(`${stem}.nii.gz`)}`,
        });
      }
    }
    for (const p of niftiFamily(stem, s.frames)) used.add(lower(p));
    s.nifti = stem;
  }
}

/**
 * An output path in a warning or error. Without de-identification output names come from the
 * original headers, so whoever prints the text decides whether to show them (see `renderPlanText`).
 */
export function outputRef(path: string): string {
  return `{{output:${encodeURIComponent(path)}}}`;
}

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
  return renderRefs(outputs, plan.files.map((f) => f.input), showPhi);
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

/**
 * Files that share a SOP Instance UID but not their bytes (byte-identical ones are duplicates,
 * skipped by the scan): both are written, under their own names, and both keep one new UID, so
 * whoever loads the output will see one instance twice.
 */
function sameInstanceWarnings(scanned: readonly ScannedFile[], warnings: PlanWarning[]): void {
  const first = new Map<string, number>();
  for (const [i, f] of scanned.entries()) {
    const uid = f.kind === "dicom" ? f.header?.sopInstanceUID : undefined;
    if (!uid) continue;
    const j = first.get(uid);
    if (j === undefined) first.set(uid, i);
    else {
      warnings.push({
        kind: "same-instance",
        message: `${inputRef(i)} has the SOP Instance UID of ${
          inputRef(j)
        } but other bytes: both are written`,
      });
    }
  }
}
