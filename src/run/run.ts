/**
 * Executing a plan: produce every "write" file, record each finished one in a journal under
 * `<output>/.dcmtidy/`, and write the reports. Re-running resumes: files whose output still
 * matches the journal (and whose input has not changed since) are not redone, so a finished run
 * run again changes nothing. Outputs an earlier run wrote that the plan no longer makes are
 * removed. The journal never holds original identities: the key file's rows are made from the
 * plan's original headers.
 */
import { basename, dirname, join } from "node:path";
import { configFromProtocol } from "../deid/config.ts";
import { DeidSession } from "../deid/engine.ts";
import type { Keys } from "../deid/keys.ts";
import { readLookupTable } from "../protocol/lookup.ts";
import { RULES_EDITION } from "../standard/ps3_15.ts";
import { VERSION } from "../version.ts";
import type { Plan } from "../plan/plan.ts";
import type { FinishedOutput } from "../plan/survey.ts";
import {
  type FileJob,
  type FileOutcome,
  hasIdentity,
  identityOf,
  type InputStamp,
  type OutputIdentity,
  placeFile,
  processFile,
  sameStamp,
  stampOf,
} from "./process.ts";
import { runInWorkers, runSeriesInWorkers } from "./pool.ts";
import { processSeries, type SeriesJob, type SeriesOutcome } from "./series.ts";
import { niftiFamily } from "../nifti/convert.ts";
import {
  ensurePrivateDir,
  type KeyRow,
  mergeKeyFile,
  PRIVATE_FILE,
  readKeyFile,
  setMode,
  writeAtomically,
  writeReports,
} from "./reports.ts";
import { type Shard, shardFiles } from "../plan/shard.ts";
import { clearShardPart, saltFingerprint, shardStatePath, STATE_DIR, writeShardPart } from "./shards.ts";
import { sha256File } from "../util/hash.ts";
import { exists } from "../dicom/io.ts";
import { fsReason, RunRefusal } from "./errors.ts";
import { seriesFailed } from "./series.ts";

/**
 * One journal line: a finished output and how to tell it is still what was written: its identity
 * on disk (inode, size, modification time: see `OutputIdentity`), or for a sort-only link, the
 * kind of link (a hard link is the input's inode, a symbolic link names the input). Journals of
 * dcmtidy 0.1 before this hashed every output (`sha256`): their entries are checked that way.
 */
interface JournalEntry {
  readonly input: string;
  readonly dest: string;
  readonly output?: OutputIdentity;
  readonly link?: "hard" | "symbolic";
  readonly sha256?: string;
  /** The input's modification time (ms) before it was read: a changed input is done again. */
  readonly inputMtime?: number;
  /** Without the original PatientID and StudyInstanceUID (see `withoutOriginals`). */
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
   * `<output>/.dcmtidy/shards/K-of-N/` for `mergeShards` (the key file is written by each shard).
   */
  readonly shard?: Shard;
  /**
   * Whenever a file's output is in place (written now, or found finished): how many are, so far.
   * What an interrupted run keeps.
   */
  readonly onKept?: (kept: number) => void;
}

/**
 * What a run did, for the summary and the exit code. Every file of the run (of its shard) is counted
 * once in `written`, `skipped` or `quarantined`; `resumed` is the part of `written` an earlier run
 * had already done, so `written - resumed` files were written by this run.
 */
export interface RunSummary {
  /** Files whose output is in place after the run: written now or by an earlier run (`resumed`). */
  readonly written: number;
  /** Files the plan skipped: not DICOM, a DICOMDIR, a duplicate, or not a regular file (a FIFO, a link). */
  readonly skipped: number;
  /** Quarantined by the plan or during the run. */
  readonly quarantined: number;
  /** Of `written`, the files an earlier run had finished: not redone. */
  readonly resumed: number;
  /**
   * Each file's outcome, by index in the plan, without the original PatientID and StudyInstanceUID
   * (they are in the plan's headers, and in the key file).
   */
  readonly outcomes: ReadonlyMap<number, FileOutcome>;
  /** With NIfTI output: what became of each series (by index in `Plan.series`) this run covered. */
  readonly series: ReadonlyMap<number, SeriesOutcome>;
  /** NIfTI volumes written (or found finished). */
  readonly volumes: number;
  /** Wall-clock time of this run, in milliseconds. */
  readonly durationMs: number;
  /** Run-wide notes for the user (a hardlink fell back to a copy, stale outputs removed, ...). */
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
  let text = "";
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return parseJournal("");
    throw e;
  }
  await setMode(path, PRIVATE_FILE);
  const journal = parseJournal(text);
  // A journal of an older dcmtidy held original identities: rewrite it without them.
  if (text.includes('"originalPatientId"') || text.includes('"originalStudyUID"')) {
    const lines = [
      ...[...journal.claimed].map((claim) => ({ claim })),
      ...[...journal.claimedSeries].map((claimSeries) => ({ claimSeries })),
      ...journal.done.values(),
      ...journal.series.values(),
    ];
    await writeAtomically(path, lines.map((l) => JSON.stringify(l) + "\n").join(""), { mode: PRIVATE_FILE });
  }
  return journal;
}

