/**
 * Serialises a data set tree back to bytes in the input's own encoding.
 *
 * What no edit touched is copied byte for byte from the buffer it was read from (adjacent copies
 * are merged, so an unchanged data set is one slice). Only edited elements, and the headers of the
 * defined-length sequences and items around them, are re-encoded. Bulk data left in the source
 * file stays a reference (`ExternalChunk`) for the file writer to stream.
 */
import { deflateRawSync } from "node:zlib";
import { tags } from "../standard/tags.ts";
import { DicomWriteError } from "./errors.ts";
import {
  type DataSet,
  type DicomFile,
  type Element,
  type Encoding,
  EXPLICIT_LE_ENCODING,
  type GeneratedValue,
  ITEM,
  type Item,
  ITEM_DELIMITATION,
  SEQUENCE_DELIMITATION,
  UNDEFINED_LENGTH,
} from "./model.ts";
import { smallBytes } from "../util/bytes.ts";
import { hasLongLength } from "./vr.ts";
import { encodeValue, valueBytes } from "./values.ts";

/** A range of the source file to copy into the output. */
export interface ExternalChunk {
  /** Byte offset in the source file. */
  readonly offset: number;
  /** Bytes to copy from there. */
  readonly length: number;
}

/** A value produced while the file is written (`Element.generated`). */
export interface GeneratedChunk {
  readonly generated: GeneratedValue;
}

/** What the writer produces: bytes, ranges of the source file, and values made while writing. */
export type Chunk = Uint8Array | ExternalChunk | GeneratedChunk;

/** Collects output, merging adjacent copies from the same buffer and leaving holes for headers. */
class ChunkList {
  readonly parts: (Chunk | { src: Uint8Array; start: number; end: number } | null)[] = [];
  length = 0;

  copy(src: Uint8Array, start: number, end: number): void {
    const last = this.parts[this.parts.length - 1];
    if (last && "src" in last && last.src === src && last.end === start) {
      last.end = end;
    } else {
      this.parts.push({ src, start, end });
    }
    this.length += end - start;
  }

  bytes(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.length;
  }

  external(x: ExternalChunk): void {
    this.parts.push(x);
    this.length += x.length;
  }

  generated(g: GeneratedValue): void {
    this.parts.push({ generated: g });
    if (g.length !== UNDEFINED_LENGTH) this.length += g.length;
  }

  /** Leave a hole for a header whose length is known only after its content is written. */
  reserve(): number {
    this.parts.push(null);
    return this.parts.length - 1;
  }

  fill(index: number, b: Uint8Array): void {
    this.parts[index] = b;
    this.length += b.length;
  }

  /** Fill a hole with bytes of a source buffer, so it can merge with the copies around it. */
  fillCopy(index: number, src: Uint8Array, start: number, end: number): void {
    this.parts[index] = { src, start, end };
    this.length += end - start;
  }

  /** The output, with adjacent copies of one buffer merged: an unchanged region is one chunk. */
  chunks(): Chunk[] {
    const out: Chunk[] = [];
    let run: { src: Uint8Array; start: number; end: number } | undefined;
    for (const p of this.parts) {
      if (p === null) throw new Error("internal: unfilled header");
      if ("src" in p) {
        if (run && run.src === p.src && run.end === p.start) {
          run.end = p.end;
          continue;
        }
        if (run) out.push(run.src.subarray(run.start, run.end));
        run = { ...p };
        continue;
      }
      if (run) out.push(run.src.subarray(run.start, run.end));
      run = undefined;
      out.push(p);
    }
    if (run) out.push(run.src.subarray(run.start, run.end));
    return out;
  }
}

const EMPTY = new Uint8Array(0);

/** Write a 16- or 32-bit number at `at`, in either byte order (no DataView per header). */
function put(out: Uint8Array, at: number, value: number, bytes: 2 | 4, le: boolean): void {
  for (let i = 0; i < bytes; i++) out[le ? at + i : at + bytes - 1 - i] = (value >>> (8 * i)) & 0xff;
}

