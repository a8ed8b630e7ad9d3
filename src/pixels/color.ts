/**
 * Colour models to RGB: YBR_FULL (PS3.3 C.7.6.3.1.2, the JFIF equations), native YBR_FULL_422
 * (two pixels share one Cb and Cr), and PALETTE COLOR through the data set's lookup tables
 * (8- or 16-bit entries, given as 8-bit RGB as dcm2niix does).
 *
 * @module
 */
import type { DataSet } from "../dicom/model.ts";
import { decodeNumbers, valueBytes } from "../dicom/values.ts";
import { tags } from "../standard/tags.ts";
import { PixelError } from "./errors.ts";
import type { PixelFormat } from "./format.ts";

const clamp = (v: number, max: number) => (v < 0 ? 0 : v > max ? max : Math.round(v));

/** YBR_FULL samples (interleaved, 8 bits) to RGB, in place. */
export function ybrFullToRgb(bytes: Uint8Array): Uint8Array {
  for (let i = 0; i + 2 < bytes.length; i += 3) {
    const y = bytes[i];
    const cb = bytes[i + 1] - 128;
    const cr = bytes[i + 2] - 128;
    bytes[i] = clamp(y + 1.402 * cr, 255);
    bytes[i + 1] = clamp(y - 0.344136 * cb - 0.714136 * cr, 255);
    bytes[i + 2] = clamp(y + 1.772 * cb, 255);
  }
  return bytes;
}

/** Native YBR_FULL_422 (Y1 Y2 Cb Cr for each pair of pixels in a row) to interleaved YBR_FULL. */
export function expandYbr422(bytes: Uint8Array, fmt: PixelFormat): Uint8Array {
  const out = new Uint8Array(fmt.rows * fmt.columns * 3);
  let i = 0;
  let o = 0;
  for (let r = 0; r < fmt.rows; r++) {
    for (let c = 0; c < fmt.columns; c += 2) {
      const y1 = bytes[i], y2 = bytes[i + 1], cb = bytes[i + 2], cr = bytes[i + 3];
      i += 4;
      out[o++] = y1, out[o++] = cb, out[o++] = cr;
      if (c + 1 < fmt.columns) out[o++] = y2, out[o++] = cb, out[o++] = cr;
    }
  }
  return out;
}

/** A palette's three lookup tables, as 8-bit values. */
export interface Palette {
  readonly first: number;
  readonly red: Uint8Array;
  readonly green: Uint8Array;
  readonly blue: Uint8Array;
}

function lut(
  ds: DataSet,
  descriptorTag: number,
  dataTag: number,
  colour: string,
): { first: number; values: Uint8Array } {
  const d = ds.elements.find((e) => e.tag === descriptorTag);
  const data = ds.elements.find((e) => e.tag === dataTag);
  const bytes = data ? valueBytes(data) : undefined;
  if (!d || !bytes) {
    const segmented = ds.elements.some((e) => e.tag === tags.SegmentedRedPaletteColorLookupTableData);
    throw new PixelError(
      segmented ? "segmented palette lookup tables are not supported" : `no ${colour} palette lookup table`,
    );
  }
  const [n0, first, bits] = (decodeNumbers(d, ds) as number[]).map(Number);
  const entries = n0 === 0 ? 65536 : n0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values = new Uint8Array(entries);
  const wide = bytes.length >= entries * 2;
  for (let i = 0; i < entries; i++) {
    values[i] = wide
      ? (bits > 8 ? view.getUint16(i * 2, true) >> 8 : view.getUint16(i * 2, true) & 0xff)
      : bytes[i];
  }
  return { first, values };
}

/** The palette of a PALETTE COLOR data set; throws `PixelError` when it has none we can read. */
export function readPalette(ds: DataSet): Palette {
  const r = lut(ds, tags.RedPaletteColorLookupTableDescriptor, tags.RedPaletteColorLookupTableData, "red");
  const g = lut(
    ds,
    tags.GreenPaletteColorLookupTableDescriptor,
    tags.GreenPaletteColorLookupTableData,
    "green",
  );
  const b = lut(ds, tags.BluePaletteColorLookupTableDescriptor, tags.BluePaletteColorLookupTableData, "blue");
  return { first: r.first, red: r.values, green: g.values, blue: b.values };
}

/** Indices (one sample a pixel, 8 or 16 bits little endian) through a palette to 8-bit RGB. */
export function paletteToRgb(bytes: Uint8Array, fmt: PixelFormat, p: Palette): Uint8Array {
  const n = fmt.rows * fmt.columns;
  const out = new Uint8Array(n * 3);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const last = p.red.length - 1;
  for (let i = 0; i < n; i++) {
    const raw = fmt.bitsAllocated === 16 ? view.getUint16(i * 2, true) : bytes[i];
    const k = Math.min(last, Math.max(0, raw - p.first));
    out[i * 3] = p.red[k];
    out[i * 3 + 1] = p.green[k];
    out[i * 3 + 2] = p.blue[k];
  }
  return out;
}
