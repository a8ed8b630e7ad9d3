/**
 * Executing a plan: produce every "write" file, record each finished one in a journal under
 * `<output>/.dcmtidy/`, and write the reports. Re-running resumes: files whose output still
 * matches the journal (and whose input has not changed since) are not redone, so a finished run
 * run again changes nothing. Outputs an earlier run wrote that the plan no longer makes are
 * removed. The journal never holds original identities: the key file's rows are made from the
 * plan's original headers.
 *
 * This file only orders the phases: output root and state folder, DICOM files (`write_files.ts`),
 * NIfTI series (`convert_series.ts`), quarantine copies, stale outputs, key file and reports.
 *
 * @module
 */
import { RunRefusal } from "./errors.ts";
import { Interner } from "../scan/intern.ts";
import { dirname, join } from "node:path";
import { type DeidSession, loadDeidConfig, openSession } from "../deid/mod.ts";
import { niftiFamily } from "../nifti/convert.ts";
import { type Plan, type Shard, shardFiles } from "../plan/mod.ts";
import { RULES_EDITION } from "../standard/ps3_15.ts";
import { VERSION } from "../version.ts";
import { convertSeriesOf } from "./convert_series.ts";
import { removeOurDicomDir, writeDicomDir } from "./dicomdir.ts";
import { openJournalAppender } from "./journal.ts";
import { readJournal } from "./journal_index.ts";
import { KeyRowSet, mergeKeyFile, readKeyFile } from "./key_file.ts";
import { boundHeap } from "../util/heap.ts";
import { prepareOutputRoot, removePartials } from "./output_root.ts";
import { type FileOutcome, outcomeCodec } from "./process.ts";
import { copyQuarantined } from "./quarantine.ts";
import { writeReports } from "./reports.ts";
import type { SeriesOutcome } from "./series.ts";
import { clearShardPart, writeShardPart } from "./shards.ts";
import { removeStaleOutputs } from "./stale.ts";
import { ensureStateDir, JOURNAL_FILE } from "./state_dir.ts";
import type { RunContext, RunOptions, RunSummary } from "./types.ts";
import { writeFiles } from "./write_files.ts";
import { SpillMap } from "../util/spill_map.ts";

/**
 * The files and input bytes a run of `plan` (or of one shard) works through, for a progress
 * display: each file to write once per format it is written in.
 */
export function runWork(plan: Plan, shard?: Shard): { files: number; bytes: number } {
  const times = stepsPerFile(plan.protocol.output.format);
  let files = 0;
  let bytes = 0;
  for (const i of shardFiles(plan, shard)) {
    const f = plan.files.get(i);
    if (f.status !== "write") continue;
    files++;
    bytes += f.input.size;
  }
  return { files: files * times, bytes: bytes * times };
}

/** How many times a file counts in a run's progress: once, or once as DICOM and once as NIfTI. */
function stepsPerFile(format: Plan["protocol"]["output"]["format"]): number {
  return format === "both" ? 2 : 1;
}

/**
 * Execute a plan. Inputs are only read; outputs go under the output root, reports where declared.
 * Outputs the plan wrote ahead (`opts.staging`) are renamed into place; the staging folder is
 * removed whatever happens.
 *
 * @example Plan and run a protocol in this thread
 * ```ts ignore
 * import { loadProtocol } from "../protocol/load.ts";
 * import { Keys } from "../deid/keys.ts";
 * import { makePlan } from "../plan/mod.ts";
 * import { runPlan } from "./mod.ts";
 *
 * const keys = new Keys(new TextEncoder().encode(Deno.env.get("DCMTIDY_SALT")!));
 * const plan = await makePlan(await loadProtocol("study.yaml"), keys);
 * const summary = await runPlan(plan, { keys });
 * console.log(`${summary.written} written, ${summary.quarantined} quarantined`);
 * ```
 */
export async function runPlan(plan: Plan, opts: RunOptions = {}): Promise<RunSummary> {
  try {
    return await execute(plan, opts);
  } finally {
    await opts.staging?.remove();
  }
}

async function execute(plan: Plan, opts: RunOptions): Promise<RunSummary> {
  const started = performance.now();
  const p = plan.protocol;
  if (plan.errors.length) throw new Error(`the plan has errors:\n${plan.errors.join("\n")}`);
  const root = p.output.root;
  await prepareOutputRoot(root);
  // The key file is checked before anything is written: a file that is not ours stops the run here.
  const key = p.deidentify ? p.key : undefined;
  if (key) await readKeyFile(key);
  const state = await ensureStateDir(root, opts.shard);
  // Past a bound, outcomes wait in a temporary file in the state folder: memory stays flat in the files.
  // Through the staged outcomes' codec when there are any: what a series shares is held once for both.
  const codec = opts.staging?.codec ?? outcomeCodec();
  const outcomes = new SpillMap<FileOutcome>(state, opts.recordsInMemory, codec, plan.files.length);
  try {
    return await executeIn(plan, opts, { started, state, key, outcomes });
  } catch (e) {
    outcomes.close();
    throw e;
  }
}

