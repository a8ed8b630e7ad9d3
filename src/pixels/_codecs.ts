/**
 * The codestream decoders behind `decodeFrame`: JPEG DCT (8-bit by libjpeg-turbo, 12-bit by our
 * own decoder), JPEG lossless (jpeg-lossless-decoder-js), JPEG-LS (CharLS), JPEG 2000 (OpenJPEG),
 * HTJ2K (OpenJPH) and Deflated Image Frame Compression (node:zlib). Each returns little-endian
 * bytes in the container of Bits Allocated, copied out of the WebAssembly heap.
 *
 * @module
 */
import { inflateRawSync } from "node:zlib";
import { Decoder as LosslessDecoder } from "jpeg-lossless-decoder-js";
import { PixelError } from "./errors.ts";
import type { PixelFormat } from "./format.ts";
import type { Coding } from "./syntaxes.ts";
import { codecModule, prepareCodec, takeCodecError, type WasmCodec } from "./wasm.ts";

/** What a codestream decoded to. */
export interface Decoded {
  readonly bytes: Uint8Array;
  readonly photometric: string;
  readonly lossy: boolean;
  /** The samples are planar (all of the first component, then the next...). */
  readonly planar: boolean;
}

const WASM_OF: Partial<Record<Coding, WasmCodec>> = {
  "jpeg-dct": "libjpeg-turbo",
  "jpeg-ls": "charls",
  j2k: "openjpeg",
  htj2k: "openjph",
};

/** Load what a coding needs. */
export async function prepareCoding(coding: Coding): Promise<void> {
  const w = WASM_OF[coding];
  if (w) await prepareCodec(w);
  if (coding === "jpeg-dct" && !decodeJpegDct) decodeJpegDct = (await import("./_jpeg_dct.ts")).decodeJpegDct;
}

/** Load every decoder (a worker does it once, so that each file's work never waits). */
export async function prepareAllCodings(): Promise<void> {
  for (const c of ["jpeg-dct", "jpeg-ls", "j2k", "htj2k"] as const) await prepareCoding(c);
}

/** Our decoder for 12-bit JPEG (libjpeg-turbo's build is 8-bit only), loaded with the codecs. */
let decodeJpegDct: typeof import("./_jpeg_dct.ts").decodeJpegDct | undefined;

/** Samples of `bitsPerSample` (8 or 16) as the little-endian container of Bits Allocated. */
function container(bytes: Uint8Array, sampleBytes: 1 | 2, fmt: PixelFormat): Uint8Array {
  const width = fmt.bitsAllocated / 8;
  if (width === sampleBytes) return bytes.slice();
  const n = Math.floor(bytes.length / sampleBytes);
  const out = new Uint8Array(n * width);
  const src = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dst = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const v = sampleBytes === 1 ? bytes[i] : src.getUint16(i * 2, true);
    if (width === 1) out[i] = v & 0xff;
    else if (width === 2) dst.setUint16(i * 2, v, true);
    else dst.setUint32(i * 4, fmt.signed && sampleBytes === 2 ? (v << 16) >> 16 : v, true);
  }
  return out;
}

/** The sample precision a JPEG's frame header (SOFn) declares, and which process it is. */
function jpegFrame(bytes: Uint8Array): { sof: number; precision: number } {
  let i = 2;
  while (i + 4 < bytes.length) {
    if (bytes[i] !== 0xff) {
      i++;
      continue;
    }
    const m = bytes[i + 1];
    if (m === 0xff) {
      i++;
      continue;
    }
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      return { sof: m - 0xc0, precision: bytes[i + 4] };
    }
    if (m === 0xd8 || (m >= 0xd0 && m <= 0xd7) || m === 0x01) {
      i += 2;
      continue;
    }
    i += 2 + ((bytes[i + 2] << 8) | bytes[i + 3]);
  }
  throw new PixelError("JPEG: no frame header (SOF) found");
}

/** A copy of a view into the WebAssembly heap as a plain Uint8Array (the codecs hand out clamped views). */
export function heapCopy(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
}

/** Feed a cornerstone decoder and copy its output out of the WebAssembly heap. */
function runWasm(
  // deno-lint-ignore no-explicit-any
  decoder: any,
  bytes: Uint8Array,
  what: string,
  codec: WasmCodec,
  // deno-lint-ignore no-explicit-any
): { out: Uint8Array; info: any } {
  takeCodecError(codec);
  let out: Uint8Array | undefined;
  // deno-lint-ignore no-explicit-any
  let info: any;
  let thrown: unknown;
  try {
    decoder.getEncodedBuffer(bytes.length).set(bytes);
    decoder.decode();
    info = decoder.getFrameInfo();
    out = heapCopy(decoder.getDecodedBuffer());
  } catch (e) {
    thrown = e;
  }
  const said = takeCodecError(codec);
  if (thrown !== undefined || !out || out.length === 0) {
    const e = thrown;
    const msg = said ??
      (e === undefined
        ? "no samples"
        : typeof e === "number"
        ? `code ${e}`
        : (e as Error)?.message ?? String(e));
    throw new PixelError(`${what}: the codestream could not be decoded (${msg})`);
  }
  return { out, info };
}

