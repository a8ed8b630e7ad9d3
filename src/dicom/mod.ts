/**
 * The DICOM engine's public face: reading files into the data set tree (`readDicomFile`,
 * `parseDicom`), editing it (paths, `setValue`, the one tree walk `walk`), writing it back
 * (`writeDicomFile`, `encodeFile`), decoding values, dumps, and the errors it throws. Every name
 * another folder, the library (`mod.ts`), the tests or the benches use is re-exported here.
 *
 * Reading DICOM files from disk and writing them back, with memory that does not grow with the
 * size of the Pixel Data: large files are read as their header bytes plus a reference to where
 * the Pixel Data value lies, and the writer streams that range from the input in chunks.
 *
 * Each operation has an asynchronous form and a synchronous one (`...Sync`) over the same logic:
 * the reading steps are a generator that asks for byte ranges, and the writer's plan is a list of
 * chunks. The synchronous forms are for code that handles one file at a time anyway (the run's
 * workers): a blocking call costs a few microseconds where an awaited one costs a round trip
 * through the event loop, several times per file.
 *
 * The pieces: `read_file.ts` (the two readers), `read_plan.ts` (the reading steps and their
 * options), `write_file.ts` (the two writers), `_write_chunks.ts` (gathered writes and source
 * copies), `file_io.ts` (byte ranges, existence, same file), `reusable_buffer.ts`.
 *
 * @module
 */

// The data set tree.
export {
  BULK_TAGS,
  type DataSet,
  type DicomFile,
  type Element,
  type Encoding,
  type ExternalValue,
  isPrivateCreator,
  isPrivateTag,
  type Item,
  PIXEL_DATA,
  type Span,
  tag,
  UNDEFINED_LENGTH,
} from "./model.ts";
export { type TransferSyntax, transferSyntax } from "./transfer_syntax.ts";
export { isStringVR, NUMBER_VRS } from "./vr.ts";

// Errors.
export { DicomError, type DicomErrorCode, DicomReadError, DicomWriteError, PathError } from "./errors.ts";

// Reading.
export { MAX_SEQUENCE_DEPTH } from "./_parse.ts";
export { parseDicom, type ParseOptions, type ParseResult } from "./reader.ts";
export { readDicomFile, readDicomFileSync } from "./read_file.ts";
export { DEFAULT_WHOLE_FILE_LIMIT, type ReadFileOptions } from "./read_plan.ts";
export { ReusableBuffer } from "./reusable_buffer.ts";
export { exists, readAt } from "./file_io.ts";

// Values.
export {
  charsetOf,
  decodeNumbers,
  decodeStrings,
  decodeValue,
  type ElementValue,
  encodeValue,
  valueBytes,
} from "./values.ts";

// Editing and walking.
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
} from "./edit.ts";
export { privateCreatorOf, walk, type WalkContext, type WalkVerdict } from "./walk.ts";

// Writing.
export {
  buildMeta,
  type Chunk,
  encodeDataSet,
  type EncodedDataSet,
  encodeFile,
  type EncodeFileOptions,
  type ExternalChunk,
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION_NAME,
} from "./writer.ts";
export { writeDicomFile, writeDicomFileSync, type WriteFileOptions } from "./write_file.ts";
export { type DirectoryFile, encodeDicomDir, fileIdProblem, recordTypeOf } from "./dicomdir.ts";

// Dumps and masking.
export { type DumpOptions, dumpText, type JsonAttribute, type JsonDataSet, toJsonDataSet } from "./dump.ts";
export { isIdentifying, isSensitive, maskValue, mayBePHI } from "./phi.ts";
