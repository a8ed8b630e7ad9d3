/**
 * The sample side of {@link decodeJpegDct}: the IJG "islow" integer inverse DCT (libjpeg 6b jidctint.c,
 * bit for bit, for 8- and 12-bit samples, with its range limiting) and libjpeg 6b's upsampling
 * (jdsample.c: the "fancy" triangle filters for 2:1 horizontal and 2:1 both ways, replication for
 * other integer ratios), so that the samples equal those of DCMTK's dcmdjpeg.
 *
 * @module
 */
import { PixelError } from "./errors.ts";

const CONST_BITS = 13;
const FIX_0_298631336 = 2446;
const FIX_0_390180644 = 3196;
const FIX_0_541196100 = 4433;
const FIX_0_765366865 = 6270;
const FIX_0_899976223 = 7373;
const FIX_1_175875602 = 9633;
const FIX_1_501321110 = 12299;
const FIX_1_847759065 = 15137;
const FIX_1_961570560 = 16069;
const FIX_2_053119869 = 16819;
const FIX_2_562915447 = 20995;
const FIX_3_072711026 = 25172;

/**
 * libjpeg's post-IDCT range-limit table, indexed by `value & RANGE_MASK` (value before adding the
 * centre): values wrap modulo 4 * (MAXJSAMPLE + 1) and are then clamped to 0..MAXJSAMPLE.
 */
function rangeLimitTable(precision: number): Uint16Array {
  const size = 4 << precision;
  const max = (1 << precision) - 1;
  const center = 1 << (precision - 1);
  const table = new Uint16Array(size);
  for (let i = 0; i < size; i++) {
    const signed = i < size / 2 ? i : i - size;
    const v = signed + center;
    table[i] = v < 0 ? 0 : v > max ? max : v;
  }
  return table;
}

const RANGE_TABLES: Record<number, Uint16Array> = {};

/** One component's decoded samples, at its own (subsampled) resolution, padded to whole blocks. */
export interface Plane {
  samples: Uint16Array;
  /** Row length of `samples`. */
  stride: number;
  /** The component's real size (libjpeg's downsampled_width and downsampled_height). */
  width: number;
  height: number;
}

/**
 * Dequantizes and inverse-transforms every block of a component (`blocksWide` x `blocksHigh`
 * blocks, `coefStride` blocks per stored row) with libjpeg's jpeg_idct_islow.
 */
