/**
 * A pure-TypeScript decoder for JPEG DCT codestreams with Huffman coding: baseline (SOF0), extended
 * sequential (SOF1, 8 or 12 bits, the DICOM "JPEG Extended" transfer syntax 1.2.840.10008.1.2.4.51)
 * and progressive (SOF2, 8 or 12 bits). It exists for 12-bit data, which the WebAssembly
 * libjpeg-turbo build cannot decode. Its samples equal those of DCMTK's dcmdjpeg (IJG libjpeg 6b with
 * the islow IDCT and fancy upsampling); it does not convert colour, it says what the stream says
 * about colour (JFIF, Adobe transform, component ids). This file reads the markers and runs the
 * scans; `_jpeg_huffman.ts` decodes entropy-coded data and `_jpeg_idct.ts` makes samples.
 *
 * @module
 */
import { PixelError } from "./errors.ts";
import {
  buildHuffmanTable,
  decodeScan,
  type HuffmanTable,
  type ScanComponent,
  ZIGZAG,
} from "./_jpeg_huffman.ts";
import { idctComponent, type Plane, upsampleInterleave } from "./_jpeg_idct.ts";

/** A decoded JPEG DCT image: its components upsampled to full size and interleaved, not colour-converted. */
export interface DctImage {
  /** Samples per row. */
  width: number;
  /** Rows. */
  height: number;
  /** Components per pixel (1 to 4). */
  components: number;
  /** Bits per sample of the codestream. */
  precision: 8 | 12;
  /** `width * height * components` samples, interleaved by pixel, rows top to bottom. */
  data: Uint8Array | Uint16Array;
  /** True when the stream has a JFIF APP0 segment (colour is YCbCr for 3 components). */
  jfif: boolean;
  /** The Adobe APP14 transform flag (0: none, 1: YCbCr, 2: YCCK) when that segment is present. */
  adobeTransform?: number;
  /** The component identifiers of the frame header, in frame order. */
  componentIds: number[];
}

interface FrameComponent extends ScanComponent {
  id: number;
  tq: number;
}

interface Frame {
  progressive: boolean;
  precision: 8 | 12;
  width: number;
  height: number;
  components: FrameComponent[];
  maxH: number;
  maxV: number;
  mcusWide: number;
  mcusHigh: number;
}

const SOF_NAMES: Record<number, string> = {
  0xc3: "lossless (SOF3)",
  0xc5: "differential sequential (SOF5)",
  0xc6: "differential progressive (SOF6)",
  0xc7: "differential lossless (SOF7)",
  0xc9: "arithmetic coding (SOF9)",
  0xca: "arithmetic coding (SOF10)",
  0xcb: "arithmetic coding (SOF11)",
  0xcd: "arithmetic coding (SOF13)",
  0xce: "arithmetic coding (SOF14)",
  0xcf: "arithmetic coding (SOF15)",
  0xf7: "JPEG-LS (SOF55)",
};

/** At most 2^28 coefficients (512 MB) in all: e.g. 16384 x 16384 x 1. */
const MAX_COEFFICIENTS = 2 ** 28;

function truncated(): never {
  throw new PixelError("JPEG: truncated stream");
}

/** Reads a marker segment's payload (after its 2-byte length) at `pos`; throws when it runs past the end. */
function segment(bytes: Uint8Array, pos: number): Uint8Array {
  if (pos + 2 > bytes.length) truncated();
  const length = (bytes[pos] << 8) | bytes[pos + 1];
  if (length < 2) throw new PixelError(`JPEG: bad marker segment length ${length}`);
  if (pos + length > bytes.length) truncated();
  return bytes.subarray(pos + 2, pos + length);
}

