/**
 * Lossless encoders for writing frames again: native (the bytes as they are), RLE (ours),
 * JPEG-LS lossless (CharLS) and HTJ2K lossless (OpenJPH). Frames come in as `decodeFrame` gives
 * them: little-endian, pixel-interleaved, in the container of Bits Allocated.
 *
 * @module
 */
import { heapCopy } from "./_codecs.ts";
import { encodeRleFrame } from "./_rle.ts";
import { PixelError } from "./errors.ts";
import type { PixelFormat } from "./format.ts";
import type { Coding } from "./syntaxes.ts";
import { codecModule, prepareCodec } from "./wasm.ts";

/** The codings dcmtidy writes. */
export type WritableCoding = Extract<Coding, "native" | "rle" | "jpeg-ls" | "htj2k">;

/** Load the encoder a coding needs. */
export async function prepareEncoder(coding: WritableCoding): Promise<void> {
  if (coding === "jpeg-ls") await prepareCodec("charls");
  if (coding === "htj2k") await prepareCodec("openjph");
}

/**
 * The samples with only the stored bits kept, as the encoders take them: `bytesPerSample` 1 or 2,
 * unsigned bit patterns (JPEG-LS) or sign-extended values (HTJ2K, `signed`).
 */
function storedSamples(bytes: Uint8Array, fmt: PixelFormat, signExtend: boolean): Uint8Array {
  const { bitsStored: bs, bitsAllocated: ba } = fmt;
  if (bs > 16) throw new PixelError(`Bits Stored ${bs}: the lossless encoders take at most 16 bits`);
  if (fmt.highBit !== bs - 1) throw new PixelError(`High Bit ${fmt.highBit} is not Bits Stored - 1`);
  const width = ba / 8;
  const outWidth = bs > 8 ? 2 : 1;
  const n = Math.floor(bytes.length / width);
  const out = new Uint8Array(n * outWidth);
  const src = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dst = new DataView(out.buffer);
  const mask = (1 << bs) - 1;
  for (let i = 0; i < n; i++) {
    const raw = width === 1
      ? bytes[i]
      : width === 2
      ? src.getUint16(i * 2, true)
      : src.getUint32(i * 4, true);
    let v = raw & mask;
    if (signExtend && fmt.signed && v >= 1 << (bs - 1)) v -= 1 << bs;
    if (outWidth === 1) out[i] = v & 0xff;
    else dst.setUint16(i * 2, v & 0xffff, true);
  }
  return out;
}

/** Run a cornerstone encoder and copy the codestream out of the WebAssembly heap. */
function runEncoder(
  // deno-lint-ignore no-explicit-any
  encoder: any,
  // deno-lint-ignore no-explicit-any
  info: any,
  samples: Uint8Array,
  what: string,
  // deno-lint-ignore no-explicit-any
  configure: (e: any) => void,
): Uint8Array {
  try {
    encoder.getDecodedBuffer(info).set(samples);
    configure(encoder);
    encoder.encode();
    return heapCopy(encoder.getEncodedBuffer());
  } catch (e) {
    const msg = typeof e === "number" ? `code ${e}` : (e as Error)?.message ?? String(e);
    throw new PixelError(`${what}: the frame could not be encoded (${msg})`);
  } finally {
    encoder.delete();
  }
}

/**
 * Encode one frame for `coding` (its encoder prepared). `fmt` describes the frame as decoded
 * (pixel-interleaved). Native returns the bytes unchanged.
 */
export function encodeFrame(coding: WritableCoding, bytes: Uint8Array, fmt: PixelFormat): Uint8Array {
  if (coding === "native") return bytes;
  if (coding === "rle") return encodeRleFrame(bytes, fmt);
  const info = {
    width: fmt.columns,
    height: fmt.rows,
    bitsPerSample: fmt.bitsStored,
    componentCount: fmt.samplesPerPixel,
    isSigned: fmt.signed,
    isUsingColorTransform: false,
  };
  if (coding === "jpeg-ls") {
    const samples = storedSamples(bytes, fmt, false);
    return runEncoder(new (codecModule("charls").JpegLSEncoder)(), info, samples, "JPEG-LS", (e) => {
      e.setNearLossless(0);
      e.setInterleaveMode(fmt.samplesPerPixel > 1 ? 2 : 0);
    });
  }
  const samples = storedSamples(bytes, fmt, true);
  return runEncoder(new (codecModule("openjph").HTJ2KEncoder)(), info, samples, "HTJ2K", (e) => {
    e.setQuality(true, 0);
  });
}
