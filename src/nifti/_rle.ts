/**
 * Encapsulated Pixel Data (PS3.5 A.4): the fragments, grouped into frames; and the RLE Lossless
 * decoder (PS3.5 Annex G) for one frame. Private to the folder: `readFrames` in `pixels.ts` uses
 * them. Anything broken raises a `NotConvertible` that says what.
 *
 * @module
 */
import { UNDEFINED_LENGTH } from "../dicom/model.ts";
import { tags } from "../standard/tags.ts";
import { NotConvertible } from "./errors.ts";
import type { PixelFormat } from "./pixels.ts";

/** The fragments of encapsulated Pixel Data: the offset table, then the data items. */
function splitFragments(bytes: Uint8Array): { offsets: number[]; fragments: Uint8Array[] } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const items: Uint8Array[] = [];
  let pos = 0;
  while (pos + 8 <= bytes.length) {
    const tag = ((view.getUint16(pos, true) << 16) | view.getUint16(pos + 2, true)) >>> 0;
    const length = view.getUint32(pos + 4, true);
    if (tag === tags.SequenceDelimitationItem) break;
    if (tag !== tags.Item || length === UNDEFINED_LENGTH || pos + 8 + length > bytes.length) {
      throw new NotConvertible("encapsulated Pixel Data has a broken fragment");
    }
    items.push(bytes.subarray(pos + 8, pos + 8 + length));
    pos += 8 + length;
  }
  if (items.length === 0) throw new NotConvertible("encapsulated Pixel Data has no offset table item");
  const bot = items[0];
  const botView = new DataView(bot.buffer, bot.byteOffset, bot.byteLength);
  const offsets: number[] = [];
  for (let i = 0; i + 4 <= bot.length; i += 4) offsets.push(botView.getUint32(i, true));
  return { offsets, fragments: items.slice(1) };
}

/** Group fragments into frames: by the offset table, or one fragment per frame. */
export function frameFragments(bytes: Uint8Array, frames: number): Uint8Array[][] {
  const { offsets, fragments } = splitFragments(bytes);
  if (frames === 1) return [fragments];
  if (offsets.length === frames) {
    // Offsets count from the first byte of the first fragment's item header.
    const starts: number[] = [];
    let at = 0;
    for (const f of fragments) {
      starts.push(at);
      at += 8 + f.length;
    }
    return offsets.map((o, i) => {
      const end = i + 1 < offsets.length ? offsets[i + 1] : Infinity;
      return fragments.filter((_, k) => starts[k] >= o && starts[k] < end);
    });
  }
  if (fragments.length === frames) return fragments.map((f) => [f]);
  throw new NotConvertible(
    `${fragments.length} fragments for ${frames} frames and no usable offset table: frames cannot be told apart`,
  );
}

/** Decode one PackBits segment (PS3.5 G.3.1) into exactly `n` bytes. */
function unpackBits(src: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let i = 0;
  let o = 0;
  while (o < n && i < src.length) {
    const h = src[i++];
    if (h < 128) {
      const count = h + 1;
      if (i + count > src.length || o + count > n) throw new NotConvertible("RLE literal run overruns");
      out.set(src.subarray(i, i + count), o);
      i += count;
      o += count;
    } else if (h > 128) {
      const count = 257 - h;
      if (i >= src.length || o + count > n) throw new NotConvertible("RLE repeat run overruns");
      out.fill(src[i++], o, o + count);
      o += count;
    }
    // 128 (-128) is a no-op.
  }
  if (o < n) throw new NotConvertible(`RLE segment decodes to ${o} bytes, ${n} expected`);
  return out;
}

/**
 * One RLE frame (PS3.5 G.4-G.5): a 64-byte header with up to 15 segment offsets; one segment per
 * byte of each sample, most significant byte first. Returns little-endian, pixel-interleaved bytes.
 */
export function decodeRleFrame(frame: Uint8Array, fmt: PixelFormat): Uint8Array {
  const bytesPerSample = fmt.bitsAllocated / 8;
  const expected = fmt.samplesPerPixel * bytesPerSample;
  if (frame.length < 64) throw new NotConvertible("RLE frame is shorter than its header");
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const count = view.getUint32(0, true);
  if (count !== expected) {
    throw new NotConvertible(`RLE frame has ${count} segments, ${expected} expected`);
  }
  const starts: number[] = [];
  for (let s = 0; s < count; s++) starts.push(view.getUint32(4 + 4 * s, true));
  const pixels = fmt.rows * fmt.columns;
  const out = new Uint8Array(pixels * expected);
  for (let s = 0; s < count; s++) {
    const start = starts[s];
    const end = s + 1 < count ? starts[s + 1] : frame.length;
    if (start < 64 || end > frame.length || end < start) {
      throw new NotConvertible("RLE segment offsets are wrong");
    }
    const seg = unpackBits(frame.subarray(start, end), pixels);
    const sample = Math.floor(s / bytesPerSample);
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample); // MSB segment first
    const stride = expected;
    const base = sample * bytesPerSample + byteInSample;
    for (let p = 0; p < pixels; p++) out[p * stride + base] = seg[p];
  }
  return out;
}

/** The fragments of one frame as one byte array. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
