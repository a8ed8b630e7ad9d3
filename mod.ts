/**
 * dcmtidy as a library: the lossless DICOM read/edit/write engine, and (as later modules land)
 * protocols, planning, de-identification and runs.
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
} from "./src/dicom/dictionary.ts";
export { MAX_SEQUENCE_DEPTH, parseDicom, type ParseOptions, type ParseResult } from "./src/dicom/reader.ts";
export {
  type Chunk,
  encodeDataSet,
  encodeFile,
  type EncodeFileOptions,
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION_NAME,
} from "./src/dicom/writer.ts";
export {
  readDicomFile,
  type ReadFileOptions,
  writeDicomFile,
  type WriteFileOptions,
} from "./src/dicom/io.ts";
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
  PathError,
  type PathStep,
  privateCreatorOf,
  resolvePath,
  setPath,
  setValue,
  type Target,
  walk,
  type WalkContext,
} from "./src/dicom/edit.ts";
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
  type LoadOptions,
  loadProtocol,
  type Protocol,
  type ProtocolDefinition,
  type TagRule,
} from "./src/protocol/load.ts";
export { formatIssue, ProtocolError, type ProtocolIssue } from "./src/protocol/errors.ts";
export { type Action, protocolJsonSchema, protocolSchema } from "./src/protocol/schema.ts";
export { parseSelector, type Selector } from "./src/protocol/selector.ts";
export { DeidError, type DeidResult, DeidSession } from "./src/deid/engine.ts";
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
} from "./src/deid/rules.ts";
