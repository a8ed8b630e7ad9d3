/**
 * The data set parser: element headers, values, sequences and their items, encapsulated fragments.
 * Every length is checked against the bytes that are really there before anything is read, and
 * sequence nesting is limited (`MAX_SEQUENCE_DEPTH`). Private to the reader: `parseDicom` and
 * `parseTrailer` in `reader.ts` are its callers.
 *
 * @module
 */
import { vrOf } from "../standard/dictionary.ts";
import { type Ctx, fail, hex, need, readTag, u16, u32 } from "./_cursor.ts";
import { DicomReadError } from "./errors.ts";
import {
  BULK_TAGS,
  type DataSet,
  type Element,
  type Encoding,
  IMPLICIT_LE_ENCODING,
  isPrivateTag,
  ITEM,
  type Item,
  ITEM_DELIMITATION,
  SEQUENCE_DELIMITATION,
  UNDEFINED_LENGTH,
} from "./model.ts";
import { hasLongLength, KNOWN_VRS } from "./vr.ts";

/** Known VRs by their two bytes as a 16-bit number: no string is made per element to look one up. */
const VR_BY_CODE: ReadonlyMap<number, string> = new Map(
  [...KNOWN_VRS].map((vr) => [(vr.charCodeAt(0) << 8) | vr.charCodeAt(1), vr]),
);

/** Sequences nested deeper than this are refused: real data stays below 20. */
export const MAX_SEQUENCE_DEPTH = 64;

/** The VR to assume for an implicit-VR element: the dictionary's, or the rules for private and group length. */
export function implicitVR(tag: number): string {
  const element = tag & 0xffff;
  if (element === 0) return "UL"; // group length, in every group
  if (isPrivateTag(tag)) return element >= 0x10 && element <= 0xff ? "LO" : "UN";
  return vrOf(tag) || "UN";
}

/** How `parseElements` knows where a data set ends, and what it reports back. */
export interface Mode {
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
export function parseElements(ctx: Ctx, ds: DataSet, start: number, limit: number, mode: Mode): number {
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
