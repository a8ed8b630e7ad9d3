/**
 * Entropy decoding of JPEG DCT scans (ITU T.81 Annex F and G, Huffman only) for {@link decodeJpegDct}:
 * Huffman tables, the bit reader with byte-stuffing, fill bytes and markers, and the decoding of one
 * scan's coefficients (sequential, and the four progressive kinds) with restart intervals. It follows
 * IJG libjpeg 6b (jdhuff.c, jdphuff.c) in what it does with odd streams: bits past a marker read as
 * zeros, a bad code reads as symbol 0, the coefficient index of a run past 63 is clamped.
 *
 * @module
 */
import { PixelError } from "./errors.ts";

/** Zigzag position to natural (row-major) position; 16 extra entries of 63 absorb runs past the end. */
export const ZIGZAG: Int32Array = new Int32Array([
  0,
  1,
  8,
  16,
  9,
  2,
  3,
  10,
  17,
  24,
  32,
  25,
  18,
  11,
  4,
  5,
  12,
  19,
  26,
  33,
  40,
  48,
  41,
  34,
  27,
  20,
  13,
  6,
  7,
  14,
  21,
  28,
  35,
  42,
  49,
  56,
  57,
  50,
  43,
  36,
  29,
  22,
  15,
  23,
  30,
  37,
  44,
  51,
  58,
  59,
  52,
  45,
  38,
  31,
  39,
  46,
  53,
  60,
  61,
  54,
  47,
  55,
  62,
  63,
  63,
  63,
  63,
  63,
  63,
  63,
  63,
  63,
  63,
  63,
  63,
  63,
  63,
  63,
  63,
  63,
]);

const LOOKAHEAD = 9;

/** A Huffman table ready for decoding: a 9-bit lookahead table, then the canonical code limits. */
export interface HuffmanTable {
  /** Indexed by the next 9 bits: `length << 8 | symbol`, or 0 when the code is longer than 9 bits. */
  lookup: Uint16Array;
  /** Largest code of each length 1..16 (-1 when none), index 17 a sentinel. */
  maxCode: Int32Array;
  /** Symbol index minus first code, per length. */
  valOffset: Int32Array;
  /** The symbols in code order. */
  values: Uint8Array;
}

/** Builds a table from a DHT segment's 16 counts and its symbols; throws on a table that cannot be. */
export function buildHuffmanTable(counts: Uint8Array, values: Uint8Array): HuffmanTable {
  const lookup = new Uint16Array(1 << LOOKAHEAD);
  const maxCode = new Int32Array(18).fill(-1);
  const valOffset = new Int32Array(18);
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    const n = counts[len - 1];
    if (n > 0) {
      valOffset[len] = k - code;
      for (let i = 0; i < n; i++, k++, code++) {
        if (len <= LOOKAHEAD) {
          const shift = LOOKAHEAD - len;
          const base = code << shift;
          for (let j = 0; j < 1 << shift; j++) lookup[base + j] = (len << 8) | values[k];
        }
      }
      maxCode[len] = code - 1;
    }
    if (code >= 1 << len) throw new PixelError("JPEG: bad Huffman table (too many codes of one length)");
    code <<= 1;
  }
  maxCode[17] = 0x7fffffff;
  return { lookup, maxCode, valOffset, values };
}

/** Reads entropy-coded bits; at a marker or the end of the data it supplies zero bits. */
export class BitReader {
  /** Position of the next byte to read (at a marker's 0xFF once one is found). */
  pos: number;
  private acc = 0;
  private count = 0;
  private atMarker = false;

  constructor(private readonly data: Uint8Array, pos: number) {
    this.pos = pos;
  }

