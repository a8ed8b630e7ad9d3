/**
 * dcmtidy as a library: the lossless DICOM read/edit/write engine, study protocols, scanning and
 * planning, the PS3.15 de-identification engine, runs (DICOM and NIfTI output), and verification of
 * a run's output.
 *
 * The main job, as the command line does it:
 *
 * ```ts
 * import { Keys, loadProtocol, plan, readSalt, run, verify } from "./mod.ts";
 * const protocol = await loadProtocol("study.yaml");
 * const keys = protocol.deidentify ? new Keys(await readSalt(protocol)) : undefined;
 * const p = await plan(protocol, keys); // every input file's fate and destination
 * if (p.errors.length === 0) await run(p, { keys }); // writes the tidy tree and the reports
 * const report = await verify(protocol, keys); // reads every output back
 * console.log(report.findings.length === 0 ? "clean" : report.findings);
 * ```
 *
 * The engine on its own:
 *
 * ```ts
 * import { readDicomFile, setPath, writeDicomFile } from "./mod.ts";
 * const file = await readDicomFile("in.dcm");
 * setPath(file.dataset, "PatientName", "ANONYMOUS");
 * await writeDicomFile(file, "out.dcm");
 * ```
 * @module
 */
export { VERSION } from "./src/version.ts";
export { DicomError, type DicomErrorCode, DicomReadError, DicomWriteError } from "./src/dicom/errors.ts";
export {
  type DataSet,
  type DicomFile,
  type Element,
  type Encoding,
  type ExternalValue,
  isPrivateCreator,
  isPrivateTag,
  type Item,
  type Span,
  tag,
  UNDEFINED_LENGTH,
} from "./src/dicom/model.ts";
export { type TransferSyntax, transferSyntax } from "./src/dicom/transfer_syntax.ts";
export {
  type DictEntry,
  DICTIONARY_EDITION,
  formatTag,
  lookupKeyword,
  lookupTag,
  parseTag,
  suggestKeywords,
  tagForKeyword,
} from "./src/standard/dictionary.ts";
export { MAX_SEQUENCE_DEPTH } from "./src/dicom/_parse.ts";
export { parseDicom, type ParseOptions, type ParseResult } from "./src/dicom/reader.ts";
export {
  type Chunk,
  encodeDataSet,
  type EncodedDataSet,
  encodeFile,
  type EncodeFileOptions,
  type ExternalChunk,
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION_NAME,
} from "./src/dicom/writer.ts";
export { readDicomFile } from "./src/dicom/read_file.ts";
export { type ReadFileOptions } from "./src/dicom/read_plan.ts";
export { ReusableBuffer } from "./src/dicom/reusable_buffer.ts";
export { writeDicomFile, type WriteFileOptions } from "./src/dicom/write_file.ts";
export {
  charsetOf,
  decodeNumbers,
  decodeStrings,
  decodeValue,
  type ElementValue,
  encodeValue,
  valueBytes,
} from "./src/dicom/values.ts";
export {
  deleteElement,
  deletePath,
  emptyValue,
  insertElement,
  parsePath,
  type PathStep,
  resolvePath,
  setPath,
  setValue,
  type Target,
} from "./src/dicom/edit.ts";
export { PathError } from "./src/dicom/errors.ts";
export { privateCreatorOf, walk, type WalkContext } from "./src/dicom/walk.ts";
export {
  type DumpOptions,
  dumpText,
  type JsonAttribute,
  type JsonDataSet,
  toJsonDataSet,
} from "./src/dicom/dump.ts";
export {
  defineProtocol,
  type Hook,
  type HookContext,
  type ProtocolDefinition,
} from "./src/protocol/typescript.ts";
export { type LoadOptions, loadProtocol } from "./src/protocol/load.ts";
export { type Protocol, type TagRule } from "./src/protocol/protocol.ts";
export { formatIssue, ProtocolError, type ProtocolIssue } from "./src/protocol/errors.ts";
export {
  type Action,
  type DeidentifyData,
  type ProtocolData,
  protocolJsonSchema,
  protocolSchema,
} from "./src/protocol/schema.ts";
export type { CompiledTemplate, TemplateValues } from "./src/protocol/template.ts";
export { parseSelector, type Selector } from "./src/protocol/selector.ts";
export { DeidError } from "./src/deid/errors.ts";
export { type DeidResult, DeidSession, type SessionOptions } from "./src/deid/session.ts";
export { PseudonymRegistry } from "./src/deid/pseudonyms.ts";
export { configFromProtocol, type DeidConfig, deidConfig } from "./src/deid/config.ts";
export { Keys } from "./src/deid/keys.ts";
export {
  type ActionCode,
  allRules,
  type AttributeRule,
  effectiveAction,
  OPTION_NAMES,
  type OptionName,
  ruleForTag,
  RULES_EDITION,
} from "./src/standard/ps3_15.ts";
export { keysFor, readSalt } from "./src/deid/salt.ts";
export { diffFlat, type FlatElement, flattenDataSet, type TagChange } from "./src/deid/diff.ts";
export { isSensitive, maskValue } from "./src/dicom/phi.ts";
export {
  type FileKind,
  type HeaderInfo,
  inputRef,
  renderRefs,
  scan,
  type ScannedFile,
  type ScanOptions,
} from "./src/scan/scan.ts";
export {
  type Disposition,
  type FileFacts,
  type FileList,
  FileRecords,
  makePlan,
  parseShard,
  type Plan,
  type PlannedChange,
  type PlannedFile,
  type PlannedSeries,
  type PlanOptions,
  type PlanPhase,
  type PlanSpill,
  planTotals,
  type PlanWarning,
  type Shard,
  ShardError,
  shardFromEnv,
  shardOf,
  type SurveyAhead,
  type WarningKind,
} from "./src/plan/mod.ts";
export {
  canStage,
  type FileOutcome,
  MergeError,
  mergeShards,
  type MergeSummary,
  openStaging,
  type RunOptions,
  runPlan,
  RunRefusal,
  type RunSummary,
  type SeriesOutcome,
  type SeriesVolume,
  type StagedOutput,
  type Staging,
} from "./src/run/mod.ts";
export type { InputStamp, OutputIdentity } from "./src/util/file_identity.ts";
export { DcmtidyError, EXIT } from "./src/util/errors.ts";
/**
 * NIfTI output of one series: `convertSeries(files, { identified })` takes the full reads of one
 * series' files, each de-identified by a `DeidSession` (or `identified: true` for sort-only data),
 * and gives gzipped NIfTI-1 volumes with their BIDS-style sidecars (`sidecarBytes` writes one), or
 * the reason a series, or part of it, was not converted (`SeriesConversion.notConverted`).
 * `niftiPaths(dicomDest, suffix)` names them after a DICOM output path, as a run does.
 */
