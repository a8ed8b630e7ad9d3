/**
 * Pixel data to sample arrays, one per frame: native little and big endian, RLE Lossless
 * (PS3.5 Annex G), 1-bit packed, planar configuration, signedness and Bits Stored. Anything else
 * raises a `NotConvertible` that names the reason; nothing is guessed.
 */
import type { DataSet, DicomFile, Element } from "../dicom/model.ts";
import { ITEM, PIXEL_DATA, SEQUENCE_DELIMITATION, UNDEFINED_LENGTH } from "../dicom/model.ts";
import { valueBytes } from "../dicom/values.ts";
import { elementOf, number, string } from "./attrs.ts";

/** Why a series (or part of one) cannot be converted; the message is shown to the user as is. */
export class NotConvertible extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NotConvertible";
  }
}

/** RLE Lossless. */
export const RLE_LOSSLESS = "1.2.840.10008.1.2.5";

/** Names of the compressed transfer syntaxes people meet, for messages. */
const COMPRESSED_NAMES: Readonly<Record<string, string>> = {
  "1.2.840.10008.1.2.4.50": "JPEG Baseline",
  "1.2.840.10008.1.2.4.51": "JPEG Extended",
  "1.2.840.10008.1.2.4.57": "JPEG Lossless",
  "1.2.840.10008.1.2.4.70": "JPEG Lossless SV1",
  "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
  "1.2.840.10008.1.2.4.81": "JPEG-LS Near-Lossless",
  "1.2.840.10008.1.2.4.90": "JPEG 2000 Lossless",
  "1.2.840.10008.1.2.4.91": "JPEG 2000",
  "1.2.840.10008.1.2.4.201": "HTJ2K Lossless",
  "1.2.840.10008.1.2.4.202": "HTJ2K Lossless RPCL",
  "1.2.840.10008.1.2.4.203": "HTJ2K",
  "1.2.840.10008.1.2.4.100": "MPEG2",
  "1.2.840.10008.1.2.4.102": "MPEG-4 AVC/H.264",
  "1.2.840.10008.1.2.8.1": "Deflated Image Frame Compression",
};

/** The layout of a data set's pixels. */
export interface PixelFormat {
  readonly rows: number;
  readonly columns: number;
  readonly samplesPerPixel: 1 | 3;
  readonly bitsAllocated: 1 | 8 | 16 | 32;
  readonly bitsStored: number;
  readonly highBit: number;
  readonly signed: boolean;
  readonly photometric: string;
  /** 1: all reds, then all greens, then all blues (for each frame). */
  readonly planar: 0 | 1;
  readonly frames: number;
}

/** One frame's samples, row by row, samples of a pixel interleaved (RGB RGB ...). */
export type Samples = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array;

const ROWS = 0x00280010;
const COLUMNS = 0x00280011;
const SAMPLES_PER_PIXEL = 0x00280002;
const PHOTOMETRIC = 0x00280004;
const PLANAR = 0x00280006;
const FRAMES = 0x00280008;
const BITS_ALLOCATED = 0x00280100;
const BITS_STORED = 0x00280101;
const HIGH_BIT = 0x00280102;
const PIXEL_REPRESENTATION = 0x00280103;