  private fill(): void {
    const data = this.data;
    while (this.count <= 24) {
      let byte = 0;
      if (!this.atMarker && this.pos < data.length) {
        byte = data[this.pos];
        if (byte === 0xff) {
          let p = this.pos + 1;
          while (p < data.length && data[p] === 0xff) p++;
          if (p < data.length && data[p] === 0) {
            this.pos = p + 1;
          } else {
            this.atMarker = true;
            this.pos = p - 1;
            byte = 0;
          }
        } else {
          this.pos++;
        }
      } else if (this.count > 16) {
        return; // zeros enough for any one request
      }
      this.acc = (this.acc << 8) | byte;
      this.count += 8;
    }
  }

  /** The next `n` (0..16) bits as an unsigned number. */
  bits(n: number): number {
    if (n === 0) return 0;
    if (this.count < n) this.fill();
    this.count -= n;
    return (this.acc >>> this.count) & ((1 << n) - 1);
  }

  /** The next `n` bits as a signed coefficient (T.81 EXTEND). */
  receiveExtend(n: number): number {
    if (n === 0) return 0;
    const v = this.bits(n);
    return v < 1 << (n - 1) ? v - (1 << n) + 1 : v;
  }

  /** One Huffman-coded symbol; a code that is not in the table reads as 0 (libjpeg does so too). */
  decode(table: HuffmanTable): number {
    if (this.count < 16) this.fill();
    const peek = (this.acc >>> (this.count - LOOKAHEAD)) & ((1 << LOOKAHEAD) - 1);
    const entry = table.lookup[peek];
    if (entry !== 0) {
      this.count -= entry >> 8;
      return entry & 0xff;
    }
    for (let len = LOOKAHEAD + 1; len <= 16; len++) {
      const code = (this.acc >>> (this.count - len)) & ((1 << len) - 1);
      if (code <= table.maxCode[len]) {
        this.count -= len;
        return table.values[(code + table.valOffset[len]) & 0xff];
      }
    }
    this.count -= 16;
    return 0;
  }

  /**
   * At a restart boundary: drops buffered bits and reads the RSTn marker if it is next (after fill
   * bytes). Any other marker is left for the marker reader; the interval then decodes as zeros.
   */
  restart(): void {
    const data = this.data;
    this.acc = 0;
    this.count = 0;
    this.atMarker = false;
    let p = this.pos;
    while (p + 1 < data.length && !(data[p] === 0xff && data[p + 1] !== 0 && data[p + 1] !== 0xff)) p++;
    if (p + 1 < data.length && data[p + 1] >= 0xd0 && data[p + 1] <= 0xd7) {
      this.pos = p + 2;
    } else {
      this.pos = p;
      this.atMarker = true;
    }
  }
}

/** One frame component as the scan decoder needs it. */
export interface ScanComponent {
  /** Horizontal and vertical sampling factors. */
  h: number;
  v: number;
  /** Blocks per row and per column that hold image data (non-interleaved scans cover these). */
  blocksWide: number;
  blocksHigh: number;
  /** Blocks per row of the coefficient store (whole MCUs). */
  stride: number;
  /** Quantized coefficients in natural order, 64 per block. */
  coefs: Int16Array;
  dcTable?: HuffmanTable;
  acTable?: HuffmanTable;
  pred: number;
}

/** What SOS says about one scan. */
export interface ScanParams {
  components: ScanComponent[];
  progressive: boolean;
  ss: number;
  se: number;
  ah: number;
  al: number;
  restartInterval: number;
  mcusWide: number;
  mcusHigh: number;
}

/** A DC difference category; past 15 (16 is for lossless only) the data is not DCT data. */
function dcCategory(t: number): number {
  if (t > 15) throw new PixelError(`JPEG: corrupt data (DC difference category ${t})`);
  return t;
}

type BlockDecoder = (r: BitReader, c: ScanComponent, off: number) => void;

