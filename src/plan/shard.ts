/**
 * Sharding: one protocol run on many machines with no coordination. Every shard computes the same
 * plan (same inputs, same order, same keyed names, same collision decisions) and executes only the
 * files whose study hashes to it, so a study and its folders live on exactly one shard and the
 * merged result is the single run's, byte for byte.
 */
import { sha256 } from "@noble/hashes/sha2";
import type { ScannedFile } from "../scan/scan.ts";
import type { FileList } from "./file_records.ts";
import { ShardError } from "./errors.ts";

/** Shard `k` of `n` (1-based). */
export interface Shard {
  /** This shard's number, from 1 to `n`. */
  readonly k: number;
  /** How many shards the work is split into. */
  readonly n: number;
}

/** Largest shard count accepted: far beyond any cluster, small enough to catch a typo. */
export const MAX_SHARDS = 100_000;

function checked(k: number, n: number, source: string): Shard {
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_SHARDS) {
    throw new ShardError(`${source}: the shard count must be a whole number from 1 to ${MAX_SHARDS}`);
  }
  if (!Number.isSafeInteger(k) || k < 1 || k > n) {
    throw new ShardError(`${source}: the shard number must be from 1 to ${n} (shards are numbered from 1)`);
  }
  return { k, n };
}

const wholeNumber = (
  text: string | undefined,
) => (text !== undefined && /^\d+$/.test(text.trim()) ? Number(text) : NaN);

/** Parse `K/N` (as in `--shard 2/4`). */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new ShardError(`--shard ${JSON.stringify(text)}: expected K/N, as in --shard 2/4`);
  return checked(Number(m[1]), Number(m[2]), `--shard ${text}`);
}

/**
 * The shard a cluster scheduler assigned: a Slurm job array (`SLURM_ARRAY_TASK_ID` counted from
 * `SLURM_ARRAY_TASK_MIN`, so `--array=0-3` and `--array=1-4` both work, and
 * `SLURM_ARRAY_TASK_COUNT`), or a Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`, 0-based, with
 * `shards` from `--shards N`).
 */
export function shardFromEnv(env: (name: string) => string | undefined, shards?: number): Shard {
  const slurmId = env("SLURM_ARRAY_TASK_ID");
  if (slurmId !== undefined) {
    const id = wholeNumber(slurmId);
    const min = wholeNumber(env("SLURM_ARRAY_TASK_MIN") ?? "0");
    const count = wholeNumber(env("SLURM_ARRAY_TASK_COUNT"));
    if (Number.isNaN(count)) {
      throw new ShardError("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not a number");
    }
    if (shards !== undefined && shards !== count) {
      throw new ShardError(`--shards ${shards} disagrees with SLURM_ARRAY_TASK_COUNT=${count}`);
    }
    const max = wholeNumber(env("SLURM_ARRAY_TASK_MAX"));
    if (!Number.isNaN(max) && max - min + 1 !== count) {
      // --array=1-8:2 or 1,3,7: task numbers are not 1..N, so shards would be missed.
      throw new ShardError(
        `the job array must be a contiguous range (as in --array=1-${count}); it runs tasks ${min} to ${max}`,
      );
    }
    return checked(id - min + 1, count, "SLURM_ARRAY_TASK_ID");
  }
  const index = env("JOB_COMPLETION_INDEX");
  if (index !== undefined) {
    if (shards === undefined) {
      throw new ShardError("JOB_COMPLETION_INDEX is set: pass --shards N (the Job's completions)");
    }
    const i = wholeNumber(index);
    if (Number.isNaN(i) || i >= shards) {
      throw new ShardError(
        `JOB_COMPLETION_INDEX=${JSON.stringify(index)}: it must be a whole number from 0 to ${shards - 1} ` +
          `(Kubernetes counts from 0; --shards ${shards} must be the Job's completions)`,
      );
    }
    return checked(i + 1, shards, "JOB_COMPLETION_INDEX");
  }
  throw new ShardError(
    "--shard-from-env: neither SLURM_ARRAY_TASK_ID (Slurm job array) nor JOB_COMPLETION_INDEX (Kubernetes Indexed Job) is set",
  );
}

