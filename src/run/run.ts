/**
 * Executing a plan: produce every "write" file, record each finished one in a journal under
 * `<output>/.dcmtidy/`, and write the reports. Re-running resumes: files whose output still
 * matches the journal are not redone, so a finished run run again changes nothing.
 */
import { basename, dirname, join } from "node:path";
import { configFromProtocol } from "../deid/config.ts";
import { DeidSession } from "../deid/engine.ts";
import type { Keys } from "../deid/keys.ts";
import { readLookupTable } from "../protocol/lookup.ts";
import { RULES_EDITION } from "../deid/rules.ts";
import { VERSION } from "../version.ts";
import type { Plan } from "../plan/plan.ts";
import { type FileJob, type FileOutcome, processFile } from "./process.ts";
import { runInWorkers, runSeriesInWorkers } from "./pool.ts";
import { processSeries, type SeriesJob, type SeriesOutcome } from "./series.ts";
import { niftiFamily } from "../nifti/convert.ts";
import { writeReports } from "./reports.ts";
import { type Shard, shardFiles } from "../plan/shard.ts";
import { clearShardPart, shardStatePath, STATE_DIR, writeShardPart } from "./shards.ts";
import { sha256File } from "../util/hash.ts";
import { exists } from "../dicom/io.ts";

/** One journal line: a finished output and the hash of what was written. */
interface JournalEntry {
  readonly input: string;
  readonly dest: string;
  readonly sha256: string;
  readonly outcome: FileOutcome;
}

/** One journal line for a series converted to NIfTI: its inputs, and what was written (with hashes). */
interface SeriesEntry {
  /** The series' NIfTI stem (relative to the output root). */
  readonly series: string;
  /** Its input paths, in plan order. */
  readonly inputs: readonly string[];
  readonly outcome: SeriesOutcome;
}

/** Options for `runPlan`. */
export interface RunOptions {
  /** The salt's keys (needed when the protocol de-identifies). */
  readonly keys?: Keys;
  /**
   * The salt's bytes, for sandboxed workers (they may not read the environment). With `workers`
   * above 0 and a de-identifying protocol, required.
   */
  readonly salt?: Uint8Array;
  /** Sandboxed workers to use; 0 runs in this thread (library use, tests). Default: 0. */
  readonly workers?: number;
  /** The --input/--output overrides the protocol was loaded with (the workers load it again). */
  readonly overrides?: { input?: string; output?: string };
  /**
   * After each file: files done, files to do, and the input bytes of the files done (see
   * `runWork`; with `both`, a file counts once for DICOM and once for NIfTI).
   */
  readonly onProgress?: (done: number, total: number, bytes: number) => void;
  /**
   * Run only this shard's files (a hash of each file's study): the reports are left as a part in
   * `<output>/.dcmtidy/shards/K-of-N/` for `mergeShards`.
   */
  readonly shard?: Shard;
}

/** What a run did, for the summary and the exit code. */
export interface RunSummary {
  readonly written: number;
  readonly skipped: number;
  readonly quarantined: number;
  /** Files already finished by an earlier run, not redone. */
  readonly resumed: number;
  readonly outcomes: ReadonlyMap<number, FileOutcome>;
  /** With NIfTI output: what became of each series (by index in `Plan.series`) this run covered. */
  readonly series: ReadonlyMap<number, SeriesOutcome>;
  /** NIfTI volumes written (or found finished). */
  readonly volumes: number;
  readonly durationMs: number;
  readonly notes: string[];
}

/** What the journal holds. */
interface Journal {
  readonly done: Map<string, JournalEntry>;
  readonly claimed: Set<string>;
  /** Finished series, by NIfTI stem. */
  readonly series: Map<string, SeriesEntry>;
  /** NIfTI stems a run set out to write: every name of their family is dcmtidy's. */
  readonly claimedSeries: Set<string>;
}

/**
 * The journal: "claim" lines name the outputs a run is about to produce (written before any of
 * them is started), full entries the ones it finished. A file a killed run renamed into place
 * but did not record is claimed, so the next run knows it is its own and redoes it. A series
 * converted to NIfTI claims its stem (its outputs' names depend on how it splits).
 */