/** `execute` once the state folder is there: the run's phases. */
async function executeIn(
  plan: Plan,
  opts: RunOptions,
  run: { started: number; state: string; key: string | undefined; outcomes: SpillMap<FileOutcome> },
): Promise<RunSummary> {
  const { started, state, key } = run;
  const p = plan.protocol;
  const root = p.output.root;
  const shard = opts.shard;
  const format = p.output.format;
  const mine = shardFiles(plan, shard);
  const d = p.deidentify;
  if (shard) await clearShardPart(root, shard);
  const journalPath = join(state, JOURNAL_FILE);
  // The staging's when the plan wrote ahead (it read it to leave finished files to this run).
  using own = opts.staging?.journal ? undefined : await readJournal(journalPath);
  const journal = opts.staging?.journal ?? own!;
  let session: DeidSession | undefined;
  if (d) {
    if (!opts.keys) throw new Error("a de-identifying run needs the salt's keys");
    if (Object.keys(d.hooks).length > 0 && !((opts.workers ?? 0) > 0 && opts.salt)) {
      // A TypeScript protocol's code runs only in sandboxed workers, never in this process.
      throw new RunRefusal(
        "this protocol has hooks, which run only in the run's sandboxed workers: give workers and the salt's bytes",
      );
    }
    session = openSession(await loadDeidConfig(p), opts.keys, { hooks: "run" });
  }
  using journalFile = await openJournalAppender(journalPath);
  // Files to do (as `runWork` counts them), for progress: counted in the pass over this run's files
  // below, before the first is done (past the bound each pass reads every planned file back).
  let total = 0;
  let done = 0;
  let bytes = 0;
  let resumed = 0;
  let kept = 0;
  const keyRows = new KeyRowSet();
  const counts = { written: 0, quarantined: 0 };
  const ctx: RunContext = {
    plan,
    opts,
    root,
    session,
    journal,
    append: journalFile.append,
    outcomes: run.outcomes,
    record: (o, original) => {
      run.outcomes.set(o.index, o);
      if (key) keyRows.add(original, o);
      if (o.status === "written") counts.written++;
      else counts.quarantined++;
    },
    keyRows,
    counts,
    shared: opts.staging?.shared ?? new Interner(),
    notes: [],
    progress: (size) => {
      bytes += size;
      opts.onProgress?.(++done, total, bytes);
    },
    kept: (again) => {
      if (again) resumed++;
      opts.onKept?.(++kept);
    },
  };
  // What this run writes, by series with NIfTI, the folders it writes into, and what the plan skips
  // or quarantines: from what `PlannedFiles` has at hand, without reading every file back (past the
  // memory bound, from disk). A file to write is in its series' folder (its destination's).
  const toWrite: number[] = [];
  const mySeries = new Map<number, number[]>();
  const folders = new Set<string>();
  let skipped = 0;
  let planQuarantined = 0;
  let toWriteBytes = 0;
  for (const [n, i] of mine.entries()) {
    if (n % 1024 === 1023) boundHeap(); // as a pass that reads the files back does
    const status = plan.files.status(i);
    if (status === "skip") skipped++;
    else if (status === "quarantine") planQuarantined++;
    else {
      toWrite.push(i);
      toWriteBytes += plan.files.inputSize(i);
      const s = plan.files.seriesOf(i);
      if (format !== "nifti") {
        folders.add(
          s === undefined ? dirname(join(root, plan.files.get(i).dest!)) : join(root, plan.series[s].folder),
        );
      }
      if (format !== "dicom") {
        const group = mySeries.get(s!);
        if (group) group.push(i);
        else mySeries.set(s!, [i]);
      }
    }
  }
  total = toWrite.length * stepsPerFile(format);
  opts.onWork?.(total, toWriteBytes * stepsPerFile(format));
  // With NIfTI only, the files are read for their series, not written as DICOM.
  const dicom = format === "nifti" ? [] : toWrite;
  const families = [...mySeries.keys()].flatMap((s) =>
    niftiFamily(plan.series[s].nifti!, plan.series[s].frames).map((d) => join(root, d))
  );
  for (const f of families) folders.add(dirname(f));
  await removePartials(folders, function* () {
    yield* families;
    for (const i of dicom) yield join(root, plan.files.get(i).dest!);
  });
  await writeFiles(ctx, dicom);
  // Every output written ahead is taken or left by now: what held them goes.
  opts.staging?.outputs.close();
  const series = new Map<number, SeriesOutcome>();
  if (mySeries.size) {
    await convertSeriesOf(ctx, mySeries, (o, files, again) => {
      series.set(o.series, o);
      if (format === "nifti") {
        for (const fo of o.files) {
          ctx.record(fo, plan.files.get(fo.index).input.header);
          if (fo.status === "written") ctx.kept(again);
        }
      }
      for (const i of files) ctx.progress(plan.files.get(i).input.size);
    });
  }
  const { outcomes, notes } = ctx;
  await copyQuarantined(plan, mine, outcomes);
  notes.push(...await removeStaleOutputs(plan, journal, ctx.append));
  // Counted as recorded (a file the plan quarantined has an outcome only when its copy failed,
  // not recorded as the run's own).
  const summary = {
    written: counts.written,
    skipped,
    quarantined: planQuarantined + counts.quarantined,
    resumed,
    outcomes,
    series,
    volumes: [...series.values()].reduce((n, o) => n + o.volumes.length, 0),
    durationMs: performance.now() - started,
    notes,
  };
  if (key) await mergeKeyFile(key, ctx.keyRows.rows(), opts.onWait);
  const meta = { version: VERSION, rules: RULES_EDITION };
  if (shard) {
    const salt = d && opts.keys ? opts.keys.fingerprint() : undefined;
    await writeShardPart(plan, shard, mine, summary, { ...meta, salt });
  } else await writeReports(plan, summary, { ...meta, statePath: state });
  if (!shard && format !== "nifti" && p.output.dicomdir) {
    await writeDicomDir(
      root,
      [...outcomes.values()].flatMap((o) => o.status === "written" ? plan.files.get(o.index).dest ?? [] : []),
    );
  } else if (!shard) await removeOurDicomDir(root);
  return summary;
}