function encodeTagAndLength(tag: number, vr: string | null, length: number, enc: Encoding): Uint8Array {
  const le = enc.littleEndian;
  if (vr === null || !enc.explicitVR) {
    const out = smallBytes(8);
    put(out, 0, tag >>> 16, 2, le);
    put(out, 2, tag & 0xffff, 2, le);
    put(out, 4, length, 4, le);
    return out;
  }
  const long = hasLongLength(vr);
  if (!long && length > 0xffff) {
    throw new DicomWriteError("bad-value", `a ${vr} value of ${length} bytes does not fit a 16-bit length`);
  }
  const out = smallBytes(long ? 12 : 8);
  put(out, 0, tag >>> 16, 2, le);
  put(out, 2, tag & 0xffff, 2, le);
  out[4] = vr.charCodeAt(0);
  out[5] = vr.charCodeAt(1);
  if (long) put(out, 8, length, 4, le);
  else put(out, 6, length, 2, le);
  return out;
}

/** Encode the header of an element (tag, VR when explicit, length). */
export function encodeHeader(tag: number, vr: string, length: number, enc: Encoding): Uint8Array {
  return encodeTagAndLength(tag, vr, length, enc);
}

/** Encode a whole data set; returns true when anything differs from what was read. */
function writeDataSet(ds: DataSet, w: ChunkList): boolean {
  let modified = ds.modified ?? false;
  // A group length element (gggg,0000) is recomputed when anything in its group changed.
  let group: { el: Element; hole: number; group: number; from: number; modified: boolean } | undefined;
  const closeGroup = () => {
    if (!group) return;
    const { el, hole } = group;
    if (group.modified || el.dirty || !el.span) {
      // The header and its 4-byte value in one array.
      const header = encodeHeader(el.tag, "UL", 4, ds.encoding);
      const bytes = smallBytes(header.length + 4);
      bytes.set(header);
      put(bytes, header.length, w.length - group.from, 4, ds.encoding.littleEndian);
      w.fill(hole, bytes);
      modified = true;
    } else {
      w.fillCopy(hole, el.span.src, el.span.start, el.span.end);
    }
    group = undefined;
  };
  for (const el of ds.elements) {
    const g = el.tag >>> 16;
    if (group && g !== group.group) closeGroup();
    if ((el.tag & 0xffff) === 0 && !el.items) {
      closeGroup(); // a second group length for the same group (broken input) closes the first
      group = { el, hole: w.reserve(), group: g, from: w.length, modified: ds.modified ?? false };
      continue;
    }
    const changed = writeElement(el, ds.encoding, w);
    modified ||= changed;
    if (group) group.modified ||= changed;
  }
  closeGroup();
  return modified;
}

/** A delimiter: the input's own bytes when there were some (their length field may be nonzero). */
function writeDelimiter(
  w: ChunkList,
  tag: number,
  enc: Encoding,
  span?: { src: Uint8Array; end: number },
): void {
  if (span) w.copy(span.src, span.end - 8, span.end);
  else w.bytes(encodeTagAndLength(tag, null, 0, enc));
}

function writeElement(el: Element, enc: Encoding, w: ChunkList): boolean {
  if (el.items) return writeSequence(el, enc, w);
  if (el.generated) {
    w.bytes(encodeHeader(el.tag, el.vr, el.generated.length, enc));
    w.generated(el.generated);
    return true;
  }
  if (!el.dirty && el.span) {
    w.copy(el.span.src, el.span.start, el.external ? el.span.valueStart : el.span.end);
    if (el.external) {
      if (el.external.length < 0) {
        throw new DicomWriteError("unsupported", "a header-only read cannot be written");
      }
      w.external(el.external);
    }
    return false;
  }
  const value = el.value ?? valueBytes(el) ?? EMPTY;
  w.bytes(encodeHeader(el.tag, el.vr, value.length, enc));
  w.bytes(value);
  return true;
}