/** Decodes one scan starting at `pos`; returns the position after its entropy-coded data. */
export function decodeScan(data: Uint8Array, pos: number, p: ScanParams): number {
  const reader = new BitReader(data, pos);
  const { ss, se, ah, al } = p;
  let eobrun = 0;
  let decodeBlock: BlockDecoder;
  if (!p.progressive) {
    decodeBlock = (r, c, off) => {
      const coefs = c.coefs;
      c.pred += r.receiveExtend(dcCategory(r.decode(c.dcTable!)));
      coefs[off] = c.pred;
      const ac = c.acTable!;
      for (let k = 1; k < 64; k++) {
        const rs = r.decode(ac);
        const s = rs & 15;
        const run = rs >> 4;
        if (s !== 0) {
          k += run;
          coefs[off + ZIGZAG[k]] = r.receiveExtend(s);
        } else if (run === 15) {
          k += 15;
        } else {
          break;
        }
      }
    };
  } else if (ss === 0) {
    decodeBlock = ah === 0
      ? (r, c, off) => {
        c.pred += r.receiveExtend(dcCategory(r.decode(c.dcTable!)));
        c.coefs[off] = c.pred << al;
      }
      : (r, c, off) => {
        if (r.bits(1)) c.coefs[off] |= 1 << al;
      };
  } else if (ah === 0) {
    decodeBlock = (r, c, off) => {
      if (eobrun > 0) {
        eobrun--;
        return;
      }
      const coefs = c.coefs;
      const ac = c.acTable!;
      for (let k = ss; k <= se; k++) {
        const rs = r.decode(ac);
        const s = rs & 15;
        const run = rs >> 4;
        if (s !== 0) {
          k += run;
          coefs[off + ZIGZAG[k]] = r.receiveExtend(s) * (1 << al);
        } else if (run === 15) {
          k += 15;
        } else {
          eobrun = (1 << run) + r.bits(run) - 1;
          break;
        }
      }
    };
  } else {
    decodeBlock = (r, c, off) => {
      const coefs = c.coefs;
      const p1 = 1 << al;
      const m1 = -1 << al;
      let k = ss;
      if (eobrun === 0) {
        for (; k <= se; k++) {
          const rs = r.decode(c.acTable!);
          let s = rs & 15;
          let run = rs >> 4;
          if (s !== 0) {
            s = r.bits(1) ? p1 : m1;
          } else if (run !== 15) {
            eobrun = (1 << run) + r.bits(run);
            break;
          }
          do {
            const i = off + ZIGZAG[k];
            const coef = coefs[i];
            if (coef !== 0) {
              if (r.bits(1) && (coef & p1) === 0) coefs[i] = coef >= 0 ? coef + p1 : coef + m1;
            } else if (--run < 0) {
              break;
            }
            k++;
          } while (k <= se);
          if (s !== 0) coefs[off + ZIGZAG[k]] = s;
        }
      }
      if (eobrun > 0) {
        for (; k <= se; k++) {
          const i = off + ZIGZAG[k];
          const coef = coefs[i];
          if (coef !== 0 && r.bits(1) && (coef & p1) === 0) coefs[i] = coef >= 0 ? coef + p1 : coef + m1;
        }
        eobrun--;
      }
    };
  }

  const comps = p.components;
  const single = comps.length === 1;
  const mcusWide = single ? comps[0].blocksWide : p.mcusWide;
  const total = single ? comps[0].blocksWide * comps[0].blocksHigh : p.mcusWide * p.mcusHigh;
  const interval = p.restartInterval;
  for (let mcu = 0; mcu < total; mcu++) {
    if (interval > 0 && mcu > 0 && mcu % interval === 0) {
      reader.restart();
      eobrun = 0;
      for (const c of comps) c.pred = 0;
    }
    const row = Math.floor(mcu / mcusWide);
    const col = mcu - row * mcusWide;
    if (single) {
      const c = comps[0];
      decodeBlock(reader, c, (row * c.stride + col) * 64);
      continue;
    }
    for (const c of comps) {
      for (let y = 0; y < c.v; y++) {
        const base = (row * c.v + y) * c.stride + col * c.h;
        for (let x = 0; x < c.h; x++) decodeBlock(reader, c, (base + x) * 64);
      }
    }
  }
  return reader.pos;
}
