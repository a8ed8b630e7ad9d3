/**
 * One frame decoded from whatever its transfer syntax stores to plain samples: little-endian bytes
 * in the container of Bits Allocated, pixel-interleaved, with the photometric interpretation the
 * samples now have (a YBR_FULL_422 JPEG decodes to RGB, a YBR_ICT or YBR_RCT JPEG 2000 to RGB).
 * Codecs: RLE and native here; JPEG DCT (8-bit libjpeg-turbo, 12-bit ours), JPEG lossless
 * (jpeg-lossless-decoder-js), JPEG-LS (CharLS), JPEG 2000 (OpenJPEG), HTJ2K (OpenJPH) and
 * Deflated Image Frame Compression in `_codecs.ts`.
 *
 * @module
 */
import { decodeCodestream, prepareAllCodings, prepareCoding } from "./_codecs.ts";
import { decodeRleFrame } from "./_rle.ts";
import { expandYbr422 } from "./color.ts";
import { PixelError } from "./errors.ts";
import type { PixelFormat } from "./format.ts";
import type { PixelSource } from "./source.ts";
import type { Coding } from "./syntaxes.ts";

/** A decoded frame. */
export interface DecodedFrame {
  /** Samples as little-endian bytes of Bits Allocated (8, 16 or 32 bits), pixel-interleaved. */
  readonly bytes: Uint8Array;
  /** The photometric interpretation of these samples. */
  readonly photometric: string;
  /** The frame's coding lost information (JPEG baseline, JPEG-LS NEAR > 0, irreversible wavelet). */
  readonly lossy: boolean;
}

/** Load the codecs a source's coding needs (WebAssembly instantiation is asynchronous). */
export async function prepareDecoder(src: PixelSource): Promise<void> {
  await prepareCoding(src.coding);
}

/** Load every decoder, so that `decodeFrame` works on any source without waiting. */
export async function prepareAllDecoders(): Promise<void> {
  await prepareAllCodings();
}

/** Pixel-interleave a planar (RRR...GGG...BBB...) frame. */
function interleave(bytes: Uint8Array, fmt: PixelFormat): Uint8Array {
  const width = fmt.bitsAllocated / 8;
  const plane = fmt.rows * fmt.columns;
  const out = new Uint8Array(bytes.length);
  for (let s = 0; s < 3; s++) {
    for (let p = 0; p < plane; p++) {
      for (let k = 0; k < width; k++) out[(p * 3 + s) * width + k] = bytes[(s * plane + p) * width + k];
    }
  }
  return out;
}

/**
 * Decode frame `i` of a source (`prepareDecoder` first). Native frames come back as stored (planar
 * ones interleaved, YBR_FULL_422 expanded to YBR_FULL); Bits Allocated 1 is not decoded here.
 */
export function decodeFrame(src: PixelSource, i: number): DecodedFrame {
  const fmt = src.fmt;
  if (i < 0 || i >= fmt.frames) throw new PixelError(`frame ${i + 1} of ${fmt.frames} does not exist`);
  if (fmt.bitsAllocated === 1) throw new PixelError("Bits Allocated 1 frames are bit-packed, not decoded");
  const stored = src.frame(i);
  const coding: Coding = src.coding;
  if (coding === "native" || coding === "rle") {
    let bytes = coding === "rle" ? decodeRleFrame(stored, fmt) : stored;
    let photometric = fmt.photometric;
    if (coding === "native" && photometric === "YBR_FULL_422" && fmt.samplesPerPixel === 3) {
      bytes = expandYbr422(bytes, fmt);
      photometric = "YBR_FULL";
    } else if (coding === "native" && fmt.planar === 1) {
      bytes = interleave(bytes, fmt);
    }
    return { bytes, photometric, lossy: false };
  }
  const d = decodeCodestream(coding, stored, fmt);
  let bytes = d.bytes;
  if (d.planar && fmt.samplesPerPixel === 3) bytes = interleave(bytes, fmt);
  const want = fmt.rows * fmt.columns * fmt.samplesPerPixel * (fmt.bitsAllocated / 8);
  if (bytes.length < want) {
    throw new PixelError(`the ${coding} codestream decodes to ${bytes.length} bytes, ${want} expected`);
  }
  return {
    bytes: bytes.length > want ? bytes.subarray(0, want) : bytes,
    photometric: d.photometric,
    lossy: d.lossy,
  };
}

/**
 * Frame `i` of a Bits Allocated 1 source as unpacked samples (0 or 1, one byte each): native
 * frames are packed one after another without padding (PS3.5 8.1.1), deflated ones each alone.
 */
export function decodeBitFrame(src: PixelSource, i: number): Uint8Array {
  const fmt = src.fmt;
  const n = fmt.rows * fmt.columns;
  let packed: Uint8Array;
  let first = 0;
  if (src.coding === "native") {
    packed = src.frame(0);
    first = i * n;
  } else if (src.coding === "deflate-frame") {
    packed = decodeCodestream("deflate-frame", src.frame(i), fmt).bytes;
  } else {
    throw new PixelError(`Bits Allocated 1 in ${src.coding} Pixel Data is not decoded`);
  }
  if (packed.length * 8 < first + n) throw new PixelError("Pixel Data is shorter than its frames");
  const out = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const bit = first + k;
    out[k] = (packed[bit >> 3] >> (bit & 7)) & 1;
  }
  return out;
}

/** Pack 0/1 samples of several frames one after another, least significant bit first. */
export function packBitFrames(frames: readonly Uint8Array[]): Uint8Array {
  const total = frames.reduce((n, f) => n + f.length, 0);
  const out = new Uint8Array(Math.ceil(total / 8));
  let bit = 0;
  for (const f of frames) {
    for (let k = 0; k < f.length; k++, bit++) if (f[k]) out[bit >> 3] |= 1 << (bit & 7);
  }
  return out;
}

/**
 * Every frame of a source, one at a time (so only one decoded frame is alive at once). Prepares
 * the codecs first.
 */
export async function* decodedFrames(src: PixelSource): AsyncGenerator<DecodedFrame> {
  await prepareDecoder(src);
  for (let i = 0; i < src.fmt.frames; i++) yield decodeFrame(src, i);
}
