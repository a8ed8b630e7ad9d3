/**
 * Writing ahead (`run --yes`): the run hands its plan's survey workers the extra work of writing
 * each output as they read its file (a `SurveyAhead`), into a staging folder of the run's own under
 * `<output>/.dcmtidy/`, so every file is read and de-identified once. The run then renames each
 * staged output into place after its usual checks (`write_files.ts`), or writes the file itself when
 * the input changed since or the staged file is not the one written. The folder is removed
 * whatever happens, Ctrl-C included.
 *
 * @module
 */
import { join } from "node:path";
import type { DicomFile } from "../dicom/model.ts";
import { readDicomFileSync } from "../dicom/read_file.ts";
import type { ReusableBuffer } from "../dicom/reusable_buffer.ts";
import { writeDicomFileSync } from "../dicom/write_file.ts";
import type { Protocol } from "../protocol/protocol.ts";
import { classifyHeader } from "../scan/scan.ts";
import type { Listed } from "../scan/inputs.ts";
// From the files that own them, not the plan's mod.ts: a worker loads this module, and the plan
// layer as a whole (the plan's assembly, its pool, the NIfTI naming) is the main thread's.
import { type PlanContext, planFile, type Survey } from "../plan/survey.ts";
import { reportFields } from "../plan/report_fields.ts";
import { type Shard, shardOf } from "../plan/shard.ts";
import type { SurveyAhead } from "../plan/types.ts";
import { ensurePrivateDir, PRIVATE_DIR } from "../util/atomic.ts";
import {
  hasIdentity,
  identityOfInfo,
  type InputStamp,
  type OutputIdentity,
  stampOf,
} from "../util/file_identity.ts";
import { type FinishedOutput, type Journal, readJournal } from "./journal_index.ts";
import { compactOutcome, type FileOutcome, outcomeCodec } from "./process.ts";
import { Interner } from "../scan/intern.ts";
import { SpillMap } from "../util/spill_map.ts";
import type { SpillCodec } from "../util/spill_codec.ts";
import { journalPath, newStagingPath, removeAbandonedStaging, STATE_DIR } from "./state_dir.ts";

/**
 * An output written ahead, under a temporary name in the staging folder: the run renames it into
 * place instead of reading and de-identifying the file a second time.
 */
export interface StagedOutput {
  /** Its temporary path (in the staging folder, under the output root). */
  readonly path: string;
  /** The input before it was read: the run uses the staged output only if the input still is so. */
  readonly input: InputStamp;
  /** What the run records for it (the same as writing it in the run would give). */
  readonly outcome: Omit<FileOutcome, "index">;
}

/**
 * Inputs up to this size are read whole when written ahead (one open, one read); larger ones keep
 * their Pixel Data in the input, copied from it in pieces as the output is written (memory stays
 * at the copy buffer's 1 MiB).
 */
const STAGE_WHOLE_FILE_LIMIT = 1024 * 1024;

/** What the survey workers are told (`SurveyAhead.init`): where and what to write ahead. */
export interface StageInit {
  /** The staging folder (under the output root, this run's own). */
  readonly dir: string;
  /** Only this shard's files. */
  readonly shard?: Shard;
}

/** A run's staging: its folder, what the workers wrote into it, and what the plan is given. */
export interface Staging {
  /** The folder (made, owner-only). */
  readonly dir: string;
  /**
   * Outputs written ahead, by index in `Plan.files` (the run takes each out as it gets to it). Past
   * a bound they wait in a temporary file in the staging folder, not in memory: a plan of a
   * million files ends before the run takes the first.
   */
  readonly outputs: StagedOutputs;
  /** For `makePlan` (`PlanOptions.ahead`). */
  readonly ahead: SurveyAhead;
  /**
   * What the staged outcomes share, held once: the run records them through the same table, so a
   * value already in it is not looked up again.
   */
  readonly shared: Interner;
  /**
   * How the staged outcomes are held (what the files of a series share, once, by number): the run's
   * outcomes past their bound go through the same tables, not a second copy (see `outcomeCodec`).
   */
  readonly codec: SpillCodec<FileOutcome>;
  /**
   * The journal as the run found it (read once: the survey asks it which files an earlier run
   * finished, and the run then resumes them); closed when the folder is removed.
   */
  readonly journal: Journal;
  /** Remove the folder and what is in it (retrying for 2 s: a stopped worker may finish one file). */
  remove(): Promise<void>;
  /** The same, blocking, once (in a signal handler, just before the process exits). */
  removeSync(): void;
}

/** The temporary path of the output of the file at `index` in the plan, in the staging folder `dir`. */
function stagedPath(dir: string, index: number): string {
  // Not `join`, which normalises the path: 2 us a call, twice a file on the main thread. The worker
  // that writes it and the run that takes it make it alike.
  return `${dir}/${index}.partial`;
}

/**
 * The outputs written ahead, each held as one array of numbers until the run takes it: its outcome's
 * values that the files of a series share, by number (see `outcomeCodec`), its input's stamp, its
 * output's identity and size. Its path is not held: it is its index's in the staging folder. About
 * 140 bytes a file in memory, against about 450 as objects (a path, a stamp, an identity, an
 * outcome), and past the bound of its `SpillMap` a line of about 100 bytes on file.
 */
