/**
 * Parses DICOM bytes into the data set tree of `model.ts`, remembering every element's byte span.
 *
 * The parser is bounded and iterative where it matters: every length is checked against the bytes
 * that are really there before anything is read or allocated, and sequence nesting is limited, so
 * a truncated file, a 4 GB length or a 10,000-deep sequence ends in a `DicomReadError`, never in a
 * hang or an out-of-memory crash.
 */
import { inflateRawSync } from "node:zlib";
import { vrOf } from "../standard/dictionary.ts";
import { type DicomErrorCode, DicomReadError } from "./errors.ts";
import {
  BULK_TAGS,
  type DataSet,
  DICOMDIR_SOP_CLASS,
  type DicomFile,
  DIRECTORY_RECORD_SEQUENCE,
  type Element,
  type Encoding,
  EXPLICIT_LE_ENCODING,
  IMPLICIT_LE_ENCODING,
  isPrivateTag,
  ITEM,
  type Item,
  ITEM_DELIMITATION,
  SEQUENCE_DELIMITATION,
  UNDEFINED_LENGTH,
} from "./model.ts";
import {
  DEFLATED_LE,
  EXPLICIT_BE,
  EXPLICIT_LE,
  IMPLICIT_LE,
  type TransferSyntax,
  transferSyntax,
} from "./transfer_syntax.ts";
import { hasLongLength, KNOWN_VRS } from "./vr.ts";

/** Known VRs by their two bytes as a 16-bit number: no string is made per element to look one up. */
const VR_BY_CODE: ReadonlyMap<number, string> = new Map(
  [...KNOWN_VRS].map((vr) => [(vr.charCodeAt(0) << 8) | vr.charCodeAt(1), vr]),
);

/** Sequences nested deeper than this are refused: real data stays below 20. */
export const MAX_SEQUENCE_DEPTH = 64;

/** A deflated data set may inflate to at most this many bytes (a zip bomb stops here). */
export const MAX_INFLATED = 1024 * 1024 * 1024;

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

/** Read state for one buffer in one encoding. */
interface Ctx {
  readonly src: Uint8Array;
  readonly view: DataView;
  readonly file?: string;
  /** Added to offsets in messages (the file offset of `src[0]`). */
  readonly base: number;
  /** Appended to messages about positions that are not file offsets (inflated data). */
  readonly where: string;
}

function makeCtx(src: Uint8Array, file: string | undefined, base = 0, where = ""): Ctx {
  return { src, view: new DataView(src.buffer, src.byteOffset, src.byteLength), file, base, where };
}

function fail(ctx: Ctx, code: DicomErrorCode, at: number, message: string): never {
  throw new DicomReadError(code, message + ctx.where, { file: ctx.file, offset: ctx.base + at });
}

function need(ctx: Ctx, at: number, n: number, limit: number, what: string): void {
  if (at + n > limit) {
    fail(ctx, "truncated", at, `${what} needs ${n} bytes but only ${Math.max(0, limit - at)} remain`);
  }
}

function u16(ctx: Ctx, at: number, le: boolean): number {
  return ctx.view.getUint16(at, le);
}

function u32(ctx: Ctx, at: number, le: boolean): number {
  return ctx.view.getUint32(at, le);
}

function readTag(ctx: Ctx, at: number, le: boolean): number {
  return ((u16(ctx, at, le) << 16) | u16(ctx, at + 2, le)) >>> 0;
}

function hex(tag: number): string {
  const h = tag.toString(16).toUpperCase().padStart(8, "0");
  return `(${h.slice(0, 4)},${h.slice(4)})`;
}

/** The VR to assume for an implicit-VR element: the dictionary's, or the rules for private and group length. */
export function implicitVR(tag: number): string {
  const element = tag & 0xffff;
  if (element === 0) return "UL"; // group length, in every group
  if (isPrivateTag(tag)) return element >= 0x10 && element <= 0xff ? "LO" : "UN";
  return vrOf(tag) || "UN";
}

/** How `parseElements` knows where a data set ends, and what it reports back. */
interface Mode {
  /** An undefined-length item: ends at an item delimitation item. */
  untilDelimiter?: boolean;
  /** Sequence nesting depth of this data set (0 for the main data set). */
  depth: number;
  /** Stop at the header of top-level bulk data (see `ParseOptions.stopAtBulk`). */
  stopAtBulk?: boolean;
  /** Stop at the first element outside this group (the file meta group has no other end). */
  onlyGroup?: number;
  /** Set to the bulk element parsing stopped at. */
  bulk?: Element;
}