/** A journal's lines, replayed. */
function parseJournal(text: string): Journal {
  const journal: Journal = {
    done: new Map(),
    claimed: new Set(),
    series: new Map(),
    claimedSeries: new Set(),
  };
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const entry = JSON.parse(line) as JournalLine;
      if ("claim" in entry) journal.claimed.add(entry.claim);
      else if ("claimSeries" in entry) journal.claimedSeries.add(entry.claimSeries);
      else if ("removed" in entry) {
        journal.done.delete(entry.removed);
        journal.claimed.delete(entry.removed);
      } else if ("removedSeries" in entry) {
        journal.series.delete(entry.removedSeries);
        journal.claimedSeries.delete(entry.removedSeries);
      } else if ("inputs" in entry) {
        journal.series.set(entry.series, { ...entry, outcome: seriesWithoutOriginals(entry.outcome) });
      } else journal.done.set(entry.dest, { ...entry, outcome: withoutOriginals(entry.outcome) });
    } catch {
      // A line cut by a crash: that file is simply redone.
    }
  }
  return journal;
}

/**
 * The de-identified outputs the journal of a run into `root` (of `shard`) has finished, by
 * destination: what a plan that writes ahead leaves to the run to resume (`PlanOptions.finished`).
 * Reads the journal only; empty when there is none.
 */
export async function finishedOutputs(root: string, shard?: Shard): Promise<Map<string, FinishedOutput>> {
  const state = shard ? shardStatePath(root, shard) : join(root, STATE_DIR);
  const text = await Deno.readTextFile(join(state, "journal.jsonl")).catch(() => "");
  const out = new Map<string, FinishedOutput>();
  for (const e of parseJournal(text).done.values()) {
    if (e.output && !e.link) out.set(e.dest, { input: e.input, inputMtime: e.inputMtime, output: e.output });
  }
  return out;
}

/** The lines a journal holds. */
type JournalLine =
  | JournalEntry
  | SeriesEntry
  | { claim: string }
  | { claimSeries: string }
  /** An output an earlier run wrote, removed because the plan no longer makes it. */
  | { removed: string }
  | { removedSeries: string };

/**
 * An outcome without the original PatientID and StudyInstanceUID: they link the pseudonym to the
 * patient, which only the key file (outside the output root) may do.
 */
export function withoutOriginals(o: FileOutcome): FileOutcome {
  const { originalPatientId: _id, originalStudyUID: _study, ...rest } = o;
  return rest;
}

function seriesWithoutOriginals(o: SeriesOutcome): SeriesOutcome {
  return { ...o, files: o.files.map(withoutOriginals) };
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
 * Rename a staged output to its destination (making its folder), if it is still the file the plan
 * wrote; false when it is not, or cannot be moved.
 */
function moveStaged(staged: string, dest: string, identity: OutputIdentity): boolean {
  if (!hasIdentity(staged, identity)) return false;
  try {
    try {
      Deno.renameSync(staged, dest);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound) || !statSync(staged)) throw e;
      Deno.mkdirSync(dirname(dest), { recursive: true });
      Deno.renameSync(staged, dest);
    }
    return true;
  } catch {
    return false;
  }
}

/** `Deno.statSync`, or undefined when the path cannot be stat'ed (gone, a permission). */
function statSync(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.statSync(path);
  } catch {
    return undefined;
  }
}

/** `Deno.lstatSync`, or undefined when there is nothing at the path. */
function lstatSync(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch {
    return undefined;
  }
}