function writeSequence(el: Element, enc: Encoding, w: ChunkList): boolean {
  const itemsEnc = el.itemsEncoding ?? enc;
  const hole = w.reserve();
  const from = w.length;
  let modified = el.dirty ?? false;
  for (const item of el.items!) modified = writeItem(item, itemsEnc, w) || modified;
  const undefinedLength = el.length === UNDEFINED_LENGTH;
  if (undefinedLength) writeDelimiter(w, SEQUENCE_DELIMITATION, itemsEnc, el.span);
  if (!modified && el.span) {
    w.fillCopy(hole, el.span.src, el.span.start, el.span.valueStart);
    return false;
  }
  // Items of a UN value keep the UN VR; a sequence the engine created is SQ.
  const length = undefinedLength ? UNDEFINED_LENGTH : w.length - from;
  w.fill(hole, encodeHeader(el.tag, el.span ? el.vr : "SQ", length, enc));
  return true;
}

function writeItem(item: Item, enc: Encoding, w: ChunkList): boolean {
  const hole = w.reserve();
  const from = w.length;
  const modified = writeDataSet(item.dataset, w);
  const undefinedLength = item.length === UNDEFINED_LENGTH;
  if (undefinedLength) writeDelimiter(w, ITEM_DELIMITATION, enc, item.span);
  if (!modified && item.span) {
    w.fillCopy(hole, item.span.src, item.span.start, item.span.valueStart);
    return false;
  }
  w.fill(hole, encodeTagAndLength(ITEM, null, undefinedLength ? UNDEFINED_LENGTH : w.length - from, enc));
  return true;
}

/** The result of encoding a data set: its chunks, length, and whether anything changed. */
export interface EncodedDataSet {
  /** The encoding, in order: new bytes and ranges of the source to copy. */
  chunks: Chunk[];
  /** Total length in bytes (for the lengths of enclosing items and sequences). */
  length: number;
  /** Whether anything differs from the source bytes (else they may be copied whole). */
  modified: boolean;
}

/** Encode a data set in its own encoding (chunks as `encodeFile` gives them). */
export function encodeDataSet(ds: DataSet): EncodedDataSet {
  const w = new ChunkList();
  const modified = writeDataSet(ds, w);
  return { chunks: w.chunks(), length: w.length, modified };
}

/** Our implementation identity in the file meta (PS3.7 D.3.3.2). A 2.25 UUID-derived UID. */
export const IMPLEMENTATION_CLASS_UID = "2.25.339431201927250273719820221363645677593";
/** Our implementation version name in the file meta: at most 16 characters. */
export const IMPLEMENTATION_VERSION_NAME = "DCMTIDY_0_1_0";

/** Options for `encodeFile`. */
export interface EncodeFileOptions {
  /** Replace the preamble with zeros (PS3.15 asks it for de-identified files). Default: keep it. */
  zeroPreamble?: boolean;
}

const META_OWNED: ReadonlySet<number> = new Set([
  tags.FileMetaInformationGroupLength,
  tags.FileMetaInformationVersion,
  tags.MediaStorageSOPClassUID,
  tags.MediaStorageSOPInstanceUID,
  tags.TransferSyntaxUID,
  tags.ImplementationClassUID,
  tags.ImplementationVersionName,
]);

function metaElement(tag: number, vr: string, value: string | Uint8Array, meta: DataSet): Element {
  return { tag, vr, length: 0, value: encodeValue(vr, value, meta), dirty: true };
}

function findString(ds: DataSet, tag: number): string | undefined {
  const el = ds.elements.find((e) => e.tag === tag);
  const bytes = el && valueBytes(el);
  if (!bytes) return undefined;
  // UIDs: one character per byte, no decoder needed.
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0 || bytes[end - 1] === 0x20)) end--;
  let text = "";
  for (let i = 0; i < end; i++) text += String.fromCharCode(bytes[i]);
  return text;
}

/**
 * Build the file meta group for writing: the elements we own (group length, version, SOP class and
 * instance following the data set, transfer syntax, our implementation identity) are set; any
 * other meta element of the input is kept as it was.
 */
