/**
 * The run's model: its options, its summary, and the context its phases share.
 *
 * @module
 */
import type { Interner } from "../scan/intern.ts";
import type { DeidSession } from "../deid/session.ts";
import type { Keys } from "../deid/keys.ts";
import type { Plan, Shard } from "../plan/mod.ts";
import type { Journal } from "./journal_index.ts";
import type { KeyOriginal, KeyRowSet } from "./key_file.ts";
import type { FileOutcome } from "./process.ts";
import type { SeriesOutcome } from "./series.ts";
import type { Staging } from "./stage.ts";
import type { SpillMap } from "../util/spill_map.ts";

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
   * Once, before the first file: the files and input bytes to do, as `runWork` counts them (from the
   * run's own pass over its files: a caller that shows progress need not make another).
   */
  readonly onWork?: (files: number, bytes: number) => void;
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
  /** Told, with why, when the run waits on another (the key file's lock held for more than a second). */
  readonly onWait?: (why: string) => void;
  /** Outputs the run's plan wrote ahead (see `openStaging`): renamed into place; the folder is removed. */
  readonly staging?: Staging;
  /**
   * Outcomes held in memory before they go to a temporary file in the run's state folder (see
   * `SpillMap`; default `SPILL_BOUND`, 32,768, or 4,096 past it): what keeps a run's memory flat in
   * its files.
   */
  readonly recordsInMemory?: number;
  /**
   * Files the DICOM phase takes through its steps at a time (default 4,096): what it holds for them
   * is dropped before the next ones. Tests make it small, so that a few files make several.
   */
  readonly chunk?: number;
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
   * (they are in the plan's headers, and in the key file). Past `RunOptions.recordsInMemory` they
   * are read from a temporary file, open until the summary is disposed of (or collected).
   */
  readonly outcomes: ReadonlyMap<number, FileOutcome> & Disposable;
  /** With NIfTI output: what became of each series (by index in `Plan.series`) this run covered. */
  readonly series: ReadonlyMap<number, SeriesOutcome>;
  /** NIfTI volumes written (or found finished). */
  readonly volumes: number;
  /** Wall-clock time of this run, in milliseconds. */
  readonly durationMs: number;
  /** Run-wide notes for the user (a hardlink fell back to a copy, stale outputs removed, ...). */
  readonly notes: string[];
}

/** What the phases of one run share (see `runPlan`). */
export interface RunContext {
  readonly plan: Plan;
  readonly opts: RunOptions;
  /** The output root. */
  readonly root: string;
  /** The session, for a de-identifying run in this thread. */
  readonly session?: DeidSession;
  /** The journal as the run found it. */
  readonly journal: Journal;
  /** Append lines to the journal, in order. */
  readonly append: (text: string) => Promise<void>;
  /**
   * Each file's outcome so far, by index in `Plan.files` (in memory up to a bound, see `SpillMap`).
   * A file the plan writes gets its outcome through `record` (a file the plan quarantines has one
   * only when its copy to the quarantine folder failed).
   */
  readonly outcomes: SpillMap<FileOutcome>;
  /**
   * Record the outcome of a file the plan writes, once a file, with its input's original header:
   * in `outcomes`, in the key file's rows and in the counts, so that the run's end need not go
   * through its files again (past the memory bound each pass reads them back from disk).
   */
  record(o: FileOutcome, original: KeyOriginal | undefined): void;
  /** The key file's rows of the outcomes recorded so far (none when the run writes no key file). */
  readonly keyRows: KeyRowSet;
  /** The outcomes recorded so far: written, and quarantined by the run. */
  readonly counts: { readonly written: number; readonly quarantined: number };
  /** One copy of the values outcomes share (see `compactOutcome`). */
  readonly shared: Interner;
  /** Run-wide notes for the user. */
  readonly notes: string[];
  /** A file of `bytes` input bytes went through a phase. */
  progress(bytes: number): void;
  /** A file's output is in place; `resumed`: an earlier run had finished it. */
  kept(resumed: boolean): void;
}
