/**
 * The plan: what happens to each input file (written where, skipped or quarantined and why), the
 * output series and their dry-run diffs, shown by `dcmtidy plan` and executed by `dcmtidy run`.
 *
 * @module
 */
export { makePlan, surveyShare } from "./plan.ts";
export { type FileList, FileRecords, type PlanSpill } from "./file_records.ts";
export { PlannedFiles } from "./planned_files.ts";
export {
  readScanParts,
  scanOrigin,
  scanPartCounts,
  ScanPartError,
  scanPartName,
  type ScanPartOrigin,
  ScanPartWriter,
  shareIndices,
  shareOf,
} from "./scan_part.ts";
export type {
  Disposition,
  Plan,
  PlannedFile,
  PlannedSeries,
  PlanOptions,
  PlanPhase,
  PlanWarning,
  SurveyAhead,
  WarningKind,
} from "./types.ts";
export { type GroupTotal, maskPath, planGroups, planTotals, renderPlanText } from "./render.ts";
export { outputRef } from "./names.ts";
export type { PlannedChange } from "./changes.ts";
export { planJson } from "./json.ts";
export { LIMITS as SUMMARY_LIMITS, planSummary } from "./summary.ts";
export { parseShard, type Shard, shardFiles, shardFromEnv, shardName, shardOf } from "./shard.ts";
export { ShardError } from "./errors.ts";
export { reportFields } from "./report_fields.ts";
export {
  type FileFacts,
  type PlanContext,
  planFile,
  type Survey,
  surveyListed,
  surveyRead,
} from "./survey.ts";
export {
  type ChangesOf,
  changesOf,
  type FromPlanWorker,
  planContextOf,
  type PlanInit,
  type TextOf,
  textOf,
  type ToPlanWorker,
} from "./survey_worker.ts";