function readFrame(seg: Uint8Array, marker: number): Frame {
  if (seg.length < 6) throw new PixelError("JPEG: bad frame header (SOF)");
  const precision = seg[0];
  if (precision !== 8 && precision !== 12) {
    throw new PixelError(`JPEG: ${precision}-bit precision is not supported (8 or 12 bits only)`);
  }
  if (marker === 0xc0 && precision !== 8) throw new PixelError("JPEG: baseline (SOF0) frame is not 8-bit");
  const height = (seg[1] << 8) | seg[2];
  const width = (seg[3] << 8) | seg[4];
  const n = seg[5];
  if (height === 0) throw new PixelError("JPEG: image height defined by a DNL marker is not supported");
  if (width === 0) throw new PixelError("JPEG: image width is 0");
  if (n < 1 || n > 4) throw new PixelError(`JPEG: ${n} components are not supported (1 to 4 only)`);
  if (seg.length < 6 + 3 * n) throw new PixelError("JPEG: bad frame header (SOF)");
  const components: FrameComponent[] = [];
  let maxH = 1;
  let maxV = 1;
  for (let i = 0; i < n; i++) {
    const o = 6 + 3 * i;
    const h = seg[o + 1] >> 4;
    const v = seg[o + 1] & 15;
    if (h < 1 || h > 4 || v < 1 || v > 4) throw new PixelError("JPEG: bad sampling factors in frame header");
    if (seg[o + 2] > 3) throw new PixelError("JPEG: bad quantization table number in frame header");
    maxH = Math.max(maxH, h);
    maxV = Math.max(maxV, v);
    components.push({
      id: seg[o],
      h,
      v,
      tq: seg[o + 2],
      blocksWide: 0,
      blocksHigh: 0,
      stride: 0,
      coefs: new Int16Array(0),
      pred: 0,
    });
  }
  const mcusWide = Math.ceil(width / (8 * maxH));
  const mcusHigh = Math.ceil(height / (8 * maxV));
  let total = 0;
  for (const c of components) total += mcusWide * c.h * mcusHigh * c.v * 64;
  if (total > MAX_COEFFICIENTS) {
    throw new PixelError(`JPEG: image too large (${width}x${height}, ${n} components)`);
  }
  for (const c of components) {
    c.blocksWide = Math.ceil(Math.ceil((width * c.h) / maxH) / 8);
    c.blocksHigh = Math.ceil(Math.ceil((height * c.v) / maxV) / 8);
    c.stride = mcusWide * c.h;
    c.coefs = new Int16Array(c.stride * mcusHigh * c.v * 64);
  }
  return {
    progressive: marker === 0xc2,
    precision,
    width,
    height,
    components,
    maxH,
    maxV,
    mcusWide,
    mcusHigh,
  };
}

function readQuantTables(seg: Uint8Array, tables: (Int32Array | undefined)[]): void {
  let p = 0;
  while (p < seg.length) {
    const pq = seg[p] >> 4;
    const tq = seg[p] & 15;
    if (pq > 1 || tq > 3) throw new PixelError("JPEG: bad quantization table (DQT)");
    const size = pq === 0 ? 64 : 128;
    if (p + 1 + size > seg.length) throw new PixelError("JPEG: bad quantization table (DQT) length");
    const table = new Int32Array(64);
    for (let k = 0; k < 64; k++) {
      table[ZIGZAG[k]] = pq === 0 ? seg[p + 1 + k] : (seg[p + 1 + 2 * k] << 8) | seg[p + 2 + 2 * k];
    }
    tables[tq] = table;
    p += 1 + size;
  }
}

function readHuffmanTables(
  seg: Uint8Array,
  dc: (HuffmanTable | undefined)[],
  ac: (HuffmanTable | undefined)[],
) {
  let p = 0;
  while (p < seg.length) {
    if (p + 17 > seg.length) throw new PixelError("JPEG: bad Huffman table (DHT) length");
    const tc = seg[p] >> 4;
    const th = seg[p] & 15;
    if (tc > 1 || th > 3) throw new PixelError("JPEG: bad Huffman table (DHT) class or number");
    const counts = seg.subarray(p + 1, p + 17);
    let total = 0;
    for (let i = 0; i < 16; i++) total += counts[i];
    if (total > 256 || p + 17 + total > seg.length) throw new PixelError("JPEG: bad Huffman table (DHT)");
    const table = buildHuffmanTable(counts, seg.subarray(p + 17, p + 17 + total));
    (tc === 0 ? dc : ac)[th] = table;
    p += 17 + total;
  }
}

