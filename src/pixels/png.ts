/**
 * A small PNG encoder (8-bit greyscale or RGB, no interlacing) for preview pictures: each row is
 * filtered with None, Sub or Up, whichever gives the smallest sum of absolute differences, the
 * rows are compressed with zlib (`node:zlib`) and the compressed stream is split over IDAT chunks.
 *
 * @module
 */
import { concatBytes } from "../util/bytes.ts";
import { deflateSync } from "node:zlib";
import { PixelError } from "./errors.ts";

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
/** Largest IDAT chunk body written; longer streams go into several IDAT chunks. */
const IDAT_CHUNK = 1 << 18;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO 3309, as PNG uses it) of some bytes. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  view.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
  return out;
}

/** The rows with a filter type byte in front of each: None, Sub or Up, chosen row by row. */
function filterRows(width: number, height: number, bpp: number, pixels: Uint8Array): Uint8Array {
  const stride = width * bpp;
  const out = new Uint8Array(height * (stride + 1));
  const cost = (v: number) => (v < 128 ? v : 256 - v);
  for (let r = 0; r < height; r++) {
    const row = r * stride;
    const up = row - stride;
    let none = 0, sub = 0, upCost = 0;
    for (let i = 0; i < stride; i++) {
      const v = pixels[row + i];
      none += v;
      sub += cost((v - (i >= bpp ? pixels[row + i - bpp] : 0)) & 0xff);
      upCost += cost((v - (r > 0 ? pixels[up + i] : 0)) & 0xff);
    }
    const o = r * (stride + 1) + 1;
    const type = r > 0 && upCost < sub && upCost < none ? 2 : sub < none ? 1 : 0;
    out[o - 1] = type;
    if (type === 0) out.set(pixels.subarray(row, row + stride), o);
    else if (type === 1) {
      for (let i = 0; i < stride; i++) out[o + i] = pixels[row + i] - (i >= bpp ? pixels[row + i - bpp] : 0);
    } else {
      for (let i = 0; i < stride; i++) out[o + i] = pixels[row + i] - pixels[up + i];
    }
  }
  return out;
}

/**
 * Encode an 8-bit image as PNG: `channels` 1 (greyscale) or 3 (RGB), `pixels` row by row, samples
 * interleaved, `width * height * channels` bytes. Throws `PixelError` when the sizes do not fit.
 */
export function encodePng(width: number, height: number, channels: 1 | 3, pixels: Uint8Array): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new PixelError(`a PNG of ${width} x ${height} pixels cannot be made`);
  }
  if (width > 0x7fffffff || height > 0x7fffffff) throw new PixelError("a PNG side is at most 2^31 - 1");
  if (channels !== 1 && channels !== 3) throw new PixelError(`PNG channels ${channels} is not 1 or 3`);
  const want = width * height * channels;
  if (pixels.length !== want) {
    throw new PixelError(
      `${pixels.length} bytes given for a ${width} x ${height} x ${channels} image (${want})`,
    );
  }
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = channels === 1 ? 0 : 2; // colour type: greyscale or truecolour
  // compression 0, filter method 0, interlace 0
  const z = deflateSync(filterRows(width, height, channels, pixels));
  const stream = new Uint8Array(z.buffer, z.byteOffset, z.byteLength);
  const parts: Uint8Array[] = [Uint8Array.from(SIGNATURE), chunk("IHDR", ihdr)];
  for (let at = 0; at < stream.length; at += IDAT_CHUNK) {
    parts.push(chunk("IDAT", stream.subarray(at, Math.min(stream.length, at + IDAT_CHUNK))));
  }
  parts.push(chunk("IEND", new Uint8Array(0)));
  return concatBytes(parts);
}