export class StagedOutputs {
  readonly #dir: string;
  readonly #held: SpillMap<number[]>;
  readonly #outcomes: SpillCodec<Omit<StagedOutput["outcome"], "output" | "bytes">>;

  /**
   * Outputs staged in `dir`; `inMemory`: how many are held before they go to a file there; `codec`:
   * how their outcomes are held (an `outcomeCodec`, which may be another map's too).
   */
  constructor(dir: string, inMemory?: number, codec: SpillCodec<FileOutcome> = outcomeCodec()) {
    this.#dir = dir;
    this.#held = new SpillMap<number[]>(dir, inMemory);
    this.#outcomes = codec;
  }

  /** How many are held. */
  get size(): number {
    return this.#held.size;
  }

  /**
   * Hold the output staged for the file at `index`; false (not held: the run writes that file
   * itself) when it is not at its index's path, has no identity to check it by, or has a field of
   * its own besides its output and size (which the numbers would not keep).
   */
  set(index: number, staged: StagedOutput): boolean {
    // Original identities are never held (the run records what it takes as it is): a worker sends
    // none; one given here is dropped.
    const { output, bytes, originalPatientId: _id, originalStudyUID: _study, ...shared } = staged.outcome;
    if (!output || staged.path !== stagedPath(this.#dir, index)) return false;
    const [part, own] = this.#outcomes.encode(shared) as [number, Record<string, unknown>];
    if (Object.keys(own).length) return false;
    const { input: i } = staged;
    this.#held.set(index, [
      part,
      i.dev,
      i.ino,
      i.size,
      i.mtimeMs,
      i.ctimeMs,
      output.dev,
      output.ino,
      output.size,
      output.mtimeMs,
      bytes ?? -1,
    ]);
    return true;
  }

  /** Whether an output is staged for the file at `index` (without reading it back). */
  has(index: number): boolean {
    return this.#held.has(index);
  }