/** Read the Image Pixel module; throws `NotConvertible` for layouts a NIfTI volume cannot hold. */
export function pixelFormat(ds: DataSet): PixelFormat {
  const rows = number(ds, ROWS);
  const columns = number(ds, COLUMNS);
  if (!rows || !columns) throw new NotConvertible("no Rows/Columns: not an image");
  const spp = number(ds, SAMPLES_PER_PIXEL) ?? 1;
  const photometric = string(ds, PHOTOMETRIC) ?? (spp === 1 ? "MONOCHROME2" : "");
  const ba = number(ds, BITS_ALLOCATED);
  if (ba !== 1 && ba !== 8 && ba !== 16 && ba !== 32) {
    throw new NotConvertible(`Bits Allocated ${ba ?? "missing"} is not 1, 8, 16 or 32`);
  }
  const bs = number(ds, BITS_STORED) ?? ba;
  const hb = number(ds, HIGH_BIT) ?? bs - 1;
  if (bs < 1 || bs > ba || hb < bs - 1 || hb >= ba) {
    throw new NotConvertible(`Bits Stored ${bs} / High Bit ${hb} do not fit Bits Allocated ${ba}`);
  }
  const signed = number(ds, PIXEL_REPRESENTATION) === 1;
  if (spp === 1) {
    if (photometric === "PALETTE COLOR") {
      throw new NotConvertible("PALETTE COLOR images are not converted (the palette would be lost)");
    }
    if (photometric !== "MONOCHROME1" && photometric !== "MONOCHROME2") {
      throw new NotConvertible(`photometric interpretation ${photometric} with one sample is not supported`);
    }
  } else if (spp === 3) {
    if (photometric !== "RGB") {
      throw new NotConvertible(
        `photometric interpretation ${
          photometric || "missing"
        } is not converted (only MONOCHROME1/2 and RGB)`,
      );
    }
    if (ba !== 8) throw new NotConvertible(`RGB with Bits Allocated ${ba} (NIfTI RGB holds 8 bits)`);
  } else {
    throw new NotConvertible(`Samples per Pixel ${spp} is not 1 or 3`);
  }
  const frames = number(ds, FRAMES) ?? 1;
  if (!Number.isInteger(frames) || frames < 1) {
    throw new NotConvertible(`Number of Frames ${frames} is invalid`);
  }
  return {
    rows,
    columns,
    samplesPerPixel: spp as 1 | 3,
    bitsAllocated: ba,
    bitsStored: bs,
    highBit: hb,
    signed: signed && spp === 1,
    photometric,
    planar: spp === 3 && number(ds, PLANAR) === 1 ? 1 : 0,
    frames,
  };
}

/** The bytes of the Pixel Data value, read from the source file when the reader left them there. */
async function pixelDataValue(file: DicomFile, el: Element): Promise<Uint8Array> {
  const inMemory = valueBytes(el);
  if (inMemory) return inMemory;
  if (!el.external || !file.path) throw new NotConvertible("Pixel Data is not available (header-only read)");
  const f = await Deno.open(file.path, { read: true });
  try {
    const buf = new Uint8Array(el.external.length);
    await f.seek(el.external.offset, Deno.SeekMode.Start);
    let got = 0;
    while (got < buf.length) {
      const r = await f.read(buf.subarray(got));
      if (r === null) break;
      got += r;
    }
    if (got < buf.length) throw new NotConvertible("Pixel Data is truncated in the file");
    return buf;
  } finally {
    f.close();
  }
}

