/**
 * Pixel data to sample arrays, one per frame: native little and big endian, RLE Lossless
 * (PS3.5 Annex G), 1-bit packed, planar configuration, signedness and Bits Stored. Anything else
 * raises a `NotConvertible` that names the reason; nothing is guessed.
 */
import type { DataSet, DicomFile, Element } from "../dicom/model.ts";
import { valueBytes } from "../dicom/values.ts";
import { tags } from "../standard/tags.ts";
import { concat, decodeRleFrame, frameFragments } from "./_rle.ts";
import { elementOf, number, string } from "./attrs.ts";
import { NotConvertible } from "./errors.ts";

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

/** Read the Image Pixel module; throws `NotConvertible` for layouts a NIfTI volume cannot hold. */
export function pixelFormat(ds: DataSet): PixelFormat {
  const rows = number(ds, tags.Rows);
  const columns = number(ds, tags.Columns);
  if (!rows || !columns) throw new NotConvertible("no Rows/Columns: not an image");
  const spp = number(ds, tags.SamplesPerPixel) ?? 1;
  const photometric = string(ds, tags.PhotometricInterpretation) ?? (spp === 1 ? "MONOCHROME2" : "");
  const ba = number(ds, tags.BitsAllocated);
  if (ba !== 1 && ba !== 8 && ba !== 16 && ba !== 32) {
    throw new NotConvertible(`Bits Allocated ${ba ?? "missing"} is not 1, 8, 16 or 32`);
  }
  const bs = number(ds, tags.BitsStored) ?? ba;
  const hb = number(ds, tags.HighBit) ?? bs - 1;
  if (bs < 1 || bs > ba || hb < bs - 1 || hb >= ba) {
    throw new NotConvertible(`Bits Stored ${bs} / High Bit ${hb} do not fit Bits Allocated ${ba}`);
  }
  const signed = number(ds, tags.PixelRepresentation) === 1;
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
  const frames = number(ds, tags.NumberOfFrames) ?? 1;
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
    planar: spp === 3 && number(ds, tags.PlanarConfiguration) === 1 ? 1 : 0,
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
  const el = elementOf(file.dataset, tags.PixelData);
  if (!el) {
    const float = file.dataset.elements.some((e) =>
      e.tag === tags.FloatPixelData || e.tag === tags.DoubleFloatPixelData
    );
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