async function readJournal(path: string): Promise<Journal> {
  const journal: Journal = {
    done: new Map(),
    claimed: new Set(),
    series: new Map(),
    claimedSeries: new Set(),
  };
  let text = "";
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return journal;
    throw e;
  }
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const entry = JSON.parse(line) as JournalEntry | SeriesEntry | { claim: string } | {
        claimSeries: string;
      };
      if ("claim" in entry) journal.claimed.add(entry.claim);
      else if ("claimSeries" in entry) journal.claimedSeries.add(entry.claimSeries);
      else if ("inputs" in entry) journal.series.set(entry.series, entry);
      else journal.done.set(entry.dest, entry);
    } catch {
      // A line cut by a crash: that file is simply redone.
    }
  }
  return journal;
}

/**
 * The files and input bytes a run of `plan` (or of one shard) works through, for a progress
 * display: each file to write once per format it is written in.
 */
export function runWork(plan: Plan, shard?: Shard): { files: number; bytes: number } {
  const times = plan.protocol.output.format === "both" ? 2 : 1;
  const toWrite = shardFiles(plan, shard).map((i) => plan.files[i]).filter((f) => f.status === "write");
  return { files: toWrite.length * times, bytes: toWrite.reduce((n, f) => n + f.input.size, 0) * times };
}

/**
 * Remove temporary files a killed run left behind (they never carry a final name). Only the
 * partials of this run's own destinations: another shard may be writing beside them right now.
 */
async function removePartials(dests: readonly string[]): Promise<void> {
  const byDir = new Map<string, Set<string>>();
  for (const d of dests) {
    const dir = dirname(d);
    if (!byDir.has(dir)) byDir.set(dir, new Set());
    byDir.get(dir)!.add(basename(d));
  }
  for (const [dir, names] of byDir) {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch {
      continue;
    }
    for (const e of entries) {
      const m = /^\.(.+)\.[0-9a-f]{8}\.partial$/.exec(e.name);
      if (e.isFile && m && names.has(m[1])) await Deno.remove(join(dir, e.name));
    }
  }
}