  /** The output staged for the file at `index`, if any. */
  get(index: number): StagedOutput | undefined {
    const held = this.#held.get(index);
    if (!held) return undefined;
    const [part, dev, ino, size, mtimeMs, ctimeMs, oDev, oIno, oSize, oMtimeMs, bytes] = held;
    const shared = this.#outcomes.decode([part, {}]) as Record<string, unknown>;
    // In the order a worker's outcome has its fields (a journal line is the same either way), made
    // once: a run of 30,000 files allocated 236 MB in its writing phase, a sixth of it copies of these.
    const outcome: Record<string, unknown> = {
      status: shared.status,
      output: { dev: oDev, ino: oIno, size: oSize, mtimeMs: oMtimeMs },
    };
    if (bytes >= 0) outcome.bytes = bytes;
    for (const k in shared) if (k !== "status") outcome[k] = shared[k];
    return {
      path: stagedPath(this.#dir, index),
      input: { dev, ino, size, mtimeMs, ctimeMs },
      outcome: outcome as StagedOutput["outcome"],
    };
  }

  /**
   * Say how many files may be staged (made before the listing, it is told once the survey starts):
   * past the spill map's bound, fewer are held in memory, and the places of those on file are made
   * for that many files at once (see `SpillMap.expect`): a staged output's key is its file's index.
   */
  expect(files: number): void {
    this.#held.expect(files, files);
  }

  /** Let go of the output staged for the file at `index` (its file stays: the folder goes at the end). */
  delete(index: number): boolean {
    return this.#held.delete(index);
  }

  /** Let go of every one (and of the temporary file). */
  close(): void {
    this.#held.close();
  }
}

/**
 * Whether a run writes ahead: a de-identifying protocol without hooks (hooks run only in the run's
 * own workers) writing DICOM, planned in workers.
 */
export function canStage(p: Protocol, workers: number): boolean {
  const d = p.deidentify;
  // Runs that rewrite pixels (transcoded, blanked) are not written ahead: the plan's workers load no codecs.
  return workers > 0 && !!d && Object.keys(d.hooks).length === 0 && p.output.format === "dicom" &&
    p.output.transferSyntax === "keep" && d.burned_in !== "blank" && d.pixels_detect !== "ocr";
}

/**
 * Make a staging folder for a run into `p.output.root` (of `shard`), after removing those of killed
 * runs; undefined when the run does not write ahead (see `canStage`). Files an earlier run finished
 * (its journal says so) are left to the run to resume. `inMemory`: staged outputs held in memory
 * before they go to a temporary file (see `SpillMap`).
 */
export async function openStaging(
  p: Protocol,
  workers: number,
  shard?: Shard,
  inMemory?: number,
): Promise<Staging | undefined> {
  if (!canStage(p, workers)) return undefined;
  const root = p.output.root;
  await ensurePrivateDir(join(root, STATE_DIR));
  await removeAbandonedStaging(root);
  const dir = newStagingPath(root);
  await Deno.mkdir(dir, { mode: PRIVATE_DIR });
  const init: StageInit = { dir, shard };
  const journal = await readJournal(journalPath(root, shard));
  const codec = outcomeCodec<FileOutcome>();
  const outputs = new StagedOutputs(dir, inMemory, codec);
  const shared = new Interner();
  return {
    dir,
    outputs,
    shared,
    codec,
    journal,
    ahead: {
      script: new URL("./_run_worker.ts", import.meta.url),
      init,
      write: [dir],
      onSurvey: (files) => outputs.expect(files),
      // What an earlier run finished from each input (nothing to ask when it finished nothing).
      ...(journal.finished
        ? {
          forJob: (listed: Listed) => {
            const finished = journal.finishedFrom(listed.path);
            return finished.length ? finished : undefined;
          },
        }
        : {}),
      shared,
      onExtra: (index, extra) => {
        const staged = extra as StagedOutput;
        outputs.set(index, { ...staged, outcome: compactOutcome(staged.outcome, shared) });
      },
    },
    remove: async () => {
      outputs.close();
      journal[Symbol.dispose]();
      for (let attempt = 0; attempt < 20; attempt++) {
        try {
          await Deno.remove(dir, { recursive: true });
          return;
        } catch (e) {
          if (e instanceof Deno.errors.NotFound) return;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    removeSync: () => {
      outputs.close();
      journal[Symbol.dispose]();
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch { /* gone already */ }
    },
  };
}

/** The shards of the studies a worker met last (a study's files ask again and again), by shard count. */
const seen = { n: 0, shards: new Map<string, number>() };

/** `seen`'s shards for a count of `n` shards, emptied when it holds 4,096 studies (about 0.5 MB). */
function shardsSeen(n: number): Map<string, number> {
  if (seen.n !== n || seen.shards.size >= 4096) seen.shards.clear();
  seen.n = n;
  return seen.shards;
}

/**
 * In a survey worker: survey one file and write its output ahead when the plan writes it (and,
 * with a shard, when the file is that shard's). The file is read whole (its Pixel Data copied in
 * pieces); undefined when it cannot be, and the caller surveys it from its header as usual (the
 * run then quarantines it with its reason, as it would have). `finished`: the outputs an earlier
 * run finished from this input (`SurveyAhead.forJob`).
 */
export function surveyAndStage(
  listed: Listed,
  index: number,
  ctx: PlanContext,
  stage: StageInit,
  buffer: ReusableBuffer,
  finished?: readonly FinishedOutput[],
): { survey: Survey; extra?: StagedOutput } | undefined {
  if (!ctx.session || listed.notRegular) return undefined;
  let file: DicomFile;
  let input: InputStamp | undefined;
  try {
    // The opened file's stamp (its path's stat around the open, see `ReadFileOptions.onOpen`),
    // before the read: an input changed after this is not the one staged (the run checks), and one
    // replaced around the open has no stamp and is not staged. A small file is read whole (its Pixel
    // Data too), so writing it does not open the input again; a larger one streams its Pixel Data
    // from the input in pieces.
    file = readDicomFileSync(listed.path, {
      wholeFileLimit: STAGE_WHOLE_FILE_LIMIT,
      reuse: buffer,
      onOpen: (info) => input = stampOf(info),
    });
  } catch {
    return undefined;
  }
  if (!input) return undefined;
  const scanned = classifyHeader(listed, { file });
  if (scanned.kind !== "dicom") return { survey: { scanned } };
  const { facts, result } = planFile(file, scanned.rel, index, ctx);
  const survey = { scanned, facts };
  if (facts.dest === undefined || facts.quarantine !== undefined || !result) return { survey };
  if (stage.shard && shardOf(scanned, stage.shard.n, shardsSeen(stage.shard.n)) !== stage.shard.k) {
    return { survey };
  }
  // Finished by an earlier run (same input, unchanged, output still the one written): resumed,
  // not redone. The run checks again; this only saves writing what it would throw away.
  const prior = finished?.find((f) => f.dest === facts.dest);
  if (
    prior && prior.input === listed.path && prior.inputMtime === input.mtimeMs &&
    hasIdentity(join(ctx.root, facts.dest), prior.output)
  ) {
    return { survey };
  }
  // A temporary name in the run's own staging folder, created new and written in place: the run
  // renames it into place only once this survey has reported it complete.
  const path = stagedPath(stage.dir, index);
  try {
    let output: OutputIdentity | undefined;
    const bytes = writeDicomFileSync(file, path, {
      zeroPreamble: true,
      direct: true,
      onWritten: (info) => output = identityOfInfo(info),
    });
    const fields = reportFields(file.dataset);
    return {
      survey,
      extra: {
        path,
        input,
        outcome: {
          status: "written",
          output,
          bytes,
          pseudoId: result.pseudoId,
          dayOffset: result.dayOffset,
          newStudyUID: fields.StudyInstanceUID,
          fields,
          counts: result.counts,
        },
      },
    };
  } catch {
    // Not written ahead (the disk, a bad value): the run writes it, and says why if it cannot.
    try {
      Deno.removeSync(path);
    } catch { /* never made */ }
    return { survey };
  }
}
