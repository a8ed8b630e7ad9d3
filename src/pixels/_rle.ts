/**
 * RLE Lossless (PS3.5 Annex G): decoding one frame into little-endian, pixel-interleaved bytes,
 * and encoding one, each byte plane a PackBits segment. Private to the folder: `decode.ts` and
 * `encode.ts` use it.
 *
 * @module
 */
import { PixelError } from "./errors.ts";
import type { PixelFormat } from "./format.ts";

/** Decode one PackBits segment (PS3.5 G.3.1) into exactly `n` bytes. */
function unpackBits(src: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let i = 0;
  let o = 0;
  while (o < n && i < src.length) {
    const h = src[i++];
    if (h < 128) {
      const count = h + 1;
      if (i + count > src.length || o + count > n) throw new PixelError("RLE literal run overruns");
      out.set(src.subarray(i, i + count), o);
      i += count;
      o += count;
    } else if (h > 128) {
      const count = 257 - h;
      if (i >= src.length || o + count > n) throw new PixelError("RLE repeat run overruns");
      out.fill(src[i++], o, o + count);
      o += count;
    }
    // 128 (-128) is a no-op.
  }
  if (o < n) throw new PixelError(`RLE segment decodes to ${o} bytes, ${n} expected`);
  return out;
}

/**
 * One RLE frame (PS3.5 G.4-G.5): a 64-byte header with up to 15 segment offsets; one segment per
 * byte of each sample, most significant byte first. Returns little-endian, pixel-interleaved bytes.
 */
export function decodeRleFrame(frame: Uint8Array, fmt: PixelFormat): Uint8Array {
  const bytesPerSample = fmt.bitsAllocated / 8;
  const expected = fmt.samplesPerPixel * bytesPerSample;
  if (frame.length < 64) throw new PixelError("RLE frame is shorter than its header");
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const count = view.getUint32(0, true);
  if (count !== expected) {
    throw new PixelError(`RLE frame has ${count} segments, ${expected} expected`);
  }
  const starts: number[] = [];
  for (let s = 0; s < count; s++) starts.push(view.getUint32(4 + 4 * s, true));
  const pixels = fmt.rows * fmt.columns;
  const out = new Uint8Array(pixels * expected);
  for (let s = 0; s < count; s++) {
    const start = starts[s];
    const end = s + 1 < count ? starts[s + 1] : frame.length;
    if (start < 64 || end > frame.length || end < start) {
      throw new PixelError("RLE segment offsets are wrong");
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

/** PackBits one byte plane (PS3.5 G.3.1): literal runs of up to 128 bytes, repeats of 3 to 128. */
function packBits(src: Uint8Array, out: number[]): void {
  let i = 0;
  const n = src.length;
  while (i < n) {
    let run = 1;
    while (i + run < n && run < 128 && src[i + run] === src[i]) run++;
    if (run >= 3) {
      out.push(257 - run, src[i]);
      i += run;
      continue;
    }
    const start = i;
    let len = 0;
    while (i < n && len < 128) {
      if (i + 2 < n && src[i] === src[i + 1] && src[i] === src[i + 2]) break;
      i++;
      len++;
    }
    out.push(len - 1);
    for (let k = start; k < start + len; k++) out.push(src[k]);
  }
}

/**
 * Encode one frame (little-endian, pixel-interleaved bytes of Bits Allocated 8, 16 or 32) as RLE:
 * the 64-byte header, then one segment per byte of each sample, most significant byte first.
 */
export function encodeRleFrame(frame: Uint8Array, fmt: PixelFormat): Uint8Array {
  const bytesPerSample = fmt.bitsAllocated / 8;
  const stride = fmt.samplesPerPixel * bytesPerSample;
  const segments = stride;
  if (segments > 15) throw new PixelError(`RLE holds at most 15 segments, ${segments} needed`);
  const pixels = fmt.rows * fmt.columns;
  const plane = new Uint8Array(pixels);
  const body: number[] = [];
  const offsets: number[] = [];
  for (let s = 0; s < segments; s++) {
    const sample = Math.floor(s / bytesPerSample);
    const base = sample * bytesPerSample + (bytesPerSample - 1 - (s % bytesPerSample));
    for (let p = 0; p < pixels; p++) plane[p] = frame[p * stride + base];
    offsets.push(64 + body.length);
    packBits(plane, body);
    if (body.length % 2) body.push(0x80); // a no-op byte keeps each segment even
  }
  const out = new Uint8Array(64 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, segments, true);
  offsets.forEach((o, s) => view.setUint32(4 + 4 * s, o, true));
  out.set(body, 64);
  return out;
}