export function idctComponent(
  coefs: Int16Array,
  coefStride: number,
  blocksWide: number,
  blocksHigh: number,
  quant: Int32Array,
  precision: number,
): Uint16Array {
  const pass1 = precision === 8 ? 2 : 1;
  const range = RANGE_TABLES[precision] ??= rangeLimitTable(precision);
  const mask = range.length - 1;
  const stride = blocksWide * 8;
  const out = new Uint16Array(stride * blocksHigh * 8);
  const ws = new Int32Array(64);
  const s1 = CONST_BITS - pass1;
  const r1 = 1 << (s1 - 1);
  const s2 = CONST_BITS + pass1 + 3;
  const r2 = 1 << (s2 - 1);
  const sdc = pass1 + 3;
  const rdc = 1 << (sdc - 1);
  for (let by = 0; by < blocksHigh; by++) {
    for (let bx = 0; bx < blocksWide; bx++) {
      const cb = (by * coefStride + bx) * 64;
      // Pass 1: columns, into the work array.
      for (let c = 0; c < 8; c++) {
        const i = cb + c;
        if (
          coefs[i + 8] === 0 && coefs[i + 16] === 0 && coefs[i + 24] === 0 && coefs[i + 32] === 0 &&
          coefs[i + 40] === 0 && coefs[i + 48] === 0 && coefs[i + 56] === 0
        ) {
          const dc = (coefs[i] * quant[c]) << pass1;
          ws[c] = dc, ws[c + 8] = dc, ws[c + 16] = dc, ws[c + 24] = dc;
          ws[c + 32] = dc, ws[c + 40] = dc, ws[c + 48] = dc, ws[c + 56] = dc;
          continue;
        }
        let z2 = coefs[i + 16] * quant[c + 16];
        let z3 = coefs[i + 48] * quant[c + 48];
        let z1 = (z2 + z3) * FIX_0_541196100;
        let tmp2 = z1 - z3 * FIX_1_847759065;
        let tmp3 = z1 + z2 * FIX_0_765366865;
        z2 = coefs[i] * quant[c];
        z3 = coefs[i + 32] * quant[c + 32];
        let tmp0 = (z2 + z3) << CONST_BITS;
        let tmp1 = (z2 - z3) << CONST_BITS;
        const tmp10 = tmp0 + tmp3;
        const tmp13 = tmp0 - tmp3;
        const tmp11 = tmp1 + tmp2;
        const tmp12 = tmp1 - tmp2;
        tmp0 = coefs[i + 56] * quant[c + 56];
        tmp1 = coefs[i + 40] * quant[c + 40];
        tmp2 = coefs[i + 24] * quant[c + 24];
        tmp3 = coefs[i + 8] * quant[c + 8];
        z1 = tmp0 + tmp3;
        z2 = tmp1 + tmp2;
        z3 = tmp0 + tmp2;
        let z4 = tmp1 + tmp3;
        const z5 = (z3 + z4) * FIX_1_175875602;
        tmp0 *= FIX_0_298631336;
        tmp1 *= FIX_2_053119869;
        tmp2 *= FIX_3_072711026;
        tmp3 *= FIX_1_501321110;
        z1 *= -FIX_0_899976223;
        z2 *= -FIX_2_562915447;
        z3 = z3 * -FIX_1_961570560 + z5;
        z4 = z4 * -FIX_0_390180644 + z5;
        tmp0 += z1 + z3;
        tmp1 += z2 + z4;
        tmp2 += z2 + z3;
        tmp3 += z1 + z4;
        ws[c] = (tmp10 + tmp3 + r1) >> s1;
        ws[c + 56] = (tmp10 - tmp3 + r1) >> s1;
        ws[c + 8] = (tmp11 + tmp2 + r1) >> s1;
        ws[c + 48] = (tmp11 - tmp2 + r1) >> s1;
        ws[c + 16] = (tmp12 + tmp1 + r1) >> s1;
        ws[c + 40] = (tmp12 - tmp1 + r1) >> s1;
        ws[c + 24] = (tmp13 + tmp0 + r1) >> s1;
        ws[c + 32] = (tmp13 - tmp0 + r1) >> s1;
      }
      // Pass 2: rows, into the samples.
      for (let r = 0; r < 8; r++) {
        const w = r * 8;
        const o = (by * 8 + r) * stride + bx * 8;
        if (
          ws[w + 1] === 0 && ws[w + 2] === 0 && ws[w + 3] === 0 && ws[w + 4] === 0 && ws[w + 5] === 0 &&
          ws[w + 6] === 0 && ws[w + 7] === 0
        ) {
          out.fill(range[((ws[w] + rdc) >> sdc) & mask], o, o + 8);
          continue;
        }
        let z2 = ws[w + 2];
        let z3 = ws[w + 6];
        let z1 = (z2 + z3) * FIX_0_541196100;
        let tmp2 = z1 - z3 * FIX_1_847759065;
        let tmp3 = z1 + z2 * FIX_0_765366865;
        let tmp0 = (ws[w] + ws[w + 4]) << CONST_BITS;
        let tmp1 = (ws[w] - ws[w + 4]) << CONST_BITS;
        const tmp10 = tmp0 + tmp3;
        const tmp13 = tmp0 - tmp3;
        const tmp11 = tmp1 + tmp2;
        const tmp12 = tmp1 - tmp2;
        tmp0 = ws[w + 7];
        tmp1 = ws[w + 5];
        tmp2 = ws[w + 3];
        tmp3 = ws[w + 1];
        z1 = tmp0 + tmp3;
        z2 = tmp1 + tmp2;
        z3 = tmp0 + tmp2;
        let z4 = tmp1 + tmp3;
        const z5 = (z3 + z4) * FIX_1_175875602;
        tmp0 *= FIX_0_298631336;
        tmp1 *= FIX_2_053119869;
        tmp2 *= FIX_3_072711026;
        tmp3 *= FIX_1_501321110;
        z1 *= -FIX_0_899976223;
        z2 *= -FIX_2_562915447;
        z3 = z3 * -FIX_1_961570560 + z5;
        z4 = z4 * -FIX_0_390180644 + z5;
        tmp0 += z1 + z3;
        tmp1 += z2 + z4;
        tmp2 += z2 + z3;
        tmp3 += z1 + z4;
        out[o] = range[((tmp10 + tmp3 + r2) >> s2) & mask];
        out[o + 7] = range[((tmp10 - tmp3 + r2) >> s2) & mask];
        out[o + 1] = range[((tmp11 + tmp2 + r2) >> s2) & mask];
        out[o + 6] = range[((tmp11 - tmp2 + r2) >> s2) & mask];
        out[o + 2] = range[((tmp12 + tmp1 + r2) >> s2) & mask];
        out[o + 5] = range[((tmp12 - tmp1 + r2) >> s2) & mask];
        out[o + 3] = range[((tmp13 + tmp0 + r2) >> s2) & mask];
        out[o + 4] = range[((tmp13 - tmp0 + r2) >> s2) & mask];
      }
    }
  }
  return out;
}