/** Execute a plan. Inputs are only read; outputs go under the output root, reports where declared. */
export async function runPlan(plan: Plan, opts: RunOptions = {}): Promise<RunSummary> {
  const started = performance.now();
  const p = plan.protocol;
  if (plan.errors.length) throw new Error(`the plan has errors:\n${plan.errors.join("\n")}`);
  const root = p.output.root;
  const shard = opts.shard;
  const format = p.output.format;
  const mine = shardFiles(plan, shard);
  const state = shard ? shardStatePath(root, shard) : join(root, STATE_DIR);
  await Deno.mkdir(state, { recursive: true });
  if (shard) await clearShardPart(root, shard);
  const journalPath = join(state, "journal.jsonl");
  const { done: journal, claimed, ...nifti } = await readJournal(journalPath);
  const d = p.deidentify;
  let session: DeidSession | undefined;
  if (d) {
    if (!opts.keys) throw new Error("a de-identifying run needs the salt's keys");
    const lookup = d.lookupFile ? await readLookupTable(d.lookupFile) : undefined;
    session = new DeidSession(configFromProtocol(p, lookup), opts.keys);
  }
  // Appended line by line: a kill can cut at most the last line, which readJournal skips.
  const append = (text: string) => Deno.writeTextFile(journalPath, text, { append: true });
  const outcomes = new Map<number, FileOutcome>();
  const notes: string[] = [];
  const toWrite = mine.map((i) => ({ f: plan.files[i], i })).filter(({ f }) => f.status === "write");
  // With NIfTI only, the files are read for their series, not written as DICOM.
  const dicom = format === "nifti" ? [] : toWrite;
  const mySeries = new Map<number, number[]>();
  if (format !== "dicom") {
    for (const { f, i } of toWrite) mySeries.set(f.series!, [...(mySeries.get(f.series!) ?? []), i]);
  }
  const families = [...mySeries.keys()].flatMap((s) =>
    niftiFamily(plan.series[s].nifti!, plan.series[s].frames)
  );
  await removePartials([...dicom.map(({ f }) => f.dest!), ...families].map((d) => join(root, d)));
  const total = runWork(plan, shard).files;
  let done = 0;
  let bytes = 0;
  let resumed = 0;
  const jobs: FileJob[] = [];
  for (const { f, i } of dicom) {
    const dest = join(root, f.dest!);
    const prior = journal.get(f.dest!);
    if (
      prior && prior.input === f.input.path &&
      (await sha256File(dest).catch(() => undefined)) === prior.sha256
    ) {
      outcomes.set(i, { ...prior.outcome, index: i });
      resumed++;
      bytes += f.input.size;
      opts.onProgress?.(++done, total, bytes);
    } else {
      if (!prior && !claimed.has(f.dest!) && (await exists(dest))) {
        throw new Error(`${dest} exists and was not written by dcmtidy: refusing to replace it`);
      }
      jobs.push({ index: i, path: f.input.path, dest, mode: p.output.mode });
    }
  }
  const record = async (outcome: FileOutcome) => {
    const f = plan.files[outcome.index];
    outcomes.set(outcome.index, outcome);
    if (outcome.linkFellBack && !notes.some((n) => n.startsWith("hardlink"))) {
      notes.push(
        "hardlink: some files could not be linked (output on another device than the input, or links " +
          "to files of other users refused), so they were copied",
      );
    }
    if (outcome.status === "written") {
      const line = JSON.stringify({ input: f.input.path, dest: f.dest, sha256: outcome.sha256, outcome }) +
        "\n";
      await append(line);
    }
    bytes += f.input.size;
    opts.onProgress?.(++done, total, bytes);
  };
  if (jobs.length) {
    const claims = jobs.map((j) => JSON.stringify({ claim: plan.files[j.index].dest }) + "\n").join("");
    await append(claims);
  }
  if ((opts.workers ?? 0) > 0 && jobs.length > 0) {
    if (d && !opts.salt) throw new Error("sandboxed workers need the salt's bytes");
    await runInWorkers(p, { ...opts.overrides, salt: opts.salt }, jobs, opts.workers!, record);
  } else {
    for (const job of jobs) await record(await processFile(job, session));
  }
  const series = new Map<number, SeriesOutcome>();
  if (mySeries.size) {
    const progress = (files: readonly number[]) => {
      for (const i of files) {
        bytes += plan.files[i].input.size;
        opts.onProgress?.(++done, total, bytes);
      }
    };
    await convertSeriesOf(plan, mySeries, outcomes, nifti, append, session, opts, (o, files, again) => {
      series.set(o.series, o);
      if (format === "nifti") { for (const fo of o.files) outcomes.set(fo.index, fo); }
      if (again && format === "nifti") resumed += o.files.length;
      progress(files);
    });
  }
  await copyQuarantined(plan, mine, outcomes);
  const summary = {
    written: [...outcomes.values()].filter((o) => o.status === "written").length,
    skipped: mine.filter((i) => plan.files[i].status === "skip").length,
    quarantined: mine.filter((i) => plan.files[i].status === "quarantine").length +
      [...outcomes.values()].filter((o) => o.status === "quarantined").length,
    resumed,
    outcomes,
    series,
    volumes: [...series.values()].reduce((n, o) => n + o.volumes.length, 0),
    durationMs: performance.now() - started,
    notes,
  };
  const meta = { version: VERSION, rules: RULES_EDITION };
  if (shard) await writeShardPart(plan, shard, mine, summary, meta);
  else await writeReports(plan, summary, { ...meta, statePath: state });
  return summary;
}

/**
 * Convert this run's series to NIfTI: a series the journal has finished, with the same inputs
 * and outputs that still match their hashes, is taken as it is; the others are claimed, then
 * converted (in the workers, or here). With `both`, a series is made of the files its DICOM output
 * was written for. `onOutcome` sees each series (and whether it was found finished) with its files.
 */
