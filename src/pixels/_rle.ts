/**
 * RLE Lossless (PS3.5 Annex G): decoding one frame into little-endian, pixel-interleaved bytes,
 * and encoding one, each byte plane a PackBits segment. Private to the folder: `decode.ts` and
 * `encode.ts` use it.
 *
 * @module
 */
import { PixelError } from "./errors.ts";
import type { PixelFormat } from "./format.ts";

/**
 * Decode one PackBits segment (PS3.5 G.3.1) into exactly `n` bytes, written to `out` at `base`,
 * `base + stride`, ... (straight into its place among the interleaved samples).
 */
function unpackBits(src: Uint8Array, n: number, out: Uint8Array, base: number, stride: number): void {
  let i = 0;
  let o = 0;
  let at = base;
  const len = src.length;
  while (o < n && i < len) {
    const h = src[i++];
    if (h < 128) {
      const count = h + 1;
      if (i + count > len || o + count > n) throw new PixelError("RLE literal run overruns");
      if (stride === 1) {
        out.set(src.subarray(i, i + count), at);
        at += count;
        i += count;
      } else {
        for (const end = i + count; i < end; i++, at += stride) out[at] = src[i];
      }
      o += count;
    } else if (h > 128) {
      const count = 257 - h;
      if (i >= len || o + count > n) throw new PixelError("RLE repeat run overruns");
      const v = src[i++];
      if (stride === 1) {
        out.fill(v, at, at + count);
        at += count;
      } else {
        for (let k = 0; k < count; k++, at += stride) out[at] = v;
      }
      o += count;
    }
    // 128 (-128) is a no-op.
  }
  if (o < n) throw new PixelError(`RLE segment decodes to ${o} bytes, ${n} expected`);
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
    const sample = Math.floor(s / bytesPerSample);
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample); // MSB segment first
    unpackBits(frame.subarray(start, end), pixels, out, sample * bytesPerSample + byteInSample, expected);
  }
  return out;
}

/**
 * PackBits one byte plane (PS3.5 G.3.1) read from `src` at `base`, `base + stride`, ... (`n`
 * bytes) into `out` from `at`: literal runs of up to 128 bytes, repeats of 3 to 128. Returns the
 * new end. `out` must have room for n + ceil(n / 128) bytes.
 */
function packBits(
  src: Uint8Array,
  base: number,
  stride: number,
  n: number,
  out: Uint8Array,
  at: number,
): number {
  const get = (k: number) => src[base + k * stride];
  let i = 0;
  while (i < n) {
    const v = get(i);
    let run = 1;
    while (i + run < n && run < 128 && get(i + run) === v) run++;
    if (run >= 3) {
      out[at++] = 257 - run;
      out[at++] = v;
      i += run;
      continue;
    }
    const head = at++;
    let len = 0;
    while (i < n && len < 128) {
      const x = get(i);
      if (i + 2 < n && x === get(i + 1) && x === get(i + 2)) break;
      out[at++] = x;
      i++;
      len++;
    }
    out[head] = len - 1;
  }
  return at;
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
  const body = new Uint8Array(segments * (pixels + Math.ceil(pixels / 128) + 1));
  const offsets: number[] = [];
  let at = 0;
  for (let s = 0; s < segments; s++) {
    const sample = Math.floor(s / bytesPerSample);
    const base = sample * bytesPerSample + (bytesPerSample - 1 - (s % bytesPerSample));
    offsets.push(64 + at);
    at = packBits(frame, base, stride, pixels, body, at);
    if (at % 2) body[at++] = 0x80; // a no-op byte keeps each segment even
  }
  const out = new Uint8Array(64 + at);
  const view = new DataView(out.buffer);
  view.setUint32(0, segments, true);
  offsets.forEach((o, s) => view.setUint32(4 + 4 * s, o, true));
  out.set(body.subarray(0, at), 64);
  return out;
}