export function buildMeta(file: DicomFile): DataSet {
  const meta: DataSet = { elements: [], encoding: EXPLICIT_LE_ENCODING };
  const input = file.meta ?? meta;
  const sopClass = findString(file.dataset, tags.SOPClassUID) ??
    findString(input, tags.MediaStorageSOPClassUID);
  const sopInstance = findString(file.dataset, tags.SOPInstanceUID) ??
    findString(input, tags.MediaStorageSOPInstanceUID);
  const owned: Element[] = [
    metaElement(tags.FileMetaInformationVersion, "OB", new Uint8Array([0, 1]), meta),
    ...(sopClass ? [metaElement(tags.MediaStorageSOPClassUID, "UI", sopClass, meta)] : []),
    ...(sopInstance ? [metaElement(tags.MediaStorageSOPInstanceUID, "UI", sopInstance, meta)] : []),
    metaElement(tags.TransferSyntaxUID, "UI", file.transferSyntax.uid, meta),
    metaElement(tags.ImplementationClassUID, "UI", IMPLEMENTATION_CLASS_UID, meta),
    metaElement(tags.ImplementationVersionName, "SH", IMPLEMENTATION_VERSION_NAME, meta),
  ];
  const kept = input === meta ? [] : input.elements.filter((e) => !META_OWNED.has(e.tag));
  meta.elements = [...owned, ...kept].sort((a, b) => a.tag - b.tag);
  const groupLength: Element = { tag: tags.FileMetaInformationGroupLength, vr: "UL", length: 4, dirty: true };
  meta.elements.unshift(groupLength);
  return meta;
}

/**
 * Encode a whole Part 10 file: preamble, "DICM", a rebuilt file meta group, then the data set in
 * the input's transfer syntax (re-deflated for deflated files, or copied verbatim when unchanged).
 * Inputs without preamble or meta get both.
 *
 * Small byte chunks may be views of a buffer shared with other arrays (see `smallBytes`): write
 * each chunk as the view it is, never its `buffer`.
 */
export function encodeFile(file: DicomFile, opts: EncodeFileOptions = {}): Chunk[] {
  if (file.headerOnly) throw new DicomWriteError("unsupported", "a header-only read cannot be written");
  if (file.isDicomDir) {
    // Its records are byte offsets from the start of the file, which a new meta group would shift.
    throw new DicomWriteError(
      "unsupported",
      "this is a DICOMDIR: its records hold byte offsets and the paths of the files it lists, so an edit " +
        "would break it and dcmtidy does not rewrite it; to describe a de-identified tree, run dcmtidy " +
        "with output.dicomdir: true, which writes a new DICOMDIR from the written files",
    );
  }
  const preamble = smallBytes(132);
  if (file.preamble && !opts.zeroPreamble) preamble.set(file.preamble);
  preamble.set([0x44, 0x49, 0x43, 0x4d], 128); // "DICM"
  const meta = encodeDataSet(buildMeta(file));
  const data = encodeDataSet(file.dataset);
  const out: Chunk[] = [preamble];
  for (const c of meta.chunks) out.push(c);
  if (file.transferSyntax.deflated) {
    if (!data.modified && file.deflatedBytes) {
      out.push(file.deflatedBytes);
    } else {
      if (data.chunks.some((c) => !(c instanceof Uint8Array))) {
        throw new DicomWriteError("unsupported", "deflated data sets are held in memory, not streamed");
      }
      const all = new Uint8Array(data.length);
      let at = 0;
      for (const c of data.chunks as Uint8Array[]) {
        all.set(c, at);
        at += c.length;
      }
      const deflated = new Uint8Array(deflateRawSync(all));
      out.push(deflated);
      if (deflated.length % 2 === 1) out.push(new Uint8Array(1)); // keep the file even-length
    }
  } else {
    for (const c of data.chunks) out.push(c); // a spread of 100,000+ chunks would overflow the stack
  }
  return out;
}
