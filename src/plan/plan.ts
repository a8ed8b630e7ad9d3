/**
 * The plan: for every scanned file, what will happen to it (written where, skipped or quarantined
 * and why), computed from headers only. `dcmtidy plan` shows it; `dcmtidy run` executes it.
 * Output names come from the de-identified header, never the original. For one file of each
 * output series the plan also keeps the tag changes de-identification makes (the dry-run diff).
 * Each header is read once, by the survey (`survey.ts`), in workers or in this thread; what
 * depends on other files (duplicates, series, collisions) is decided in input order
 * (`assemble.ts`, `names.ts`).
 *
 * @module
 */
import { type DeidConfig, type Keys, loadDeidConfig, openSession } from "../deid/mod.ts";
import type { Protocol } from "../protocol/protocol.ts";
import { inputRef, sharedInstances } from "../scan/scan.ts";
import { letGo, type ListedFiles, type Listing, walkInputs } from "../scan/inputs.ts";
import { withoutPaths } from "../util/fs_errors.ts";
import { assemble } from "./assemble.ts";
import { assignNiftiStems, checkMediaNames, resolveCollisions } from "./names.ts";
import { type PlanContext, type Survey, surveyHere } from "./survey.ts";
import { changesOf, textOf } from "./survey_worker.ts";
import type { Plan, PlanOptions, PlanPhase, PlanWarning } from "./types.ts";
import { openPlanWorkers, type PlanWorkers } from "./workers.ts";
import { type FileList, FileRecords } from "./file_records.ts";
import { SurveyRecords } from "./survey_records.ts";
import { PlannedFiles } from "./planned_files.ts";

/**
 * Scan the inputs and decide every file's fate. `keys` is needed when the protocol de-identifies
 * (pseudonyms and UIDs shape the output names). `onProgress` is told of the scan (every file's
 * header read and planned; phase "stage" when `options.ahead` writes as it reads), then of the
 * dry-run diffs (one file per output series).
 *
 * @example Plan a protocol and count what it writes
 * ```ts ignore
 * import { loadProtocol } from "../protocol/load.ts";
 * import { Keys } from "../deid/keys.ts";
 * import { makePlan, planTotals } from "./mod.ts";
 *
 * const protocol = await loadProtocol("study.yaml");
 * const plan = await makePlan(protocol, new Keys(new TextEncoder().encode(Deno.env.get("DCMTIDY_SALT")!)));
 * console.log(planTotals(plan)); // { write: 84, skip: 1, quarantine: 2 }
 * ```
 */
