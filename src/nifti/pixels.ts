/**
 * The pixels of a series' files as sample arrays for NIfTI, one per frame: decoded by the pixel
 * layer (every transfer syntax it reads), colour models given as RGB (YBR and PALETTE COLOR, as
 * dcm2niix does), Bits Stored applied. What a NIfTI volume cannot hold, or what cannot be decoded,
 * raises a `NotConvertible` that names the reason; nothing is guessed.
 *
 * @module
 */
import type { DataSet, DicomFile } from "../dicom/model.ts";
import { decodeBitFrame, decodeFrame, prepareDecoder } from "../pixels/decode.ts";
import { paletteToRgb, readPalette, ybrFullToRgb } from "../pixels/color.ts";
import { PixelError } from "../pixels/errors.ts";
import { type PixelFormat as StoredFormat, readPixelFormat } from "../pixels/format.ts";
import { openPixelSource, type PixelSource } from "../pixels/source.ts";
import { NotConvertible } from "./errors.ts";

/**
 * The layout of a data set's pixels as the volume will hold them: `samplesPerPixel` 3 means 8-bit
 * RGB (what YBR and palette images become); `photometric` is the stored one.
 */
export type PixelFormat = StoredFormat;

/** One frame's samples, row by row, samples of a pixel interleaved (RGB RGB ...). */
export type Samples = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array;

const COLOUR = new Set(["RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420"]);

/** Read the Image Pixel module; throws `NotConvertible` for layouts a NIfTI volume cannot hold. */
export function pixelFormat(ds: DataSet): PixelFormat {
  let fmt: StoredFormat;
  try {
    fmt = readPixelFormat(ds);
  } catch (e) {
    if (e instanceof PixelError) throw new NotConvertible(e.message);
    throw e;
  }
  const p = fmt.photometric;
  if (fmt.samplesPerPixel === 1) {
    if (p === "PALETTE COLOR") {
      if (fmt.bitsAllocated !== 8 && fmt.bitsAllocated !== 16) {
        throw new NotConvertible(`PALETTE COLOR with Bits Allocated ${fmt.bitsAllocated}`);
      }
      return fmt;
    }
    if (p !== "MONOCHROME1" && p !== "MONOCHROME2") {
      throw new NotConvertible(`photometric interpretation ${p} with one sample is not supported`);
    }
    return fmt;
  }
  if (!COLOUR.has(p)) {
    throw new NotConvertible(
      `photometric interpretation ${p || "missing"} with three samples is not converted`,
    );
  }
  if (fmt.bitsAllocated !== 8) {
    throw new NotConvertible(`${p} with Bits Allocated ${fmt.bitsAllocated} (NIfTI RGB holds 8 bits)`);
  }
  return fmt;
}

/** Whether the volume holds this format as RGB (colour and palette images). */
export function isRgb(fmt: PixelFormat): boolean {
  return fmt.samplesPerPixel === 3 || fmt.photometric === "PALETTE COLOR";
}

/** Samples of one decoded little-endian frame, with Bits Stored applied. */
function toSamples(bytes: Uint8Array, fmt: PixelFormat): Samples {
  const n = fmt.rows * fmt.columns * fmt.samplesPerPixel;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let out: Samples;
  switch (fmt.bitsAllocated) {
    case 8:
      out = fmt.signed ? new Int8Array(n) : new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = fmt.signed ? (bytes[i] << 24) >> 24 : bytes[i];
      break;
    case 16:
      out = fmt.signed ? new Int16Array(n) : new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getUint16(i * 2, true);
      break;
    default:
      out = fmt.signed ? new Int32Array(n) : new Uint32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getUint32(i * 4, true);
  }
  applyBitsStored(out, fmt);
  return out;
}

/** Keep only the stored bits (other bits may hold overlays or garbage); sign-extend signed values. */
export function applyBitsStored(out: Samples, fmt: PixelFormat): void {
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

/**
 * Every frame of a file as samples (RGB for colour and palette images). Pixel Data left in the
 * source file by the reader (large files) is read from there, a frame at a time. Throws
 * `NotConvertible` with the reason when it cannot.
 */
export async function readFrames(file: DicomFile, fmt: PixelFormat): Promise<Samples[]> {
  let src: PixelSource | undefined;
  try {
    src = openPixelSource(file, fmt);
    if (fmt.bitsAllocated === 1) {
      await prepareDecoder(src);
      const bits = src;
      return Array.from({ length: fmt.frames }, (_, f) => decodeBitFrame(bits, f));
    }
    await prepareDecoder(src);
    const palette = fmt.photometric === "PALETTE COLOR" ? readPalette(file.dataset) : undefined;
    const out: Samples[] = [];
    for (let f = 0; f < fmt.frames; f++) {
      const d = decodeFrame(src, f);
      if (palette) out.push(paletteToRgb(d.bytes, fmt, palette));
      else if (d.photometric === "YBR_FULL") out.push(ybrFullToRgb(d.bytes.slice()));
      else if (fmt.samplesPerPixel === 3 && d.photometric !== "RGB") {
        throw new NotConvertible(`${d.photometric} samples are not converted to RGB`);
      } else out.push(toSamples(d.bytes, fmt));
    }
    return out;
  } catch (e) {
    if (e instanceof PixelError) throw new NotConvertible(e.message);
    throw e;
  } finally {
    src?.close();
  }
}