/** The fragments of encapsulated Pixel Data: the offset table, then the data items. */
function splitFragments(bytes: Uint8Array): { offsets: number[]; fragments: Uint8Array[] } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const items: Uint8Array[] = [];
  let pos = 0;
  while (pos + 8 <= bytes.length) {
    const tag = ((view.getUint16(pos, true) << 16) | view.getUint16(pos + 2, true)) >>> 0;
    const length = view.getUint32(pos + 4, true);
    if (tag === SEQUENCE_DELIMITATION) break;
    if (tag !== ITEM || length === UNDEFINED_LENGTH || pos + 8 + length > bytes.length) {
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
function frameFragments(bytes: Uint8Array, frames: number): Uint8Array[][] {
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
function decodeRleFrame(frame: Uint8Array, fmt: PixelFormat): Uint8Array {
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

/** Samples of one native (or decoded little-endian) frame, with Bits Stored applied. */
function toSamples(bytes: Uint8Array, le: boolean, fmt: PixelFormat, planar: boolean): Samples {
  const n = fmt.rows * fmt.columns * fmt.samplesPerPixel;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let out: Samples;
  switch (fmt.bitsAllocated) {
    case 8:
      out = fmt.signed ? new Int8Array(n) : new Uint8Array(n);
      if (planar) {
        const plane = fmt.rows * fmt.columns;
        for (let p = 0; p < plane; p++) {
          for (let s = 0; s < 3; s++) out[p * 3 + s] = bytes[s * plane + p];
        }
      } else {
        for (let i = 0; i < n; i++) out[i] = fmt.signed ? (bytes[i] << 24) >> 24 : bytes[i];
      }
      break;
    case 16:
      out = fmt.signed ? new Int16Array(n) : new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getUint16(i * 2, le);
      break;
    default:
      out = fmt.signed ? new Int32Array(n) : new Uint32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getUint32(i * 4, le);
  }
  applyBitsStored(out, fmt);
  return out;
}

/** Keep only the stored bits (other bits may hold overlays or garbage); sign-extend signed values. */
function applyBitsStored(out: Samples, fmt: PixelFormat): void {
  const { bitsStored: bs, highBit: hb, bitsAllocated: ba } = fmt;
  if (bs === ba) return;
  const shift = hb + 1 - bs;
  const mask = bs >= 32 ? 0xffffffff : (2 ** bs) - 1;
  for (let i = 0; i < out.length; i++) {
    let v = (out[i] >>> shift) & mask; // raw bits (an Int container reads negative: >>> fixes that)
    if (fmt.signed && v >= 2 ** (bs - 1)) v -= 2 ** bs;
    out[i] = v;
  }
}

/** 1-bit frames: packed across frames without padding, least significant bit first (PS3.5 8.1.1). */
function unpackBitFrames(bytes: Uint8Array, fmt: PixelFormat): Samples[] {
  const n = fmt.rows * fmt.columns;
  if (bytes.length * 8 < n * fmt.frames) throw new NotConvertible("Pixel Data is shorter than its frames");
  const frames: Samples[] = [];
  for (let f = 0; f < fmt.frames; f++) {
    const out = new Uint8Array(n);
    const base = f * n;
    for (let i = 0; i < n; i++) {
      const bit = base + i;
      out[i] = (bytes[bit >> 3] >> (bit & 7)) & 1;
    }
    frames.push(out);
  }
  return frames;
}

/** Why a compressed transfer syntax cannot be read, in words. */
export function noDecoderReason(uid: string): string {
  const name = COMPRESSED_NAMES[uid];
  return `transfer syntax ${name ? `${name} (${uid})` : uid} has no decoder here`;
}

/**
 * Every frame of a file as samples. Pixel Data left in the source file by the reader (large
 * files) is read from there. Throws `NotConvertible` with the reason when it cannot.
 */
export async function readFrames(file: DicomFile, fmt: PixelFormat): Promise<Samples[]> {
  const el = elementOf(file.dataset, PIXEL_DATA);
  if (!el) {
    const float = file.dataset.elements.some((e) => e.tag === 0x7fe00008 || e.tag === 0x7fe00009);
    throw new NotConvertible(float ? "Float Pixel Data is not converted" : "no Pixel Data");
  }
  const ts = file.transferSyntax;
  const bytes = await pixelDataValue(file, el);
  const pixels = fmt.rows * fmt.columns;
  if (!ts.encapsulated && !el.encapsulated) {
    if (fmt.bitsAllocated === 1) return unpackBitFrames(bytes, fmt);
    const frameBytes = pixels * fmt.samplesPerPixel * (fmt.bitsAllocated / 8);
    if (bytes.length < frameBytes * fmt.frames) {
      throw new NotConvertible(
        `Pixel Data holds ${bytes.length} bytes, ${
          frameBytes * fmt.frames
        } needed for ${fmt.frames} frame(s)`,
      );
    }
    let data = bytes;
    if (!ts.littleEndian && fmt.bitsAllocated === 8 && el.vr === "OW") {
      // 8-bit samples in an OW value were byte-swapped word by word with the rest of the big-endian data.
      data = bytes.slice();
      for (let i = 0; i + 1 < data.length; i += 2) [data[i], data[i + 1]] = [data[i + 1], data[i]];
    }
    const out: Samples[] = [];
    for (let f = 0; f < fmt.frames; f++) {
      const frame = data.subarray(f * frameBytes, (f + 1) * frameBytes);
      out.push(toSamples(frame, ts.littleEndian, fmt, fmt.planar === 1));
    }
    return out;
  }
  if (ts.uid !== RLE_LOSSLESS) throw new NotConvertible(noDecoderReason(ts.uid));
  if (fmt.bitsAllocated === 1) throw new NotConvertible("RLE with Bits Allocated 1 is not supported");
  return frameFragments(bytes, fmt.frames).map((parts) => {
    const frame = parts.length === 1 ? parts[0] : concat(parts);
    // Decoded RLE is always pixel-interleaved, whatever Planar Configuration says (PS3.5 G.2).
    return toSamples(decodeRleFrame(frame, fmt), true, fmt, false);
  });
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