function decodeDct(bytes: Uint8Array, fmt: PixelFormat): Decoded {
  const { sof, precision } = jpegFrame(bytes);
  if (sof === 3 || sof === 7 || sof === 11 || sof === 15) return decodeLossless(bytes, fmt);
  const colour = fmt.samplesPerPixel === 3;
  if (precision <= 8) {
    const decoder = new (codecModule("libjpeg-turbo").JPEGDecoder)();
    try {
      const { out } = runWasm(decoder, bytes, "JPEG", "libjpeg-turbo");
      // libjpeg-turbo converts YCbCr codestreams to RGB (and leaves RGB ones as they are).
      return {
        bytes: container(out, 1, fmt),
        photometric: colour ? "RGB" : fmt.photometric,
        lossy: true,
        planar: false,
      };
    } finally {
      decoder.delete();
    }
  }
  if (!decodeJpegDct) throw new Error("JPEG decoding used before prepareCoding");
  const img = decodeJpegDct(bytes);
  const raw = img.data instanceof Uint16Array ? new Uint8Array(img.data.buffer) : img.data;
  return {
    bytes: container(raw, img.data instanceof Uint16Array ? 2 : 1, fmt),
    // Our decoder does not convert colour: subsampled chroma comes back upsampled, so YBR_FULL_422
    // samples are now YBR_FULL.
    photometric: fmt.photometric.startsWith("YBR") ? "YBR_FULL" : fmt.photometric,
    lossy: true,
    planar: false,
  };
}

function decodeLossless(bytes: Uint8Array, fmt: PixelFormat): Decoded {
  const sampleBytes = fmt.bitsAllocated > 8 ? 2 : 1;
  let out: Uint8Array | Uint16Array;
  try {
    const copy = bytes.slice();
    out = new LosslessDecoder().decode(copy.buffer, 0, copy.length, sampleBytes) as Uint8Array | Uint16Array;
  } catch (e) {
    throw new PixelError(`JPEG lossless: the codestream could not be decoded (${(e as Error).message})`);
  }
  const raw = out instanceof Uint16Array ? new Uint8Array(out.buffer, out.byteOffset, out.byteLength) : out;
  return {
    bytes: container(raw, out instanceof Uint16Array ? 2 : 1, fmt),
    photometric: fmt.photometric,
    lossy: false,
    planar: false,
  };
}

function decodeJpegLs(bytes: Uint8Array, fmt: PixelFormat): Decoded {
  const decoder = new (codecModule("charls").JpegLSDecoder)();
  try {
    const { out, info } = runWasm(decoder, bytes, "JPEG-LS", "charls");
    const planar = info.componentCount > 1 && decoder.getInterleaveMode() === 0;
    const lossy = decoder.getNearLossless() > 0;
    return {
      bytes: container(out, info.bitsPerSample > 8 ? 2 : 1, fmt),
      photometric: fmt.photometric,
      lossy,
      planar,
    };
  } finally {
    decoder.delete();
  }
}

function decodeJ2k(bytes: Uint8Array, fmt: PixelFormat, codec: "openjpeg" | "openjph"): Decoded {
  const m = codecModule(codec);
  const decoder = codec === "openjpeg" ? new m.J2KDecoder() : new m.HTJ2KDecoder();
  const what = codec === "openjpeg" ? "JPEG 2000" : "HTJ2K";
  try {
    const { out, info } = runWasm(decoder, bytes, what, codec);
    const lossy = !decoder.getIsReversible();
    // The decoder undoes the multiple-component transform: YBR_ICT and YBR_RCT come out as RGB.
    const photometric = fmt.photometric === "YBR_ICT" || fmt.photometric === "YBR_RCT"
      ? "RGB"
      : fmt.photometric;
    return { bytes: container(out, info.bitsPerSample > 8 ? 2 : 1, fmt), photometric, lossy, planar: false };
  } finally {
    decoder.delete();
  }
}

/** Decode one frame's codestream (its codec prepared). */
export function decodeCodestream(coding: Coding, bytes: Uint8Array, fmt: PixelFormat): Decoded {
  switch (coding) {
    case "jpeg-dct":
      return decodeDct(bytes, fmt);
    case "jpeg-lossless":
      return decodeLossless(bytes, fmt);
    case "jpeg-ls":
      return decodeJpegLs(bytes, fmt);
    case "j2k":
      return decodeJ2k(bytes, fmt, "openjpeg");
    case "htj2k":
      return decodeJ2k(bytes, fmt, "openjph");
    case "deflate-frame":
      try {
        return {
          bytes: new Uint8Array(inflateRawSync(bytes)),
          photometric: fmt.photometric,
          lossy: false,
          planar: fmt.planar === 1,
        };
      } catch (e) {
        throw new PixelError(`deflated frame could not be inflated (${(e as Error).message})`);
      }
    default:
      throw new PixelError(`${coding} Pixel Data is not decoded frame by frame`);
  }
}