/** Finds the next marker at or after `pos` (skipping stray bytes and fill 0xFF); -1 at the end of the data. */
function nextMarker(bytes: Uint8Array, pos: number): number {
  while (pos + 1 < bytes.length) {
    if (bytes[pos] === 0xff && bytes[pos + 1] !== 0 && bytes[pos + 1] !== 0xff) return pos;
    pos++;
  }
  return -1;
}

function startsWith(seg: Uint8Array, text: string): boolean {
  if (seg.length < text.length) return false;
  for (let i = 0; i < text.length; i++) if (seg[i] !== text.charCodeAt(i)) return false;
  return true;
}

/**
 * Decodes a JPEG DCT codestream (SOF0, SOF1 or SOF2 with Huffman coding; 8- or 12-bit; 1 to 4
 * components; any integer sampling ratios). Samples are bit-exact with IJG libjpeg 6b (islow IDCT,
 * fancy upsampling) and are not colour-converted. Throws {@link PixelError} on what it does not
 * support (arithmetic coding, lossless, hierarchical, DNL) and on a stream it cannot read.
 */
export function decodeJpegDct(bytes: Uint8Array): DctImage {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) {
    throw new PixelError("JPEG: the data does not start with an SOI marker");
  }
  const quant: (Int32Array | undefined)[] = [];
  const dcTables: (HuffmanTable | undefined)[] = [];
  const acTables: (HuffmanTable | undefined)[] = [];
  let frame: Frame | undefined;
  let jfif = false;
  let adobeTransform: number | undefined;
  let restartInterval = 0;
  let scans = 0;
  let pos = 2;
  for (;;) {
    const at = nextMarker(bytes, pos);
    if (at < 0) {
      if (scans > 0) break; // a missing EOI is tolerated, as libjpeg does
      truncated();
    }
    const marker = bytes[at + 1];
    pos = at + 2;
    if (marker === 0xd9) {
      if (scans === 0) throw new PixelError("JPEG: no image data before the EOI marker");
      break;
    }
    if (marker === 0xd8) throw new PixelError("JPEG: unexpected second SOI marker");
    if (marker >= 0xd0 && marker <= 0xd7) continue; // a stray restart marker: libjpeg ignores it too
    if (marker === 0x01) continue; // TEM has no segment
    const seg = segment(bytes, pos);
    pos += 2 + seg.length;
    if (marker === 0xc0 || marker === 0xc1 || marker === 0xc2) {
      if (frame) throw new PixelError("JPEG: more than one frame header (SOF)");
      frame = readFrame(seg, marker);
    } else if (SOF_NAMES[marker]) {
      throw new PixelError(`JPEG: ${SOF_NAMES[marker]} is not supported`);
    } else if (marker === 0xcc) {
      throw new PixelError("JPEG: arithmetic coding (DAC) is not supported");
    } else if (marker === 0xc4) {
      readHuffmanTables(seg, dcTables, acTables);
    } else if (marker === 0xdb) {
      readQuantTables(seg, quant);
    } else if (marker === 0xdd) {
      if (seg.length < 2) throw new PixelError("JPEG: bad restart interval (DRI)");
      restartInterval = (seg[0] << 8) | seg[1];
    } else if (marker === 0xdc) {
      throw new PixelError("JPEG: DNL marker (height given after the first scan) is not supported");
    } else if (marker === 0xe0) {
      if (startsWith(seg, "JFIF\0")) jfif = true;
    } else if (marker === 0xee) {
      if (seg.length >= 12 && startsWith(seg, "Adobe")) adobeTransform = seg[11];
    } else if (marker === 0xda) {
      if (!frame) throw new PixelError("JPEG: scan (SOS) before the frame header (SOF)");
      pos = readScan(bytes, pos, seg, frame, dcTables, acTables, restartInterval);
      scans++;
    } else if (marker < 0xc0) {
      throw new PixelError(`JPEG: unknown marker 0xFF${marker.toString(16).toUpperCase()}`);
    }
    // APPn other than the two above, COM, and other segments: skipped.
  }
  if (!frame) throw new PixelError("JPEG: no frame header (SOF)");
  return finish(frame, quant, jfif, adobeTransform);
}

