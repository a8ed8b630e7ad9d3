/**
 * Parses DICOM bytes into the data set tree of `model.ts`, remembering every element's byte span.
 *
 * The parser is bounded and iterative where it matters: every length is checked against the bytes
 * that are really there before anything is read or allocated, and sequence nesting is limited, so
 * a truncated file, a 4 GB length or a 10,000-deep sequence ends in a `DicomReadError`, never in a
 * hang or an out-of-memory crash.
 *
 * The pieces: `_cursor.ts` (bounded reads and errors with offsets), `_meta.ts` (preamble, "DICM",
 * file meta group or a bare data set's encoding), `_parse.ts` (elements, sequences, items,
 * fragments), `_deflate.ts` (deflated data sets), `_fragments.ts` (the end of encapsulated Pixel
 * Data that is not in memory, for streamed reads).
 *
 * @module
 */
import { tags } from "../standard/tags.ts";
import { makeCtx } from "./_cursor.ts";
import { inflateDataSet } from "./_deflate.ts";
import { metaString, readFileStart } from "./_meta.ts";
import { type Mode, parseElements } from "./_parse.ts";
import {
  type DataSet,
  DICOMDIR_SOP_CLASS,
  type DicomFile,
  DIRECTORY_RECORD_SEQUENCE,
  type Element,
  type Encoding,
  UNDEFINED_LENGTH,
} from "./model.ts";
import { DicomReadError } from "./errors.ts";
import { DEFLATED_LE } from "./transfer_syntax.ts";

/** Options for `parseDicom`. */
export interface ParseOptions {
  /** The file name used in error messages. */
  file?: string;
  /**
   * Stop at the header of top-level Pixel Data (or Float/Double Float Pixel Data) and leave its
   * value where it is: the element gets `external` with its offset in the file.
   */
  stopAtBulk?: boolean;
  /** Size of the whole file when `bytes` holds only its beginning (a header window). */
  fileSize?: number;
}

/** The result of parsing a buffer: the file, and where top-level parsing stopped. */
export interface ParseResult {
  /** What was parsed. */
  file: DicomFile;
  /** The bulk element parsing stopped at, when `stopAtBulk` was set and one was found. */
  bulk?: Element;
}

/**
 * Parse a whole DICOM file (or its beginning, with `stopAtBulk`) from bytes.
 * Accepts Part 10 files with or without preamble, files with no meta group at all, and every
 * transfer syntax (deflated data sets are inflated in memory).
 */
export function parseDicom(bytes: Uint8Array, opts: ParseOptions = {}): ParseResult {
  const ctx = makeCtx(bytes, opts.file);
  const { preamble, meta, transferSyntax: ts, datasetOffset: pos, warnings, guessed } = readFileStart(ctx);

  const encoding: Encoding = { explicitVR: ts.explicitVR, littleEndian: ts.littleEndian };
  const dataset: DataSet = { elements: [], encoding };
  const file: DicomFile = {
    path: opts.file,
    preamble,
    meta,
    dataset,
    transferSyntax: ts,
    datasetOffset: pos,
    size: opts.fileSize ?? bytes.length,
    headerOnly: false,
    isDicomDir: meta !== undefined && metaString(meta, tags.MediaStorageSOPClassUID) === DICOMDIR_SOP_CLASS,
    warnings,
  };
  const mode: Mode = { depth: 0, stopAtBulk: opts.stopAtBulk };
  if (ts.uid === DEFLATED_LE) {
    const inflated = inflateDataSet(ctx, pos, opts.fileSize);
    file.deflatedBytes = bytes.subarray(pos);
    const ictx = makeCtx(inflated, opts.file, 0, " (offset in the inflated data set)");
    mode.stopAtBulk = false;
    parseElements(ictx, dataset, 0, inflated.length, mode);
  } else {
    parseElements(ctx, dataset, pos, bytes.length, mode);
  }
  file.isDicomDir ||= dataset.elements.some((e) => e.tag === DIRECTORY_RECORD_SEQUENCE);
  const pixels = dataset.elements.find((e) => e.tag === tags.PixelData);
  if (guessed && (pixels?.encapsulated || (pixels && pixels.length === UNDEFINED_LENGTH))) {
    throw new DicomReadError(
      "unsupported",
      "file meta has no Transfer Syntax UID (0002,0010) and its Pixel Data is compressed: which compression cannot be told",
      { file: opts.file, offset: pos },
    );
  }
  return { file, bulk: mode.bulk };
}

/** Parse elements that follow streamed bulk data (trailing padding, signatures) into `ds`. */
export function parseTrailer(bytes: Uint8Array, ds: DataSet, fileOffset: number, file?: string): void {
  const ctx = makeCtx(bytes, file, fileOffset);
  parseElements(ctx, ds, 0, bytes.length, { depth: 0 });
}