/**
 * Parse the elements of one data set between `start` and `limit`; returns the position after
 * the last byte consumed.
 */
function parseElements(ctx: Ctx, ds: DataSet, start: number, limit: number, mode: Mode): number {
  const { untilDelimiter = false, depth, stopAtBulk = false, onlyGroup } = mode;
  const { explicitVR, littleEndian: le } = ds.encoding;
  let pos = start;
  while (true) {
    if (pos >= limit) {
      if (untilDelimiter) {
        fail(ctx, "truncated", pos, "item of undefined length has no item delimitation item");
      }
      return pos;
    }
    if (onlyGroup !== undefined && (pos + 2 > limit || u16(ctx, pos, le) !== onlyGroup)) return pos;
    need(ctx, pos, 8, limit, "element header");
    const tag = readTag(ctx, pos, le);
    if (tag === ITEM_DELIMITATION) {
      if (!untilDelimiter) fail(ctx, "bad-structure", pos, "item delimitation item outside an item");
      return pos + 8;
    }
    if (tag === ITEM || tag === SEQUENCE_DELIMITATION) {
      fail(ctx, "bad-structure", pos, `${hex(tag)} where a data element was expected`);
    }
    let vr: string;
    let length: number;
    let valueStart: number;
    if (explicitVR) {
      const a = ctx.src[pos + 4];
      const b = ctx.src[pos + 5];
      const known = VR_BY_CODE.get((a << 8) | b);
      if (known !== undefined) {
        vr = known;
      } else if (a >= 0x41 && a <= 0x5a && b >= 0x41 && b <= 0x5a) {
        vr = "UN"; // a VR defined after this code was written: PS3.5 6.2 gives new VRs 32-bit lengths
      } else {
        vr = "";
      }
      if (vr === "") {
        // Not a VR at all (e.g. two spaces): read it as dcmtk does, with a 16-bit length,
        // and take the dictionary's VR so an edit can still encode it.
        vr = implicitVR(tag);
        length = u16(ctx, pos + 6, le);
        valueStart = pos + 8;
      } else if (hasLongLength(vr)) {
        need(ctx, pos, 12, limit, "element header");
        length = u32(ctx, pos + 8, le);
        valueStart = pos + 12;
      } else {
        length = u16(ctx, pos + 6, le);
        valueStart = pos + 8;
      }
    } else {
      vr = implicitVR(tag);
      length = u32(ctx, pos + 4, le);
      valueStart = pos + 8;
    }

    const element: Element = { tag, vr, length };
    if (stopAtBulk && depth === 0 && BULK_TAGS.has(tag)) {
      element.span = { src: ctx.src, start: pos, valueStart, end: valueStart };
      element.encapsulated = length === UNDEFINED_LENGTH;
      element.external = { offset: ctx.base + valueStart, length: length === UNDEFINED_LENGTH ? -1 : length };
      ds.elements.push(element);
      mode.bulk = element;
      return valueStart;
    }
    let end: number;
    if (length === UNDEFINED_LENGTH) {
      if (BULK_TAGS.has(tag) && vr !== "SQ") {
        element.encapsulated = true;
        end = skipFragments(ctx, valueStart, limit, le);
      } else if (vr === "SQ" || vr === "UN" || !explicitVR) {
        // An undefined-length UN value is a sequence in implicit VR little endian (PS3.5 6.2.2).
        const itemsEncoding = explicitVR && vr === "UN" ? IMPLICIT_LE_ENCODING : ds.encoding;
        if (itemsEncoding !== ds.encoding) element.itemsEncoding = itemsEncoding;
        element.items = [];
        end = parseItems(ctx, element.items, itemsEncoding, ds, valueStart, limit, true, depth + 1, tag);
      } else {
        fail(
          ctx,
          "bad-structure",
          pos,
          `${hex(tag)} ${vr} has undefined length, which only SQ, UN and Pixel Data may have`,
        );
      }
    } else {
      end = valueStart + length;
      if (end > limit) {
        fail(
          ctx,
          "truncated",
          pos,
          `${hex(tag)} ${vr} declares ${length} bytes but only ${Math.max(0, limit - valueStart)} remain`,
        );
      }
      if (vr === "SQ") {
        element.items = [];
        parseItems(ctx, element.items, ds.encoding, ds, valueStart, end, false, depth + 1, tag);
      } else if ((vr === "UN" || (!explicitVR && isPrivateTag(tag))) && length >= 8) {
        tryParseHiddenSequence(ctx, element, ds, valueStart, end, depth + 1);
      }
    }
    element.span = { src: ctx.src, start: pos, valueStart, end };
    ds.elements.push(element);
    pos = end;
  }
}