async function convertSeriesOf(
  plan: Plan,
  mySeries: ReadonlyMap<number, readonly number[]>,
  outcomes: ReadonlyMap<number, FileOutcome>,
  journal: Pick<Journal, "series" | "claimedSeries">,
  append: (text: string) => Promise<void>,
  session: DeidSession | undefined,
  opts: RunOptions,
  onOutcome: (o: SeriesOutcome, files: readonly number[], resumed: boolean) => void,
): Promise<void> {
  const p = plan.protocol;
  const root = p.output.root;
  const jobs: SeriesJob[] = [];
  const inputsOf = new Map<number, string[]>();
  const listings = new Map<string, Set<string>>();
  const present = (rel: string) => {
    const dir = dirname(join(root, rel));
    if (!listings.has(dir)) {
      let names: string[] = [];
      try {
        names = [...Deno.readDirSync(dir)].map((e) => e.name);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
      listings.set(dir, new Set(names));
    }
    return listings.get(dir)!.has(basename(rel));
  };
  for (const [s, all] of mySeries) {
    const ps = plan.series[s];
    const files = p.output.format === "both" ? all.filter((i) => outcomes.get(i)?.status === "written") : all;
    const job: SeriesJob = {
      series: s,
      root,
      stem: ps.nifti!,
      frames: ps.frames,
      files: files.map((i) => ({ index: i, path: plan.files[i].input.path })),
      identified: !p.deidentify,
    };
    if (files.length === 0) {
      // With both: every file was quarantined as DICOM, with its reason; nothing to convert.
      onOutcome(
        {
          series: s,
          stem: job.stem,
          volumes: [],
          notConverted: "no file of the series was written",
          files: [],
          warnings: [],
        },
        all,
        false,
      );
      continue;
    }
    const inputs = job.files.map((f) => f.path);
    const prior = journal.series.get(job.stem);
    if (prior && sameList(prior.inputs, inputs) && (await outputsMatch(root, prior.outcome))) {
      onOutcome(reindexed(prior.outcome, job), all, true);
      continue;
    }
    if (!prior && !journal.claimedSeries.has(job.stem)) {
      const taken = niftiFamily(job.stem, job.frames).find(present);
      if (taken) {
        throw new Error(`${join(root, taken)} exists and was not written by dcmtidy: refusing to replace it`);
      }
    }
    inputsOf.set(s, inputs);
    jobs.push(job);
  }
  if (jobs.length) await append(jobs.map((j) => JSON.stringify({ claimSeries: j.stem }) + "\n").join(""));
  const record = async (o: SeriesOutcome) => {
    // A series with nothing written is redone next time, like a quarantined file.
    if (o.volumes.length) {
      await append(JSON.stringify({ series: o.stem, inputs: inputsOf.get(o.series), outcome: o }) + "\n");
    }
    onOutcome(o, mySeries.get(o.series)!, false);
  };
  if ((opts.workers ?? 0) > 0 && jobs.length > 0) {
    if (p.deidentify && !opts.salt) throw new Error("sandboxed workers need the salt's bytes");
    await runSeriesInWorkers(p, { ...opts.overrides, salt: opts.salt }, jobs, opts.workers!, record);
  } else {
    for (const job of jobs) await record(await processSeries(job, session));
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Whether every output a series recorded is still there with the bytes it was written with. */
async function outputsMatch(root: string, o: SeriesOutcome): Promise<boolean> {
  for (const v of o.volumes) {
    for (const [path, sha] of [[v.nifti, v.niftiSha256], [v.sidecar, v.sidecarSha256]]) {
      if ((await sha256File(join(root, path)).catch(() => undefined)) !== sha) return false;
    }
  }
  return true;
}

/**
 * A finished series' outcome with this plan's file indices: the journal recorded its files in plan
 * order, and the plan may have moved them (files added or removed elsewhere in the input).
 */
function reindexed(o: SeriesOutcome, job: SeriesJob): SeriesOutcome {
  const to = new Map(o.files.map((f, k) => [f.index, job.files[k].index]));
  return {
    ...o,
    series: job.series,
    volumes: o.volumes.map((v) => ({ ...v, files: v.files.map((i) => to.get(i)!) })),
    files: o.files.map((f) => ({ ...f, index: to.get(f.index)! })),
  };
}

/** Raw copies of quarantined files go to the quarantine folder (outside the output root), if any. */
async function copyQuarantined(
  plan: Plan,
  mine: readonly number[],
  outcomes: Map<number, FileOutcome>,
): Promise<void> {
  const q = plan.protocol.quarantine;
  if (!q) return;
  for (const i of mine) {
    const f = plan.files[i];
    const quarantined = f.status === "quarantine" || outcomes.get(i)?.status === "quarantined";
    if (!quarantined) continue;
    const dest = join(q, f.input.rel);
    await Deno.mkdir(dirname(dest), { recursive: true });
    if (!(await exists(dest))) await Deno.copyFile(f.input.path, dest);
  }
}