export {
  type ConvertedVolume,
  type ConvertOptions,
  convertSeries,
  niftiFamily,
  niftiPaths,
  type SeriesConversion,
} from "./src/nifti/convert.ts";
export { sidecarBytes } from "./src/nifti/sidecar.ts";
export { type SourceFacts, sourceFacts } from "./src/nifti/source_facts.ts";
/**
 * Pixels: `transcode(file, parseTargetSyntax("jpeg-ls-lossless"))` before `writeDicomFile`
 * writes a file in another transfer syntax, a frame at a time; `openPixelSource` and `decodeFrame`
 * decode frames of any common transfer syntax.
 */
export {
  type DecodedFrame,
  decodeFrame,
  openPixelSource,
  parseTargetSyntax,
  PixelError,
  type PixelFormat,
  type PixelSource,
  prepareDecoder,
  readPixelFormat,
  transcode,
  type Transcoded,
} from "./src/pixels/mod.ts";
export { type Finding, type FindingKind } from "./src/verify/findings.ts";
export { VerifyError } from "./src/verify/errors.ts";
export { type VerifyOptions, verifyOutput, type VerifyReport } from "./src/verify/verify.ts";

import { makePlan } from "./src/plan/mod.ts";
import { runPlan } from "./src/run/mod.ts";
import { verifyOutput } from "./src/verify/verify.ts";

/**
 * Scan a protocol's inputs and decide every file's fate (written where, skipped or quarantined, and
 * why), from headers only: `makePlan`. Pass the salt's `Keys` when the protocol de-identifies. The
 * plan's files are a `FileRecords`: `plan.files.get(i)`, `for (const f of plan.files)`, and the
 * array methods `map`, `filter`, `find`...; with `PlanOptions.spill`, those past 32,768 are read
 * back from an encrypted temporary file (`plan.files.close()` lets go of it).
 */
export const plan: typeof makePlan = makePlan;

/**
 * Execute a plan: write every output (to a temporary name, then renamed), the journal, report.csv,
 * files.csv, the key file and audit.json: `runPlan`. Running it again resumes.
 */
export const run: typeof runPlan = runPlan;

/**
 * Read every output of a finished run back and check it against its input, which is read again and
 * de-identified in memory: `verifyOutput`. An empty `findings` means the output passed.
 */
export const verify: typeof verifyOutput = verifyOutput;