/**
 * A UN or implicit private value that starts with an item tag is most likely a sequence whose VR
 * the writer did not know. Parse it as one when it parses cleanly, so de-identification can walk it;
 * otherwise keep it as opaque bytes.
 */
function tryParseHiddenSequence(
  ctx: Ctx,
  element: Element,
  ds: DataSet,
  start: number,
  end: number,
  depth: number,
): void {
  // UN values are always implicit little endian inside; implicit data sets keep their own encoding.
  const enc = element.vr === "UN" && ds.encoding.explicitVR ? IMPLICIT_LE_ENCODING : ds.encoding;
  if (readTag(ctx, start, enc.littleEndian) !== ITEM) return;
  const items: Item[] = [];
  try {
    parseItems(ctx, items, enc, ds, start, end, false, depth, element.tag);
  } catch (e) {
    if (e instanceof DicomReadError && e.code !== "too-deep") return;
    throw e;
  }
  element.items = items;
  if (enc !== ds.encoding) element.itemsEncoding = enc;
}

/** Parse sequence items from `start`; returns the position after the sequence. */
function parseItems(
  ctx: Ctx,
  items: Item[],
  enc: Encoding,
  parent: DataSet,
  start: number,
  limit: number,
  undefinedLength: boolean,
  depth: number,
  seqTag: number,
): number {
  if (depth > MAX_SEQUENCE_DEPTH) {
    fail(ctx, "too-deep", start, `sequences nested more than ${MAX_SEQUENCE_DEPTH} deep`);
  }
  const le = enc.littleEndian;
  let pos = start;
  while (true) {
    if (!undefinedLength && pos === limit) return pos;
    if (pos >= limit) {
      fail(ctx, "truncated", pos, `sequence ${hex(seqTag)} has no sequence delimitation item`);
    }
    need(ctx, pos, 8, limit, `item header in sequence ${hex(seqTag)}`);
    const tag = readTag(ctx, pos, le);
    const length = u32(ctx, pos + 4, le);
    if (tag === SEQUENCE_DELIMITATION) {
      if (!undefinedLength) {
        fail(ctx, "bad-structure", pos, `sequence delimitation item inside defined-length ${hex(seqTag)}`);
      }
      return pos + 8;
    }
    if (tag !== ITEM) {
      fail(
        ctx,
        "bad-structure",
        pos,
        `expected an item (FFFE,E000) in sequence ${hex(seqTag)}, found ${hex(tag)}`,
      );
    }
    const dataset: DataSet = { elements: [], encoding: enc, parent };
    const valueStart = pos + 8;
    let end: number;
    if (length === UNDEFINED_LENGTH) {
      end = parseElements(ctx, dataset, valueStart, limit, { untilDelimiter: true, depth });
    } else {
      end = valueStart + length;
      if (end > limit) {
        fail(
          ctx,
          "truncated",
          pos,
          `item in ${hex(seqTag)} declares ${length} bytes but only ${limit - valueStart} remain`,
        );
      }
      parseElements(ctx, dataset, valueStart, end, { depth });
    }
    items.push({ length, span: { src: ctx.src, start: pos, valueStart, end }, dataset });
    pos = end;
  }
}

/** Walk encapsulated fragments (item, item, ..., sequence delimitation) without reading their data. */
function skipFragments(ctx: Ctx, start: number, limit: number, le: boolean): number {
  let pos = start;
  while (true) {
    need(ctx, pos, 8, limit, "encapsulated pixel data fragment header");
    const tag = readTag(ctx, pos, le);
    const length = u32(ctx, pos + 4, le);
    if (tag === SEQUENCE_DELIMITATION) return pos + 8;
    if (tag !== ITEM) {
      fail(ctx, "bad-structure", pos, `expected a fragment item (FFFE,E000), found ${hex(tag)}`);
    }
    if (length === UNDEFINED_LENGTH || pos + 8 + length > limit) {
      fail(ctx, "truncated", pos, `fragment declares ${length} bytes but only ${limit - pos - 8} remain`);
    }
    pos += 8 + length;
  }
}