/** Whether the output at `dest` is still what the journal entry recorded (see `JournalEntry`). */
async function isJournaled(
  entry: Pick<JournalEntry, "output" | "link" | "input" | "sha256">,
  dest: string,
): Promise<boolean> {
  if (entry.link === "symbolic") return (await Deno.readLink(dest).catch(() => undefined)) === entry.input;
  if (entry.link === "hard") {
    const out = lstatSync(dest);
    const input = statSync(entry.input);
    return !!out?.isFile && !!input && out.ino !== null && out.ino === input.ino && out.dev === input.dev;
  }
  if (entry.output) return hasIdentity(dest, entry.output);
  return entry.sha256 !== undefined && (await sha256File(dest).catch(() => undefined)) === entry.sha256;
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

/**
 * Where the output root cannot be: told from `stat` alone, without writing anything (for `plan`).
 * Undefined when the root is a folder or can be made.
 */
export async function outputRootProblem(root: string): Promise<string | undefined> {
  const st = await Deno.stat(root).catch(() => undefined);
  if (st) return st.isDirectory ? undefined : `the output root ${root} exists and is not a folder`;
  for (let dir = dirname(root);; dir = dirname(dir)) {
    const up = await Deno.stat(dir).catch(() => undefined);
    if (up) {
      return up.isDirectory ? undefined : `the output root ${root} cannot be made: ${dir} is not a folder`;
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * Make sure the output root is a folder this process can write in, before anything is planned or
 * written: make it (and its missing parents) if need be, and create and remove a probe file in it.
 * Returns the folders it made, outermost first (a run the user then declines removes them).
 * Throws `RunRefusal` naming the path otherwise.
 */
export async function prepareOutputRoot(root: string): Promise<string[]> {
  const problem = await outputRootProblem(root);
  if (problem) throw new RunRefusal(problem);
  const missing: string[] = [];
  for (let dir = root; !(await exists(dir)); dir = dirname(dir)) {
    missing.unshift(dir);
    if (dirname(dir) === dir) break;
  }
  for (const dir of missing) {
    try {
      await Deno.mkdir(dir);
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) continue;
      throw new RunRefusal(`the output root ${root} cannot be made: ${dirname(dir)}: ${fsReason(e)}`);
    }
  }
  const probe = join(root, `.dcmtidy-probe-${crypto.randomUUID().slice(0, 8)}`);
  try {
    await Deno.writeFile(probe, new Uint8Array(0), { createNew: true });
    await Deno.remove(probe);
  } catch (e) {
    throw new RunRefusal(`the output root ${root} is not writable: ${fsReason(e)}`);
  }
  return missing;
}

/**
 * Execute a plan. Inputs are only read; outputs go under the output root, reports where declared.
 * Outputs the plan wrote ahead (`Plan.staging`) are renamed into place; the staging folder is
 * removed whatever happens.
 */
export async function runPlan(plan: Plan, opts: RunOptions = {}): Promise<RunSummary> {
  try {
    return await execute(plan, opts);
  } finally {
    if (plan.staging) await Deno.remove(plan.staging, { recursive: true }).catch(() => {});
  }
}

async function execute(plan: Plan, opts: RunOptions): Promise<RunSummary> {
  const started = performance.now();
  const p = plan.protocol;
  if (plan.errors.length) throw new Error(`the plan has errors:\n${plan.errors.join("\n")}`);
  const root = p.output.root;
  const shard = opts.shard;
  const format = p.output.format;
  const mine = shardFiles(plan, shard);
  const d = p.deidentify;
  await prepareOutputRoot(root);
  // The key file is checked before anything is written: a file that is not ours stops the run here.
  const key = d ? p.key : undefined;
  if (key) await readKeyFile(key);
  await ensurePrivateDir(join(root, STATE_DIR));
  if (shard) {
    await ensurePrivateDir(join(root, STATE_DIR, "shards"));
    await ensurePrivateDir(shardStatePath(root, shard));
  }
  const state = shard ? shardStatePath(root, shard) : join(root, STATE_DIR);
  if (shard) await clearShardPart(root, shard);
  const journalPath = join(state, "journal.jsonl");
  const journal = await readJournal(journalPath);
  const { done: finished, claimed } = journal;
  let session: DeidSession | undefined;
  if (d) {
    if (!opts.keys) throw new Error("a de-identifying run needs the salt's keys");
    const lookup = d.lookupFile ? await readLookupTable(d.lookupFile) : undefined;
    session = new DeidSession(configFromProtocol(p, lookup), opts.keys);
  }
  // Appended line by line through one open file (not an open and close per file, on the thread
  // that feeds the workers): a kill can cut at most the last line, which readJournal skips.
  using journalFile = await Deno.open(journalPath, { append: true, create: true, mode: PRIVATE_FILE });
  const encoder = new TextEncoder();
  let appended = Promise.resolve();
  const append = (text: string): Promise<void> =>
    appended = appended.then(async () => {
      const bytes = encoder.encode(text);
      for (let at = 0; at < bytes.length;) at += await journalFile.write(bytes.subarray(at));
    });
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
  let kept = 0;
  const keep = () => opts.onKept?.(++kept);
  const jobs: FileJob[] = [];
  const mtimes = new Map<number, number | undefined>();
  const stamps = new Map<number, InputStamp>();
  for (const { f, i } of dicom) {
    const dest = join(root, f.dest!);
    const prior = finished.get(f.dest!);
    // Taken before the input is read: an input changed after this is done again next time.
    // Blocking: the inode is in memory after the scan, and an awaited call per file on the thread
    // that feeds the workers cost more than the stat.
    const st = statSync(f.input.path);
    const mtime = st?.mtime?.getTime();
    if (st) stamps.set(i, stampOf(st));
    mtimes.set(i, mtime);
    if (
      prior && prior.input === f.input.path &&
      (prior.inputMtime === undefined || prior.inputMtime === mtime) &&
      (await isJournaled(prior, dest))
    ) {
      outcomes.set(i, { ...prior.outcome, index: i });
      resumed++;
      bytes += f.input.size;
      opts.onProgress?.(++done, total, bytes);
      keep();
    } else {
      if (!prior && !claimed.has(f.dest!) && lstatSync(dest) !== undefined) {
        throw new RunRefusal(`${dest} exists and was not written by dcmtidy: refusing to replace it`);
      }
      jobs.push({ index: i, path: f.input.path, dest, mode: p.output.mode });
    }
  }
  const record = async (result: FileOutcome) => {
    const outcome = withoutOriginals(result);
    const f = plan.files[outcome.index];
    outcomes.set(outcome.index, outcome);
    if (outcome.linkFellBack && !notes.some((n) => n.startsWith("hardlink"))) {
      notes.push(
        "hardlink: some files could not be linked (output on another device than the input, or links " +
          "to files of other users refused), so they were copied",
      );
    }
    if (outcome.status === "written") {
      const linked = !d && p.output.mode !== "copy" && !outcome.linkFellBack;
      const { output, ...rest } = outcome;
      const entry: JournalEntry = {
        input: f.input.path,
        dest: f.dest!,
        // A hard link also keeps its own identity: once its input is replaced, the link is still
        // the file this run made, which removeStaleOutputs may remove.
        ...(linked
          ? p.output.mode === "symlink"
            ? { link: "symbolic" }
            : { link: "hard", output: identityOf(join(root, f.dest!)) }
          : { output }),
        inputMtime: mtimes.get(outcome.index),
        outcome: rest,
      };
      await append(JSON.stringify(entry) + "\n");
      keep();
    }
    bytes += f.input.size;
    opts.onProgress?.(++done, total, bytes);
  };
  if (jobs.length) {
    const claims = jobs.map((j) => JSON.stringify({ claim: plan.files[j.index].dest }) + "\n").join("");
    await append(claims);
  }
  // Written ahead by the plan, de-identified as the workers would: renamed into place. One that
  // cannot be (its staged file gone) is written as any other.
  const unstaged: FileJob[] = [];
  for (const job of jobs) {
    const staged = plan.files[job.index].staged;
    // Its input must be as the plan read it (an input changed since is written again), and the
    // staged file the one the plan wrote.
    const usable = staged !== undefined && sameStamp(staged.input, stamps.get(job.index)) &&
      staged.outcome.output !== undefined && moveStaged(staged.path, job.dest, staged.outcome.output);
    if (usable) await record({ index: job.index, ...staged.outcome });
    else unstaged.push(job);
  }
  jobs.splice(0, jobs.length, ...unstaged);
  if (!d) {
    // Sort only: the plan read each header (its report columns are in the plan), so nothing is
    // read again and no worker is needed; links have to be made here anyway (Deno asks for write
    // access to a link's target), and a copy is one call into the kernel.
    for (const job of jobs) {
      const f = plan.files[job.index];
      await record(
        await placeFile(job).then(
          ({ linkFellBack }): FileOutcome => ({
            index: job.index,
            status: "written",
            bytes: f.input.size,
            fields: f.fields ?? {},
            linkFellBack,
            output: job.mode === "copy" || linkFellBack ? identityOf(job.dest) : undefined,
          }),
          (e): FileOutcome => ({ index: job.index, status: "quarantined", reason: (e as Error).message }),
        ),
      );
    }
  } else if ((opts.workers ?? 0) > 0 && jobs.length > 0) {
    if (d && !opts.salt) throw new Error("sandboxed workers need the salt's bytes");
    await runInWorkers(p, { ...opts.overrides, salt: opts.salt }, jobs, opts.workers!, record);
  } else {
    for (const job of jobs) {
      // As in a worker: whatever happens to one file (its input removed meanwhile), the run goes on.
      await record(
        await processFile(job, session!).catch((e): FileOutcome => ({
          index: job.index,
          status: "quarantined",
          reason: (e as Error).message,
        })),
      );
    }
  }
  const series = new Map<number, SeriesOutcome>();
  if (mySeries.size) {
    const progress = (files: readonly number[]) => {
      for (const i of files) {
        bytes += plan.files[i].input.size;
        opts.onProgress?.(++done, total, bytes);
      }
    };
    await convertSeriesOf(plan, mySeries, outcomes, journal, append, session, opts, (o, files, again) => {
      series.set(o.series, o);
      if (format === "nifti") {
        for (const fo of o.files) {
          outcomes.set(fo.index, fo);
          if (fo.status !== "written") continue;
          if (again) resumed++;
          keep();
        }
      }
      progress(files);
    });
  }
  await copyQuarantined(plan, mine, outcomes);
  notes.push(...await removeStaleOutputs(plan, journal, append));
  const summary = {
    written: [...outcomes.values()].filter((o) => o.status === "written").length,
    skipped: mine.filter((i) => plan.files[i].status === "skip").length,
    quarantined:
      mine.filter((i) => plan.files[i].status === "quarantine" || outcomes.get(i)?.status === "quarantined")
        .length,
    resumed,
    outcomes,
    series,
    volumes: [...series.values()].reduce((n, o) => n + o.volumes.length, 0),
    durationMs: performance.now() - started,
    notes,
  };
  if (key) await mergeKeyFile(key, keyRows(plan, outcomes));
  const meta = { version: VERSION, rules: RULES_EDITION };
  if (shard) {
    const salt = d && opts.keys ? saltFingerprint(opts.keys) : undefined;
    await writeShardPart(plan, shard, mine, summary, { ...meta, salt });
  } else await writeReports(plan, summary, { ...meta, statePath: state });
  return summary;
}

/**
 * The key file's rows for the files written: the original PatientID and StudyInstanceUID as the
 * scan read them from the input's header, with what the run made of them. Files without a
 * PatientID have no row (their subject is their study, named by its pseudonym).
 */
export function keyRows(plan: Plan, outcomes: ReadonlyMap<number, FileOutcome>): KeyRow[] {
  const rows = new Map<string, KeyRow>();
  for (const o of outcomes.values()) {
    const original = plan.files[o.index].input.header;
    if (o.status !== "written" || !original?.patientId) continue;
    const row = [
      original.patientId,
      o.pseudoId ?? "",
      String(o.dayOffset ?? ""),
      original.studyUID ?? "",
      o.newStudyUID ?? "",
    ];
    rows.set(JSON.stringify(row), row);
  }
  return [...rows.values()];
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
        throw new RunRefusal(
          `${join(root, taken)} exists and was not written by dcmtidy: refusing to replace it`,
        );
      }
    }
    inputsOf.set(s, inputs);
    jobs.push(job);
  }
  if (jobs.length) await append(jobs.map((j) => JSON.stringify({ claimSeries: j.stem }) + "\n").join(""));
  const record = async (result: SeriesOutcome) => {
    const o = seriesWithoutOriginals(result);
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
    for (const job of jobs) {
      await record(await processSeries(job, session).catch((e) => seriesFailed(job, (e as Error).message)));
    }
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

/**
 * Raw copies of quarantined files go to the quarantine folder (outside the output root), if any. A
 * copy that fails (the input is gone, a permission) is told in the file's reason; the run goes on.
 */
async function copyQuarantined(
  plan: Plan,
  mine: readonly number[],
  outcomes: Map<number, FileOutcome>,
): Promise<void> {
  const q = plan.protocol.quarantine;
  if (!q) return;
  for (const i of mine) {
    const f = plan.files[i];
    const o = outcomes.get(i);
    const quarantined = f.status === "quarantine" || o?.status === "quarantined";
    if (!quarantined) continue;
    const dest = join(q, f.input.rel);
    try {
      await Deno.mkdir(dirname(dest), { recursive: true });
      if (!(await exists(dest))) await Deno.copyFile(f.input.path, dest);
    } catch (e) {
      const why = `not copied to quarantine: ${fsReason(e)}`;
      const reason = o?.status === "quarantined" ? o.reason : f.reason;
      outcomes.set(i, {
        ...(o ?? { index: i }),
        status: "quarantined",
        reason: reason ? `${reason}; ${why}` : why,
      });
    }
  }
}

/**
 * Remove what an earlier run wrote from an input of this plan to a place the plan no longer makes
 * (the input changed, or the protocol's names did), so the tree holds only what this run reports.
 * Only outputs that still have the bytes the journal recorded are removed, and the folders they
 * leave empty; a changed one is left in place and told. A shard sees only its own journal, and the
 * whole plan's destinations, so it never removes what another shard makes. Returns the notes.
 */
async function removeStaleOutputs(
  plan: Plan,
  journal: Journal,
  append: (text: string) => Promise<void>,
): Promise<string[]> {
  const p = plan.protocol;
  const root = p.output.root;
  const inputs = new Set(plan.files.map((f) => f.input.path));
  const dests = new Set(
    p.output.format === "nifti" ? [] : plan.files.flatMap((f) => (f.status === "write" ? [f.dest!] : [])),
  );
  const stems = new Set(p.output.format === "dicom" ? [] : plan.series.flatMap((s) => s.nifti ?? []));
  let removed = 0;
  const changed: string[] = [];
  const lines: string[] = [];
  /**
   * Remove `rel` if it is what the journal recorded: a file with its hash, or (an entry of a
   * sort-only run) the link it made to its input; a symbolic link to the input counts for entries
   * of older runs, which hashed links.
   */
  const removeIfOurs = async (
    rel: string,
    recorded: Pick<JournalEntry, "output" | "link" | "input" | "sha256">,
  ) => {
    const path = join(root, rel);
    const link = await Deno.readLink(path).catch(() => undefined);
    // A hard link is the file it was made as while it is that inode, whatever was done to the
    // input through it since (an edit in place changes the size and time of both).
    const ours = (!p.deidentify && link === recorded.input) ||
      (recorded.output
        ? hasIdentity(path, recorded.output, { inodeOnly: recorded.link === "hard" })
        : await isJournaled(recorded, path));
    if (!ours) {
      if (link !== undefined || (await exists(path))) changed.push(rel);
      return;
    }
    await Deno.remove(path);
    removed++;
    for (let dir = dirname(path); dir.length > root.length && dir.startsWith(root); dir = dirname(dir)) {
      if (!(await Deno.remove(dir).then(() => true, () => false))) break; // not empty: stop
    }
  };
  for (const e of journal.done.values()) {
    if (dests.has(e.dest) || !inputs.has(e.input)) continue;
    await removeIfOurs(e.dest, e);
    lines.push(JSON.stringify({ removed: e.dest }));
  }
  for (const e of journal.series.values()) {
    if (stems.has(e.series) || !e.inputs.some((i) => inputs.has(i))) continue;
    for (const v of e.outcome.volumes) {
      await removeIfOurs(v.nifti, { sha256: v.niftiSha256, input: "" });
      await removeIfOurs(v.sidecar, { sha256: v.sidecarSha256, input: "" });
    }
    lines.push(JSON.stringify({ removedSeries: e.series }));
  }
  if (lines.length) await append(lines.map((l) => l + "\n").join(""));
  const notes: string[] = [];
  const outputs = (n: number) => `${n} output${n === 1 ? "" : "s"}`;
  if (removed) notes.push(`removed ${outputs(removed)} an earlier run wrote that the plan no longer makes`);
  if (changed.length) {
    // Names made from original values (sort only) are not shown.
    const which = p.deidentify
      ? `: ${changed.slice(0, 5).join(", ")}${changed.length > 5 ? ", ..." : ""}`
      : "";
    notes.push(
      `${outputs(changed.length)} an earlier run wrote that the plan no longer makes ${
        changed.length === 1 ? "was" : "were"
      } changed since, so left in place${which}`,
    );
  }
  return notes;
}