export async function makePlan(
  protocol: Protocol,
  keys?: Keys,
  onProgress?: (done: number, total: number, phase: PlanPhase) => void,
  options: PlanOptions = {},
): Promise<Plan> {
  const warnings: PlanWarning[] = [];
  const errors: string[] = [];
  for (const root of protocol.input.roots) {
    try {
      if (!(await Deno.stat(root)).isDirectory) errors.push(`input root ${root} is not a folder`);
    } catch {
      errors.push(`input root ${root} does not exist`);
    }
  }
  if (errors.length) {
    return { protocol, files: new PlannedFiles(), series: [], actions: {}, warnings, errors };
  }
  const d = protocol.deidentify;
  // Surveys made elsewhere (a split scan's parts): no header is read here, so no diff or text.
  const surveyed = options.surveyed;
  const workers = options.workers ?? 0;
  const ahead = workers > 0 && !surveyed ? options.ahead : undefined;
  // The workers load their code while the rest of the inputs are listed (each takes about as long
  // as listing 30,000 files): started once the listing has found a file for each of them, unless
  // what they may read depends on the listing (links followed).
  const startEarly = !surveyed && workers > 0 && !protocol.input.followSymlinks;
  let early: Promise<PlanWorkers> | undefined;
  let tools: PlanWorkers | undefined;
  // The plan's files, until handed on: a plan that fails or is stopped lets go of their file.
  let assembled: ReturnType<typeof assemble> | undefined;
  let handed = false;
  // The listener on the caller's signal, removed when the plan ends: the signal outlives the plan,
  // and the listener would keep this function's variables (the surveys, 10 MB for 300,000 files).
  let onAbort: (() => void) | undefined;
  try {
    // Handed to the survey, which lets go of each entry once its file is surveyed: every survey holds
    // its file's paths (the listing would be held twice, and whole to the end of the scan).
    let listed: Listing | undefined = await walkInputs(
      protocol.input,
      startEarly
        ? (found) => {
          if (found !== workers) return;
          early = openSurveyors(protocol, keys, undefined, { ...options, ahead });
          early.catch(() => {}); // a failure is the plan's when it is awaited below
        }
        : undefined,
    );
    tools = surveyed
      ? undefined
      : await (early ?? openSurveyors(protocol, keys, listed, { ...options, ahead }));
    early = undefined;
    // Aborted: stop waiting; the finally below stops the workers.
    const aborted = new Promise<never>((_, reject) => {
      if (options.signal?.aborted) reject(options.signal.reason);
      onAbort = () => reject(options.signal!.reason);
      options.signal?.addEventListener("abort", onAbort, { once: true });
    });
    aborted.catch(() => {});
    const scanProgress = onProgress &&
      ((done: number, total: number) => onProgress(done, total, ahead ? "stage" : "scan"));
    const surveys = await Promise.race([
      tools
        ? tools.survey(listed, scanProgress, undefined, options.spill)
        : surveyed!(listed, onProgress && ((done, total) => onProgress(done, total, "parts")), options.spill),
      aborted,
    ]);
    listed = undefined;
    // Left for the workers: the diffs (a file each, of the series shown) and, when pixels are
    // searched, the suspects' text. The rest are stopped before the plan is assembled, which is when
    // its memory peaks (a run of 30,000 files: 218 MB with both of two workers idle through it).
    tools?.retire(workersAfterScan(protocol, options.diffs));
    try {
      const instances = await sharedInstances({
        *entries() {
          for (const [i, s] of surveys.entries()) yield [i, s.scanned] as const;
        },
        at: (i) => surveys.at(i)?.scanned,
      }, surveys instanceof SurveyRecords ? surveys.instances : undefined);
      assembled = assemble(surveys, instances, warnings, errors, options.spill);
    } finally {
      surveys.close();
    }
    const plan = assembled;
    // The diffs shown: the first series' only when the caller shows no more (a re-read each).
    const diffed = plan.series.slice(0, options.diffs ?? plan.series.length);
    const representatives = diffed.map((s) => ({
      index: s.representative,
      path: plan.files.get(s.representative).input.path,
    }));
    if (d && tools && representatives.length) {
      onProgress?.(0, representatives.length, "plan");
      let done = 0;
      const made = await Promise.race([tools.changes(representatives), aborted]);
      const byFile = new Map(made.map((c) => [c.index, c]));
      diffed.forEach((s, i) => {
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
    if (d?.pixels_detect === "ocr" && tools) {
      const suspects = plan.files.flatMap((f, index) => (f.suspect ? [{ index, path: f.input.path }] : []));
      if (suspects.length) {
        onProgress?.(0, suspects.length, "text");
        let done = 0;
        const found = await Promise.race([tools.text(suspects), aborted]);
        for (const t of found) {
          if (t.boxes) plan.files.set(t.index, { ...plan.files.get(t.index), text: t.boxes });
          else {
            warnings.push({
              kind: "pixels",
              message: `${inputRef(t.index)}: its pixels could not be searched for text: ${
                withoutPaths(t.error!)
              }`,
            });
          }
          onProgress?.(++done, suspects.length, "text");
        }
      }
    }
    // Nothing is left for the workers: they stop before the names are resolved.
    tools?.retire(0);
    const format = protocol.output.format;
    // NIfTI only: the files are read, not written as DICOM, so their names cannot collide.
    if (format !== "nifti") resolveCollisions(plan.files, protocol.output.onCollision, warnings, errors);
    if (protocol.output.dicomdir) checkMediaNames(plan.files, errors);
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
    // Aborted after the last wait: the plan is not handed on.
    options.signal?.throwIfAborted();
    handed = true;
    return {
      protocol,
      files: plan.files,
      series: plan.series,
      actions: plan.actions,
      warnings,
      errors,
      ...(surveyed ? { diffs: false } : {}),
    };
  } finally {
    if (onAbort) options.signal?.removeEventListener("abort", onAbort);
    tools?.close();
    // Started while the listing failed: stopped once up.
    early?.then((t) => t.close(), () => {});
    if (!handed) assembled?.files.close();
  }
}

/** Diffs one worker makes after the scan before another is kept for them (the bench's 20 took 0.1 s). */
const DIFFS_PER_WORKER = 32;

/**
 * How many of a plan's workers are kept after its scan: none when it makes no diffs (it does not
 * de-identify), all when it searches pixels for text or makes every series' diff, else one per
 * `DIFFS_PER_WORKER` diffs.
 */
function workersAfterScan(protocol: Protocol, diffs: number | undefined): number {
  const d = protocol.deidentify;
  if (!d) return 0;
  if (d.pixels_detect === "ocr" || diffs === undefined) return Infinity;
  return Math.ceil(diffs / DIFFS_PER_WORKER);
}

/**
 * What reads the files for a plan: its sandboxed workers, or this thread (workers 0) behind the
 * workers' interface. The survey of a share of the listing (`indices`, see `surveyShare`) and of the
 * whole are the same work. `listed` undefined: still being listed, with at least a file for each
 * worker asked for (and links not followed): every worker asked for is started.
 */
async function openSurveyors(
  protocol: Protocol,
  keys: Keys | undefined,
  listed: ListedFiles | undefined,
  options: PlanOptions,
): Promise<PlanWorkers> {
  const d = protocol.deidentify;
  let config: DeidConfig | undefined;
  if (d) {
    if (!keys) throw new Error("a de-identifying plan needs the salt's keys");
    config = await loadDeidConfig(protocol);
  }
  const workers = options.workers ?? 0;
  if (workers > 0 && (listed === undefined || listed.length > 0)) {
    return await openPlanWorkers(protocol, config, options.salt, listed, workers, options.ahead);
  }
  // TypeScript hooks run only in the run's sandboxed workers. Here their elements count as
  // removed, so a path built from them shows "na" rather than an unhooked original value.
  const ctx: PlanContext = {
    session: config && openSession(config, keys!, { hooks: "stub", checkPseudonyms: false }),
    config,
    burnedIn: d?.burned_in ?? "warn",
    root: protocol.output.root,
    folder: protocol.output.folder,
    file: protocol.output.file,
    keepFields: !d,
  };
  return {
    // In this thread (library use, tests): the surveys are held as read, then handed on.
    survey: async (files, onProgress, indices) => {
      const surveys = FileRecords.of(await surveyHere(files, ctx, onProgress, indices));
      // Handed over, as to the workers (here all at once).
      for (let i = 0; i < files.length; i++) letGo(files, i);
      return surveys;
    },
    changes: (files) => Promise.resolve(changesOf(files, ctx)),
    text: textOf,
    retire: () => {},
    close: () => {},
  };
}

/** Files a split scan surveys before it hands their surveys on (and forgets them). */
const SHARE_CHUNK = 4096;

/**
 * Survey the files of one share of the listing (`indices` into `listed`) as `makePlan` would: what
 * a split scan keeps (see `scan_part.ts`). `onSurveys` is given them a chunk at a time, in the
 * order of `indices`, and nothing is kept: memory does not grow with the share.
 */
export async function surveyShare(
  protocol: Protocol,
  keys: Keys | undefined,
  listed: ListedFiles,
  indices: readonly number[],
  onSurveys: (indices: readonly number[], surveys: FileList<Survey>) => Promise<void>,
  onProgress?: (done: number, total: number) => void,
  options: Pick<PlanOptions, "workers" | "salt"> = {},
): Promise<void> {
  // The share as a view of the listing: no entry is made for it here.
  const share = { length: indices.length, at: (j: number) => listed.at(indices[j]) };
  const tools = await openSurveyors(protocol, keys, share, options);
  try {
    for (let from = 0; from < indices.length; from += SHARE_CHUNK) {
      const chunk = indices.slice(from, from + SHARE_CHUNK);
      const surveys = await tools.survey(
        chunk.map((i) => listed.at(i)!),
        onProgress && ((done) => onProgress(from + done, indices.length)),
        chunk,
      );
      await onSurveys(chunk, surveys);
    }
  } finally {
    tools.close();
  }
}