/**
 * The shard (1-based) a scanned file belongs to: a hash of its original StudyInstanceUID, so a
 * study stays together; files without one (not DICOM, unreadable) go by their path relative to
 * the input root (not the absolute path: shards may mount the input at different places). `memo`
 * keeps each key's shard (a study's files ask again and again).
 */
export function shardOf(file: ScannedFile, n: number, memo?: Map<string, number>): number {
  if (n === 1) return 1;
  const key = file.header?.studyUID ? `study:${file.header.studyUID}` : `path:${file.rel}`;
  const known = memo?.get(key);
  if (known !== undefined) return known;
  // SHA-256 in JavaScript, not node:crypto's `createHash`, whose native hash objects' memory stays
  // in the C heap: the workers of a shard's run hash every file they survey.
  const h = sha256(utf8.encode(key));
  const shard = ((((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0) % n) + 1;
  memo?.set(key, shard);
  return shard;
}

const utf8 = new TextEncoder();

/** `K-of-N`, the folder name of a shard's state. */
export function shardName(s: Shard): string {
  return `${s.k}-of-${s.n}`;
}

/**
 * The files (indices into `plan.files`) shard `shard` runs; every file without a shard. A file goes
 * by its study (`shardOf`), except that with NIfTI output a file to write goes with its series' first
 * file: a series is converted whole, by one shard, even if (broken data) it spans studies.
 */
export function shardFiles(
  plan: {
    readonly protocol: { readonly output: { readonly format: string } };
    readonly files: FileList<{
      readonly input: ScannedFile;
      readonly status: string;
      readonly series?: number;
    }>;
    readonly series: readonly { readonly representative: number }[];
  },
  shard: Shard | undefined,
): readonly number[] {
  if (!shard) return Array.from({ length: plan.files.length }, (_, i) => i);
  // A plan's files do not change once it is made, and a shard's run asks three times (its summary
  // line, its progress, its work): each answer is a pass over every file, which past the plan's
  // memory bound reads each back from disk (about 1 s at 300,000 files).
  const last = answers.get(plan);
  if (
    last && last.files === plan.files && last.length === plan.files.length && sameShard(last.shard, shard)
  ) {
    return last.mine;
  }
  const mine = shardFilesOf(plan, shard);
  answers.set(plan, { files: plan.files, length: plan.files.length, shard, mine });
  return mine;
}

/** `shardFiles`' last answer for each plan (one plan at a time, in a run). */
const answers = new WeakMap<
  object,
  { files: object; length: number; shard: Shard; mine: readonly number[] }
>();

const sameShard = (a: Shard, b: Shard) => a.k === b.k && a.n === b.n;

/** `shardFiles` for a shard: a pass over the plan's files. */
function shardFilesOf(plan: Parameters<typeof shardFiles>[0], shard: Shard): readonly number[] {
  const nifti = plan.protocol.output.format !== "dicom";
  // A study's files hash alike: one hash per study, not per file.
  const memo = new Map<string, number>();
  // With NIfTI, each series' shard, from its first file (asked once: the files may be read back
  // from disk, where going back to the first file for every one would cost a read each).
  const bySeries = new Map<number, number>();
  const mine: number[] = [];
  for (const [i, f] of plan.files.entries()) {
    let k: number;
    if (nifti && f.status === "write" && f.series !== undefined) {
      let known = bySeries.get(f.series);
      if (known === undefined) {
        known = shardOf(plan.files.at(plan.series[f.series].representative)!.input, shard.n, memo);
        bySeries.set(f.series, known);
      }
      k = known;
    } else k = shardOf(f.input, shard.n, memo);
    if (k === shard.k) mine.push(i);
  }
  return mine;
}
