/**
 * The run's state folder, `<output>/.dcmtidy/` (private to its owner): the journal, files.csv and
 * audit.json of a run, `shards/K-of-N/` for each shard's own, `scan/K-of-N.part` for a split scan's, and `staging-<random>/` folders where
 * a run's plan writes outputs ahead. This file owns that layout.
 *
 * @module
 */
import { join } from "node:path";
// The plan's own files, not its mod.ts: the command line's narrowing parent loads this file
// (through `STATE_DIR`) without the plan.
import type { PlanSpill } from "../plan/file_records.ts";
import { type Shard, shardName } from "../plan/shard.ts";
import { ensurePrivateDir, PRIVATE_DIR } from "../util/atomic.ts";

/** Where run state lives under the output root. */
export const STATE_DIR = ".dcmtidy";
/** The journal's file name, in a state folder. */
export const JOURNAL_FILE = "journal.jsonl";
/** What a staging folder's name starts with. */
const STAGING_PREFIX = "staging-";
/** A staging folder untouched this long is a killed run's (a live run's changes as it writes and renames). */
const ABANDONED_AFTER_MS = 24 * 60 * 60 * 1000;

/** The state folder of one shard. */
export function shardStatePath(outputRoot: string, shard: Shard): string {
  return join(outputRoot, STATE_DIR, "shards", shardName(shard));
}

/** Where `dcmtidy scan --shard K/N` leaves its part (see `src/plan/scan_part.ts`). */
export function scanPartsPath(outputRoot: string): string {
  return join(outputRoot, STATE_DIR, "scan");
}

/** The state folder of a run (of a shard, when given). */
export function statePath(outputRoot: string, shard?: Shard): string {
  return shard ? shardStatePath(outputRoot, shard) : join(outputRoot, STATE_DIR);
}

/** The journal of a run (of a shard, when given). */
export function journalPath(outputRoot: string, shard?: Shard): string {
  return join(statePath(outputRoot, shard), JOURNAL_FILE);
}

/** Make the state folder of a run (and of its shard), owner-only; returns its path. */
export async function ensureStateDir(outputRoot: string, shard?: Shard): Promise<string> {
  await ensurePrivateDir(join(outputRoot, STATE_DIR));
  if (shard) {
    await ensurePrivateDir(join(outputRoot, STATE_DIR, "shards"));
    await ensurePrivateDir(shardStatePath(outputRoot, shard));
  }
  return statePath(outputRoot, shard);
}

/**
 * Where a plan's records go past their bound (see `FileRecords`): the state folder, made when the
 * first one goes there, so a `plan` of fewer files makes nothing. A `plan` may write only there:
 * the folder is made with what is missing above it in one call (the output root with the usual
 * mode), then made owner-only.
 */
export function planSpill(outputRoot: string): PlanSpill {
  return {
    dir: () => {
      const dir = join(outputRoot, STATE_DIR);
      Deno.mkdirSync(dir, { recursive: true });
      Deno.chmodSync(dir, PRIVATE_DIR);
      return dir;
    },
  };
}

/** A new staging folder's path for a run (not made yet). */
export function newStagingPath(outputRoot: string): string {
  return join(outputRoot, STATE_DIR, `${STAGING_PREFIX}${crypto.randomUUID().slice(0, 8)}`);
}

/**
 * Remove the staging folders of runs that were killed (a run removes its own, even on Ctrl-C): any
 * not changed for a day (a day, not less: shards on machines whose clocks differ share the root).
 * What is in one is de-identified output, never anything identifying; and a run whose folder went
 * writes its files itself (a staged file must still be the one its plan wrote).
 */
export async function removeAbandonedStaging(outputRoot: string): Promise<void> {
  const state = join(outputRoot, STATE_DIR);
  for await (const e of Deno.readDir(state)) {
    if (!e.isDirectory || !e.name.startsWith(STAGING_PREFIX)) continue;
    const path = join(state, e.name);
    const mtime = (await Deno.stat(path).catch(() => undefined))?.mtime?.getTime() ?? 0;
    if (Date.now() - mtime > ABANDONED_AFTER_MS) {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    }
  }
}