/**
 * Upsamples each plane to `width` x `height` as libjpeg 6b does (ratio `maxH / h`, `maxV / v`) and
 * interleaves the components into `out` (`out.length` = width * height * planes.length).
 */
export function upsampleInterleave(
  planes: Plane[],
  factors: { h: number; v: number }[],
  maxH: number,
  maxV: number,
  width: number,
  height: number,
  out: Uint8Array | Uint16Array,
): void {
  const n = planes.length;
  const sums = new Int32Array(width + 2);
  const wide = new Int32Array(2 * width + 4);
  for (let ci = 0; ci < n; ci++) {
    const p = planes[ci];
    const hs = maxH / factors[ci].h;
    const vs = maxV / factors[ci].v;
    if (!Number.isInteger(hs) || !Number.isInteger(vs)) {
      throw new PixelError("JPEG: fractional sampling factors are not supported");
    }
    const s = p.samples;
    const fancy = p.width > 2 && hs === 2 && (vs === 1 || vs === 2);
    for (let y = 0; y < height; y++) {
      let o = y * width * n + ci;
      if (fancy) {
        // The 2x-wide row goes to `wide`, then its first `width` samples to the output.
        const w = p.width;
        if (vs === 2) {
          // h2v2 (jdsample.c h2v2_fancy_upsample): the nearer input row weighs 3, the farther one 1,
          // both ways; above the first row and below the last, the edge row is repeated.
          const inRow = y >> 1;
          const other = (y & 1) === 0 ? Math.max(inRow - 1, 0) : Math.min(inRow + 1, p.height - 1);
          const a = inRow * p.stride;
          const b = other * p.stride;
          for (let x = 0; x < w; x++) sums[x] = s[a + x] * 3 + s[b + x];
          let last = sums[0];
          let cur = sums[0];
          let next = sums[1];
          wide[0] = (cur * 4 + 8) >> 4;
          wide[1] = (cur * 3 + next + 7) >> 4;
          for (let x = 1; x < w - 1; x++) {
            last = cur;
            cur = next;
            next = sums[x + 1];
            wide[2 * x] = (cur * 3 + last + 8) >> 4;
            wide[2 * x + 1] = (cur * 3 + next + 7) >> 4;
          }
          wide[2 * w - 2] = (next * 3 + cur + 8) >> 4;
          wide[2 * w - 1] = (next * 4 + 7) >> 4;
        } else {
          // h2v1 (jdsample.c h2v1_fancy_upsample).
          const a = y * p.stride;
          wide[0] = s[a];
          wide[1] = (s[a] * 3 + s[a + 1] + 2) >> 2;
          for (let x = 1; x < w - 1; x++) {
            const v = s[a + x] * 3;
            wide[2 * x] = (v + s[a + x - 1] + 1) >> 2;
            wide[2 * x + 1] = (v + s[a + x + 1] + 2) >> 2;
          }
          wide[2 * w - 2] = (s[a + w - 1] * 3 + s[a + w - 2] + 1) >> 2;
          wide[2 * w - 1] = s[a + w - 1];
        }
        for (let x = 0; x < width; x++, o += n) out[o] = wide[x];
      } else if (hs === 1) {
        const a = Math.floor(y / vs) * p.stride;
        if (n === 1) out.set(s.subarray(a, a + width), o);
        else for (let x = 0; x < width; x++, o += n) out[o] = s[a + x];
      } else {
        const a = Math.floor(y / vs) * p.stride;
        for (let x = 0; x < width; x++, o += n) out[o] = s[a + Math.floor(x / hs)];
      }
    }
  }
}
