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
import { runInWorkers } from "./pool.ts";
import { writeReports } from "./reports.ts";
import { type Shard, shardOf } from "../plan/shard.ts";
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
  /** After each file: files done, files to do, and the input bytes of the files done. */
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
  readonly durationMs: number;
  readonly notes: string[];
}

/**
 * The journal: "claim" lines name the outputs a run is about to produce (written before any of
 * them is started), full entries the ones it finished. A file a killed run renamed into place
 * but did not record is claimed, so the next run knows it is its own and redoes it.
 */
async function readJournal(path: string): Promise<{ done: Map<string, JournalEntry>; claimed: Set<string> }> {
  const done = new Map<string, JournalEntry>();
  const claimed = new Set<string>();
  let text = "";
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { done, claimed };
    throw e;
  }
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const entry = JSON.parse(line) as JournalEntry | { claim: string };
      if ("claim" in entry) claimed.add(entry.claim);
      else done.set(entry.dest, entry);
    } catch {
      // A line cut by a crash: that file is simply redone.
    }
  }
  return { done, claimed };
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
  const mine = plan.files.map((f, i) => ({ f, i }))
    .filter(({ f }) => !shard || shardOf(f.input, shard.n) === shard.k).map(({ i }) => i);
  const state = shard ? shardStatePath(root, shard) : join(root, STATE_DIR);
  await Deno.mkdir(state, { recursive: true });
  if (shard) await clearShardPart(root, shard);
  const journalPath = join(state, "journal.jsonl");
  const { done: journal, claimed } = await readJournal(journalPath);
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
  await removePartials(toWrite.map(({ f }) => join(root, f.dest!)));
  let done = 0;
  let bytes = 0;
  let resumed = 0;
  const jobs: FileJob[] = [];
  for (const { f, i } of toWrite) {
    const dest = join(root, f.dest!);
    const prior = journal.get(f.dest!);
    if (
      prior && prior.input === f.input.path &&
      (await sha256File(dest).catch(() => undefined)) === prior.sha256
    ) {
      outcomes.set(i, { ...prior.outcome, index: i });
      resumed++;
      bytes += f.input.size;
      opts.onProgress?.(++done, toWrite.length, bytes);
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
    opts.onProgress?.(++done, toWrite.length, bytes);
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
  await copyQuarantined(plan, mine, outcomes);
  const summary = {
    written: [...outcomes.values()].filter((o) => o.status === "written").length,
    skipped: mine.filter((i) => plan.files[i].status === "skip").length,
    quarantined: mine.filter((i) => plan.files[i].status === "quarantine").length +
      [...outcomes.values()].filter((o) => o.status === "quarantined").length,
    resumed,
    outcomes,
    durationMs: performance.now() - started,
    notes,
  };
  const meta = { version: VERSION, rules: RULES_EDITION };
  if (shard) await writeShardPart(plan, shard, mine, summary, meta);
  else await writeReports(plan, summary, { ...meta, statePath: state });
  return summary;
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
