/**
 * The run: executes a plan (DICOM files, NIfTI series, quarantine copies, stale outputs), keeps
 * the journal and state folder, writes the reports and key file, and merges shards.
 *
 * @module
 */
export { runPlan, runWork } from "./run.ts";
export type { RunContext, RunOptions, RunSummary } from "./types.ts";
export { MergeError, RunRefusal } from "./errors.ts";
export type { FileJob, FileOutcome } from "./process.ts";
export type { SeriesJob, SeriesOutcome, SeriesVolume } from "./series.ts";
export { withoutOriginals } from "./journal.ts";
export { type FinishedOutput, finishedOutputs } from "./journal_index.ts";
export { keyRows, releaseKeyLocksSync } from "./key_file.ts";
export { outputRootProblem, prepareOutputRoot } from "./output_root.ts";
export { canStage, openStaging, type StagedOutput, type Staging } from "./stage.ts";
export {
  ensureStateDir,
  journalPath,
  planSpill,
  scanPartsPath,
  shardStatePath,
  STATE_DIR,
  statePath,
} from "./state_dir.ts";
export { mergeShards, type MergeSummary } from "./shards.ts";
