/**
 * The data set tree the engine reads into, edits and writes out.
 *
 * Every element and item that came from a file remembers where its bytes were (`span`), so the
 * writer can copy whatever nothing touched byte for byte and re-encode only what changed.
 */
import { tags } from "../standard/tags.ts";
import type { TransferSyntax } from "./transfer_syntax.ts";

/** The 32-bit length that means "undefined length, ended by a delimiter". */
export const UNDEFINED_LENGTH = 0xffffffff;

/** How a data set's elements are encoded. */
export interface Encoding {
  /** Element headers carry the VR; without it the VR is looked up in the dictionary. */
  readonly explicitVR: boolean;
  /** Byte order of headers and binary values (false only for the retired Explicit VR Big Endian). */
  readonly littleEndian: boolean;
}

/** Explicit VR little endian: the file meta group, and most data sets. */
export const EXPLICIT_LE_ENCODING: Encoding = { explicitVR: true, littleEndian: true };
/** Implicit VR little endian: also the encoding of the items of a sequence stored as UN. */
export const IMPLICIT_LE_ENCODING: Encoding = { explicitVR: false, littleEndian: true };

/** Where an element or item's bytes were in the buffer it was parsed from. */
export interface Span {
  /** The buffer the offsets refer to. */
  readonly src: Uint8Array;
  /** Offset of the header. */
  readonly start: number;
  /** Offset of the value (just after the header). */
  readonly valueStart: number;
  /** Offset just after the value, delimiters included. */
  readonly end: number;
}

/** A value that stays in the source file and is copied from it in chunks when written. */
export interface ExternalValue {
  /** Offset of the value in the source file. */
  readonly offset: number;
  /** Length in bytes, delimiters included for encapsulated data; -1 when a header-only read did not look. */
  readonly length: number;
}

/**
 * A value made while the file is written (Pixel Data transcoded a frame at a time), so it never
 * sits in memory whole. `length` is its byte count, or UNDEFINED_LENGTH for encapsulated data.
 */
export interface GeneratedValue {
  readonly length: number;
  /** The value's bytes in order (for encapsulated data: items and the sequence delimiter). */
  chunks(): Iterable<Uint8Array>;
}

/** One data element. Sequences have `items`; everything else has bytes (in `span`, `value` or `external`). */
export interface Element {
  /** (group << 16 | element) >>> 0 */
  readonly tag: number;
  /** The VR as read (explicit) or looked up (implicit); "UN" when unknown. */
  vr: string;
  /** The value length from the header; UNDEFINED_LENGTH for delimited values. */
  length: number;
  /** Where it was read from; absent for elements the engine created. */
  span?: Span;
  /** Items of a sequence (also of a UN value that turned out to hold a sequence). */
  items?: Item[];
  /** How the items are encoded when that differs from the enclosing data set (UN: implicit LE). */
  itemsEncoding?: Encoding;
  /** Encapsulated (fragmented) Pixel Data: copied verbatim, never parsed further. */
  encapsulated?: boolean;
  /** A new value, already encoded for the data set's encoding and padded to even length. */
  value?: Uint8Array;
  /** Bulk data left in the source file (top-level Pixel Data of large files). */
  external?: ExternalValue;
  /** A value produced while writing (transcoded Pixel Data); wins over `value` and `external`. */
  generated?: GeneratedValue;
  /** Set by edits: the header and value must be re-encoded. */
  dirty?: boolean;
}

/** One item of a sequence. */
export interface Item {
  /** The item length from its header; UNDEFINED_LENGTH when ended by an item delimiter. */
  length: number;
  /** Where it was read from; absent for items the engine created. */
  span?: Span;
  /** The item's elements; its `parent` is the data set holding the sequence. */
  dataset: DataSet;
}

/** An ordered list of elements: the main data set, the file meta group, or a sequence item. */
export interface DataSet {
  /** In file order (ascending tags in a valid file); edits insert in tag order; written in this order. */
  elements: Element[];
  /** The transfer syntax's (explicit VR LE for the meta group, implicit VR LE inside a UN sequence). */
  readonly encoding: Encoding;
  /** The enclosing data set, for Specific Character Set inheritance (PS3.5 6.1.2.5.2). */
  parent?: DataSet;
  /** Set by edits that insert or remove elements. */
  modified?: boolean;
}

/** A DICOM file (or a bare data set) as read from disk or bytes. */
export interface DicomFile {
  /** Where it was read from, for messages and for streaming bulk data. */
  path?: string;
  /** The 128-byte preamble; absent when the input had none. */
  preamble?: Uint8Array;
  /** The file meta group; absent when the input had none. */
  meta?: DataSet;
  /** The main data set, after the meta group. */
  dataset: DataSet;
  /** From the meta group's TransferSyntaxUID, or guessed from the bytes of a bare data set. */
  transferSyntax: TransferSyntax;
  /** Offset in the file where the data set begins (after the meta group). */
  datasetOffset: number;
  /** For deflated files: the compressed data set as read, copied verbatim when nothing changed. */
  deflatedBytes?: Uint8Array;
  /** Size of the input in bytes. */
  size: number;
  /** The read stopped at the Pixel Data header: fine for scanning, not for writing. */
  headerOnly: boolean;
  /** A DICOMDIR (media storage directory): its records point at byte offsets and input paths. */
  isDicomDir: boolean;
  /** Irregularities tolerated while reading (no meta group length, no preamble, ...). */
  warnings: string[];
}

/** Build a tag number from group and element. */
export function tag(group: number, element: number): number {
  return ((group << 16) | element) >>> 0;
}

/** Private tags have odd groups (groups 0001-0007 and FFFF are not private, PS3.5 7.8.1). */
export function isPrivateTag(t: number): boolean {
  const g = t >>> 16;
  return (g & 1) === 1 && g > 0x0007 && g !== 0xffff;
}

/** A private creator element: (gggg,0010-00FF) in a private group. */
export function isPrivateCreator(t: number): boolean {
  const e = t & 0xffff;
  return isPrivateTag(t) && e >= 0x0010 && e <= 0x00ff;
}

/** The Media Storage Directory Storage SOP class of DICOMDIR files. */
export const DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10";
/** Directory Record Sequence: only DICOMDIRs have it. */
export const DIRECTORY_RECORD_SEQUENCE = tags.DirectoryRecordSequence;

/** Item, item delimitation and sequence delimitation tags. */
export const ITEM = 0xfffee000;
export const ITEM_DELIMITATION = 0xfffee00d;
export const SEQUENCE_DELIMITATION = 0xfffee0dd;
/** Pixel Data and its float siblings: the bulk values streamed rather than held in memory. */
export const PIXEL_DATA = tags.PixelData;
export const BULK_TAGS: ReadonlySet<number> = new Set([
  tags.FloatPixelData,
  tags.DoubleFloatPixelData,
  PIXEL_DATA,
]);