/** The encoding of a bare data set (no meta), guessed from its first element, or undefined. */
function guessRawEncoding(src: Uint8Array): { ts: string; encoding: Encoding } | undefined {
  if (src.length < 8) return undefined;
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const vrCode = String.fromCharCode(src[4], src[5]);
  const explicit = KNOWN_VRS.has(vrCode);
  const plausible = (group: number) => group >= 0x0008 && group <= 0x0028 && group % 2 === 0;
  if (plausible(view.getUint16(0, true))) {
    return explicit
      ? { ts: EXPLICIT_LE, encoding: EXPLICIT_LE_ENCODING }
      : { ts: IMPLICIT_LE, encoding: IMPLICIT_LE_ENCODING };
  }
  if (explicit && plausible(view.getUint16(0, false))) {
    return { ts: EXPLICIT_BE, encoding: { explicitVR: true, littleEndian: false } };
  }
  return undefined;
}

/** Where the meta group ends according to its group length (0002,0000), when it has one. */
function metaGroupEnd(meta: DataSet): number | undefined {
  const gl = meta.elements.find((e) => e.tag === 0x00020000);
  if (!gl?.span || gl.span.end - gl.span.valueStart !== 4) return undefined;
  const view = new DataView(gl.span.src.buffer, gl.span.src.byteOffset);
  return gl.span.end + view.getUint32(gl.span.valueStart, true);
}

function metaString(meta: DataSet, tag: number): string | undefined {
  const el = meta.elements.find((e) => e.tag === tag);
  if (!el?.span) return undefined;
  const { src, valueStart } = el.span;
  // Latin-1 is one character per byte: UIDs are short, so no decoder is needed.
  let end = el.span.end;
  while (end > valueStart && (src[end - 1] === 0 || src[end - 1] === 0x20)) end--;
  let text = "";
  for (let i = valueStart; i < end; i++) text += String.fromCharCode(src[i]);
  return text;
}

/**
 * Parse a whole DICOM file (or its beginning, with `stopAtBulk`) from bytes.
 * Accepts Part 10 files with or without preamble, files with no meta group at all, and every
 * transfer syntax (deflated data sets are inflated in memory).
 */
export function parseDicom(bytes: Uint8Array, opts: ParseOptions = {}): ParseResult {
  const ctx = makeCtx(bytes, opts.file);
  const warnings: string[] = [];
  let preamble: Uint8Array | undefined;
  let pos = 0;
  const hasMagic = (at: number) =>
    bytes.length >= at + 4 && bytes[at] === 0x44 && bytes[at + 1] === 0x49 && bytes[at + 2] === 0x43 &&
    bytes[at + 3] === 0x4d; // "DICM"
  if (hasMagic(128)) {
    preamble = bytes.subarray(0, 128);
    pos = 132;
    need(ctx, pos, 8, bytes.length, "file meta group after DICM");
  } else if (hasMagic(0)) {
    pos = 4;
    warnings.push("no preamble before DICM");
  }

  let meta: DataSet | undefined;
  let ts: TransferSyntax;
  const startsMeta = bytes.length >= pos + 6 && ctx.view.getUint16(pos, true) === 0x0002 &&
    KNOWN_VRS.has(String.fromCharCode(bytes[pos + 4], bytes[pos + 5]));
  if (startsMeta) {
    if (!preamble) warnings.push("no preamble");
    meta = { elements: [], encoding: EXPLICIT_LE_ENCODING };
    pos = parseMeta(ctx, meta, pos);
    if (!meta.elements.some((e) => e.tag === 0x00020000)) {
      warnings.push("no file meta group length (0002,0000)");
    }
    const uid = metaString(meta, 0x00020010);
    if (!uid) {
      // A meta group that stops at the end of the bytes, or short of its declared length, was cut.
      const declared = metaGroupEnd(meta);
      const cut = pos >= bytes.length || (declared !== undefined && declared > bytes.length);
      fail(ctx, cut ? "truncated" : "bad-structure", pos, "file meta has no Transfer Syntax UID (0002,0010)");
    }
    ts = transferSyntax(uid);
  } else {
    if (preamble) fail(ctx, "bad-structure", pos, "DICM is not followed by a file meta group (0002,xxxx)");
    const guess = guessRawEncoding(bytes);
    if (!guess) {
      fail(
        ctx,
        "not-dicom",
        0,
        "no DICM marker, no file meta and no recognisable data set: not a DICOM file",
      );
    }
    warnings.push("no preamble and no file meta: bare data set");
    ts = transferSyntax(guess.ts);
  }

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
    isDicomDir: meta !== undefined && metaString(meta, 0x00020002) === DICOMDIR_SOP_CLASS,
    warnings,
  };
  const mode: Mode = { depth: 0, stopAtBulk: opts.stopAtBulk };
  if (ts.uid === DEFLATED_LE) {
    if (opts.fileSize !== undefined && opts.fileSize > bytes.length) {
      fail(ctx, "truncated", bytes.length, "a deflated data set must be read whole");
    }
    file.deflatedBytes = bytes.subarray(pos);
    let inflated: Uint8Array;
    try {
      inflated = new Uint8Array(inflateRawSync(file.deflatedBytes, { maxOutputLength: MAX_INFLATED }));
    } catch (e) {
      if (e instanceof RangeError) {
        fail(ctx, "unsupported", pos, `deflated data set inflates to more than ${MAX_INFLATED} bytes`);
      }
      fail(ctx, "bad-structure", pos, `deflated data set does not inflate: ${(e as Error).message}`);
    }
    const ictx = makeCtx(inflated, opts.file, 0, " (offset in the inflated data set)");
    mode.stopAtBulk = false;
    parseElements(ictx, dataset, 0, inflated.length, mode);
  } else {
    parseElements(ctx, dataset, pos, bytes.length, mode);
  }
  file.isDicomDir ||= dataset.elements.some((e) => e.tag === DIRECTORY_RECORD_SEQUENCE);
  return { file, bulk: mode.bulk };
}