function readScan(
  bytes: Uint8Array,
  pos: number,
  seg: Uint8Array,
  frame: Frame,
  dcTables: (HuffmanTable | undefined)[],
  acTables: (HuffmanTable | undefined)[],
  restartInterval: number,
): number {
  const n = seg[0];
  if (n < 1 || n > 4 || seg.length < 4 + 2 * n) throw new PixelError("JPEG: bad scan header (SOS)");
  const components: FrameComponent[] = [];
  for (let i = 0; i < n; i++) {
    const id = seg[1 + 2 * i];
    const c = frame.components.find((fc) => fc.id === id);
    if (!c || components.includes(c)) throw new PixelError(`JPEG: scan names an unknown component ${id}`);
    const td = seg[2 + 2 * i] >> 4;
    const ta = seg[2 + 2 * i] & 15;
    if (td > 3 || ta > 3) throw new PixelError("JPEG: bad Huffman table number in scan header");
    c.dcTable = dcTables[td];
    c.acTable = acTables[ta];
    c.pred = 0;
    components.push(c);
  }
  const o = 1 + 2 * n;
  const ss = seg[o];
  const se = seg[o + 1];
  const ah = seg[o + 2] >> 4;
  const al = seg[o + 2] & 15;
  if (frame.progressive) {
    const ok = ss <= se && se <= 63 && (ss === 0 ? se === 0 : n === 1) && al <= 13 && ah <= 13;
    if (!ok) throw new PixelError("JPEG: bad progressive scan parameters");
  } else if (ss !== 0 || se !== 63 || ah !== 0 || al !== 0) {
    throw new PixelError("JPEG: bad sequential scan parameters");
  }
  let blocks = 0;
  for (const c of components) {
    blocks += c.h * c.v;
    const needDc = !frame.progressive || (ss === 0 && ah === 0);
    const needAc = !frame.progressive || ss > 0;
    if ((needDc && !c.dcTable) || (needAc && !c.acTable)) {
      throw new PixelError("JPEG: scan uses a Huffman table that was not defined");
    }
  }
  if (n > 1 && blocks > 10) throw new PixelError("JPEG: too many blocks in an MCU");
  const end = decodeScan(bytes, pos, {
    components,
    progressive: frame.progressive,
    ss,
    se,
    ah,
    al,
    restartInterval,
    mcusWide: frame.mcusWide,
    mcusHigh: frame.mcusHigh,
  });
  return end;
}

function finish(frame: Frame, quant: (Int32Array | undefined)[], jfif: boolean, adobe?: number): DctImage {
  const { width, height, precision } = frame;
  const planes: Plane[] = frame.components.map((c) => {
    const q = quant[c.tq];
    if (!q) throw new PixelError(`JPEG: quantization table ${c.tq} was not defined`);
    const samples = idctComponent(c.coefs, c.stride, c.blocksWide, c.blocksHigh, q, precision);
    return {
      samples,
      stride: c.blocksWide * 8,
      width: Math.ceil((width * c.h) / frame.maxH),
      height: Math.ceil((height * c.v) / frame.maxV),
    };
  });
  const n = frame.components.length;
  const size = width * height * n;
  const data = precision === 8 ? new Uint8Array(size) : new Uint16Array(size);
  upsampleInterleave(planes, frame.components, frame.maxH, frame.maxV, width, height, data);
  const image: DctImage = {
    width,
    height,
    components: n,
    precision,
    data,
    jfif,
    componentIds: frame.components.map((c) => c.id),
  };
  if (adobe !== undefined) image.adobeTransform = adobe;
  return image;
}
