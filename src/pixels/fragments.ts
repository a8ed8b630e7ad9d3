/**
 * Encapsulated Pixel Data (PS3.5 A.4): the fragments and which of them make up each frame, by
 * the Extended Offset Table, the Basic Offset Table, one fragment per frame, or, for JPEG-family
 * codestreams, the start marker each frame begins with. Fragments are located by their 8-byte item
 * headers only, so the data can stay in the file; and encapsulating encoded frames again.
 *
 * @module
 */
import { ITEM, SEQUENCE_DELIMITATION, UNDEFINED_LENGTH } from "../dicom/model.ts";
import { PixelError } from "./errors.ts";
import type { Coding } from "./syntaxes.ts";

/** A fragment's bytes: offset from the start of the Pixel Data value, and length. */
export interface Fragment {
  readonly offset: number;
  readonly length: number;
}

/** Reads `length` bytes at `offset` from the start of the Pixel Data value. */
export type ReadAt = (offset: number, length: number) => Uint8Array;

/** The offset table item's entries and the data fragments after it. */
export function listFragments(read: ReadAt, total: number): { offsets: number[]; fragments: Fragment[] } {
  const items: Fragment[] = [];
  let pos = 0;
  while (pos + 8 <= total) {
    const head = read(pos, 8);
    const view = new DataView(head.buffer, head.byteOffset, 8);
    const tag = ((view.getUint16(0, true) << 16) | view.getUint16(2, true)) >>> 0;
    const length = view.getUint32(4, true);
    if (tag === SEQUENCE_DELIMITATION) break;
    if (tag !== ITEM || length === UNDEFINED_LENGTH || pos + 8 + length > total) {
      throw new PixelError(`encapsulated Pixel Data has a broken fragment at byte ${pos}`);
    }
    items.push({ offset: pos + 8, length });
    pos += 8 + length;
  }
  if (items.length === 0) throw new PixelError("encapsulated Pixel Data has no offset table item");
  const offsets: number[] = [];
  const bot = items[0].length ? read(items[0].offset, items[0].length) : new Uint8Array(0);
  const bv = new DataView(bot.buffer, bot.byteOffset, bot.byteLength);
  for (let i = 0; i + 4 <= bot.length; i += 4) offsets.push(bv.getUint32(i, true));
  return { offsets, fragments: items.slice(1) };
}

/** Whether a fragment begins a codestream of this coding (JPEG SOI, JPEG 2000 SOC or a JP2 box). */
function startsCodestream(head: Uint8Array, coding: Coding): boolean {
  if (coding === "jpeg-dct" || coding === "jpeg-lossless" || coding === "jpeg-ls") {
    return head[0] === 0xff && head[1] === 0xd8;
  }
  if (coding === "j2k" || coding === "htj2k") {
    return (head[0] === 0xff && head[1] === 0x4f) || (head[4] === 0x6a && head[5] === 0x50); // SOC, "jP"
  }
  return false;
}

/**
 * Group fragments into `frames` frames. `extended`: the Extended Offset Table's offsets, when the
 * data set has one. Offsets count from the first byte of the first fragment's item header.
 */
export function groupFrames(
  offsets: readonly number[],
  fragments: readonly Fragment[],
  frames: number,
  coding: Coding,
  read: ReadAt,
): Fragment[][] {
  if (fragments.length === 0) throw new PixelError("encapsulated Pixel Data has no fragments");
  if (frames === 1) return [fragments.slice()];
  const base = fragments[0].offset - 8;
  if (offsets.length === frames && offsets[0] === 0) {
    const out = offsets.map((o, i) => {
      const end = i + 1 < offsets.length ? offsets[i + 1] : Infinity;
      return fragments.filter((f) => f.offset - 8 - base >= o && f.offset - 8 - base < end);
    });
    if (out.every((f) => f.length > 0)) return out;
  }
  if (fragments.length === frames) return fragments.map((f) => [f]);
  if (coding !== "rle" && coding !== "deflate-frame" && coding !== "native") {
    const out: Fragment[][] = [];
    for (const f of fragments) {
      const starts = startsCodestream(read(f.offset, Math.min(8, f.length)), coding);
      if (starts || out.length === 0) out.push([f]);
      else out[out.length - 1].push(f);
    }
    if (out.length === frames) return out;
    if (out.length > frames && fragments.length > frames) {
      throw new PixelError(
        `${out.length} codestreams in ${fragments.length} fragments for ${frames} frames: frames cannot be told apart`,
      );
    }
  }
  throw new PixelError(
    `${fragments.length} fragments for ${frames} frames and no usable offset table: frames cannot be told apart`,
  );
}

/**
 * Encapsulate encoded frames, one fragment each, padded to even length, with a Basic Offset
 * Table: the value of an undefined-length Pixel Data element, sequence delimiter included.
 */
export function encapsulate(frames: readonly Uint8Array[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  const bot = new Uint8Array(8 + 4 * frames.length);
  bot.set(itemHeader(4 * frames.length));
  const bv = new DataView(bot.buffer);
  chunks.push(bot);
  let at = 0;
  frames.forEach((f, i) => {
    bv.setUint32(8 + 4 * i, at, true);
    chunks.push(itemHeader(f.length + (f.length % 2)), f);
    if (f.length % 2) chunks.push(new Uint8Array(1));
    at += 8 + f.length + (f.length % 2);
  });
  const end = new Uint8Array(8);
  const ev = new DataView(end.buffer);
  ev.setUint16(0, 0xfffe, true);
  ev.setUint16(2, 0xe0dd, true);
  chunks.push(end);
  return chunks;
}

/** An item header (FFFE,E000) with `length`. */
export function itemHeader(length: number): Uint8Array {
  const h = new Uint8Array(8);
  const v = new DataView(h.buffer);
  v.setUint16(0, 0xfffe, true);
  v.setUint16(2, 0xe000, true);
  v.setUint32(4, length, true);
  return h;
}