/** The file meta group: explicit VR little endian elements of group 0002, whatever the transfer syntax. */
function parseMeta(ctx: Ctx, meta: DataSet, start: number): number {
  return parseElements(ctx, meta, start, ctx.src.length, { depth: 0, onlyGroup: 0x0002 });
}

/** A byte range a reader step needs from the file; the bytes are sent back into the generator. */
export interface ReadRequest {
  readonly offset: number;
  readonly length: number;
}

/**
 * Find where encapsulated bulk data ends when only its start is in memory, as steps: yields the
 * 8-byte fragment headers it needs (absolute file offsets) and returns the end offset. The file
 * reader drives it with synchronous or asynchronous reads.
 */
export function* encapsulatedEnd(
  start: number,
  fileSize: number,
  littleEndian: boolean,
  file?: string,
): Generator<ReadRequest, number, Uint8Array> {
  let pos = start;
  while (true) {
    if (pos + 8 > fileSize) {
      throw new DicomReadError("truncated", "encapsulated pixel data has no sequence delimitation item", {
        file,
        offset: pos,
      });
    }
    const head = yield { offset: pos, length: 8 };
    if (head.length < 8) {
      throw new DicomReadError("truncated", "the file shrank while it was read", { file, offset: pos });
    }
    const view = new DataView(head.buffer, head.byteOffset, 8);
    const t = ((view.getUint16(0, littleEndian) << 16) | view.getUint16(2, littleEndian)) >>> 0;
    const length = view.getUint32(4, littleEndian);
    if (t === SEQUENCE_DELIMITATION) return pos + 8;
    if (t !== ITEM) {
      throw new DicomReadError("bad-structure", `expected a fragment item (FFFE,E000), found ${hex(t)}`, {
        file,
        offset: pos,
      });
    }
    if (length === UNDEFINED_LENGTH || pos + 8 + length > fileSize) {
      throw new DicomReadError("truncated", `fragment declares ${length} bytes past the end of the file`, {
        file,
        offset: pos,
      });
    }
    pos += 8 + length;
  }
}

/**
 * Find where encapsulated bulk data ends when only its start is in memory: `readAt` fetches
 * 8 bytes at an absolute file offset.
 */
export async function findEncapsulatedEnd(
  readAt: (offset: number, n: number) => Promise<Uint8Array>,
  start: number,
  fileSize: number,
  littleEndian: boolean,
  file?: string,
): Promise<number> {
  const steps = encapsulatedEnd(start, fileSize, littleEndian, file);
  let step = steps.next();
  while (!step.done) step = steps.next(await readAt(step.value.offset, step.value.length));
  return step.value;
}

/** Parse elements that follow streamed bulk data (trailing padding, signatures) into `ds`. */
export function parseTrailer(bytes: Uint8Array, ds: DataSet, fileOffset: number, file?: string): void {
  const ctx = makeCtx(bytes, file, fileOffset);
  parseElements(ctx, ds, 0, bytes.length, { depth: 0 });
}
