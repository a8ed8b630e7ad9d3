/**
 * Preview pictures for blanking burned-in text: a decoded frame made displayable (8-bit grey or
 * RGB: monochrome through a window, MONOCHROME1 inverted, YBR_FULL and PALETTE COLOR to RGB), the
 * regions to blank outlined on it, and the first frame of a file as PNG before and after blanking.
 *
 * @module
 */
import type { DataSet, DicomFile } from "../dicom/model.ts";
import { tags } from "../standard/tags.ts";
import { paletteToRgb, readPalette, ybrFullToRgb } from "./color.ts";
import { decodeBitFrame, type DecodedFrame, decodeFrame, prepareDecoder } from "./decode.ts";
import { PixelError } from "./errors.ts";
import { firstNumber, type PixelFormat, readPixelFormat } from "./format.ts";
import { encodePng } from "./png.ts";
import { openPixelSource } from "./source.ts";

/** A rectangle in pixel coordinates: columns `x .. x + width - 1`, rows `y .. y + height - 1`. */
export interface PreviewRegion {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** A linear VOI window in modality units (after Rescale Slope/Intercept), as PS3.3 C.11.2.1.2 defines. */
export interface DisplayWindow {
  readonly center: number;
  readonly width: number;
}

/** An 8-bit picture: `channels` samples a pixel, interleaved, row by row. */
export interface DisplayImage {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  readonly pixels: Uint8Array;
  /** The window a monochrome frame was shown through (to show another frame the same way). */
  readonly window?: DisplayWindow;
}

/** Options of {@link displayFrame}. */
export interface DisplayOptions {
  /** Monochrome: this window instead of the data set's or the frame's min–max. */
  readonly window?: DisplayWindow;
}

/** The outline colour of the regions on preview pictures (red). */
export const OUTLINE_COLOUR: readonly [number, number, number] = [255, 0, 0];
/** The outline's thickness in pixels, drawn around the region (outside it). */
export const OUTLINE_WIDTH = 2;

/** Sample `i` of a frame as a number: stored bits only, sign-extended when signed. */
function sampleReader(bytes: Uint8Array, fmt: PixelFormat, count: number): (i: number) => number {
  const size = fmt.bitsAllocated / 8;
  if (bytes.length < count * size) {
    throw new PixelError(`the frame holds ${bytes.length} bytes, ${count * size} expected`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bs = fmt.bitsStored;
  const shift = Math.max(0, fmt.highBit + 1 - bs);
  const mask = bs >= 32 ? 0xffffffff : 2 ** bs - 1;
  const half = 2 ** (bs - 1);
  const full = 2 ** bs;
  const signed = fmt.signed;
  const raw = size === 1
    ? (i: number) => bytes[i]
    : size === 2
    ? (i: number) => view.getUint16(i * 2, true)
    : (i: number) => view.getUint32(i * 4, true);
  return (i) => {
    const v = ((raw(i) >>> shift) & mask) >>> 0;
    return signed && v >= half ? v - full : v;
  };
}

/** The data set's first window, when it has a usable one. */
function datasetWindow(ds: DataSet | undefined): DisplayWindow | undefined {
  if (!ds) return undefined;
  const center = firstNumber(ds, tags.WindowCenter);
  const width = firstNumber(ds, tags.WindowWidth);
  return center !== undefined && width !== undefined && width >= 1 ? { center, width } : undefined;
}

function monochrome(
  frame: Uint8Array,
  fmt: PixelFormat,
  photometric: string,
  ds: DataSet | undefined,
  opts: DisplayOptions,
): DisplayImage {
  const n = fmt.rows * fmt.columns;
  const sample = sampleReader(frame, fmt, n);
  const slope = (ds && firstNumber(ds, tags.RescaleSlope)) || 1;
  const intercept = (ds && firstNumber(ds, tags.RescaleIntercept)) ?? 0;
  let window = opts.window ?? datasetWindow(ds);
  if (!window) {
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = sample(i);
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const a = lo * slope + intercept, b = hi * slope + intercept;
    const min = Math.min(a, b), max = Math.max(a, b);
    // The linear function with these bounds maps min to 0 and max to 255.
    window = { center: (min + max) / 2 + 0.5, width: max - min + 1 };
  }
  const bottom = window.center - 0.5 - (window.width - 1) / 2;
  const top = window.center - 0.5 + (window.width - 1) / 2;
  const scale = window.width > 1 ? 255 / (window.width - 1) : 0;
  const invert = photometric === "MONOCHROME1";
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const x = sample(i) * slope + intercept;
    const y = x <= bottom ? 0 : x > top ? 255 : Math.round((x - bottom) * scale);
    out[i] = invert ? 255 - y : y;
  }
  return { width: fmt.columns, height: fmt.rows, channels: 1, pixels: out, window };
}

/** Three samples a pixel to 8 bits each (stored bits scaled to 0..255). */
function rgb8(frame: Uint8Array, fmt: PixelFormat): Uint8Array {
  const count = fmt.rows * fmt.columns * 3;
  if (fmt.bitsAllocated === 8 && fmt.bitsStored === 8) {
    if (frame.length < count) {
      throw new PixelError(`the frame holds ${frame.length} bytes, ${count} expected`);
    }
    return frame.slice(0, count);
  }
  const sample = sampleReader(frame, { ...fmt, signed: false }, count);
  const max = 2 ** fmt.bitsStored - 1;
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = Math.round((sample(i) * 255) / max);
  return out;
}

/**
 * A decoded frame (`decodeFrame`: little-endian samples in the container of Bits Allocated,
 * interleaved, with the photometric interpretation after decoding) as an 8-bit picture for display.
 * MONOCHROME1/2: modality values (Rescale Slope/Intercept of `ds`) through the first Window
 * Center/Width of `ds`, else the frame's min–max, inverted for MONOCHROME1 (grey, one channel).
 * RGB as is, YBR_FULL converted, PALETTE COLOR through the palette of `ds` (RGB, three channels).
 * Throws `PixelError` for other photometric interpretations or a palette without `ds`.
 */
export function displayFrame(
  frame: Pick<DecodedFrame, "bytes" | "photometric">,
  fmt: PixelFormat,
  ds?: DataSet,
  opts: DisplayOptions = {},
): DisplayImage {
  const photometric = frame.photometric;
  const size = { width: fmt.columns, height: fmt.rows, channels: 3 as const };
  if (fmt.samplesPerPixel === 1) {
    if (photometric === "MONOCHROME1" || photometric === "MONOCHROME2") {
      return monochrome(frame.bytes, fmt, photometric, ds, opts);
    }
    if (photometric === "PALETTE COLOR") {
      if (!ds) throw new PixelError("a PALETTE COLOR frame needs its data set (the palette) to be shown");
      sampleReader(frame.bytes, fmt, fmt.rows * fmt.columns); // checks the length
      return { ...size, pixels: paletteToRgb(frame.bytes, fmt, readPalette(ds)) };
    }
  } else if (photometric === "RGB") {
    return { ...size, pixels: rgb8(frame.bytes, fmt) };
  } else if (photometric === "YBR_FULL" || photometric === "YBR_FULL_422") {
    // A YBR_FULL_422 frame that reaches here is already expanded to three samples a pixel.
    return { ...size, pixels: ybrFullToRgb(rgb8(frame.bytes, fmt)) };
  }
  throw new PixelError(
    `a frame of ${fmt.samplesPerPixel} sample(s) a pixel in ${photometric || "no"} photometric ` +
      "interpretation is not shown",
  );
}

/** A picture as RGB bytes (grey repeated three times; RGB copied). */
export function toRgb(img: DisplayImage): Uint8Array {
  if (img.channels === 3) return img.pixels.slice();
  const out = new Uint8Array(img.pixels.length * 3);
  for (let i = 0; i < img.pixels.length; i++) {
    const v = img.pixels[i];
    out[i * 3] = v, out[i * 3 + 1] = v, out[i * 3 + 2] = v;
  }
  return out;
}

/** Paint columns `x0 .. x1 - 1` of row `y` (clipped to the picture). */
function paintRow(
  rgb: Uint8Array,
  width: number,
  y: number,
  x0: number,
  x1: number,
  colour: readonly number[],
): void {
  for (let x = Math.max(0, x0); x < Math.min(width, x1); x++) {
    const o = (y * width + x) * 3;
    rgb[o] = colour[0], rgb[o + 1] = colour[1], rgb[o + 2] = colour[2];
  }
}

/** Fill a region of an RGB picture with a colour (black by default), clipped to the picture. */
export function fillRegion(
  rgb: Uint8Array,
  width: number,
  height: number,
  r: PreviewRegion,
  colour: readonly [number, number, number] = [0, 0, 0],
): void {
  const x = Math.round(r.x), y = Math.round(r.y), w = Math.round(r.width), h = Math.round(r.height);
  for (let row = Math.max(0, y); row < Math.min(height, y + h); row++) {
    paintRow(rgb, width, row, x, x + w, colour);
  }
}

/**
 * Draw a region's outline on an RGB picture: a frame `thickness` pixels wide just outside the
 * region (so the region itself stays as it is), clipped to the picture.
 */
export function drawOutline(
  rgb: Uint8Array,
  width: number,
  height: number,
  r: PreviewRegion,
  colour: readonly [number, number, number] = OUTLINE_COLOUR,
  thickness: number = OUTLINE_WIDTH,
): void {
  const x = Math.round(r.x), y = Math.round(r.y), w = Math.round(r.width), h = Math.round(r.height);
  const t = thickness;
  for (let row = Math.max(0, y - t); row < Math.min(height, y + h + t); row++) {
    if (row >= y && row < y + h) {
      paintRow(rgb, width, row, x - t, x, colour);
      paintRow(rgb, width, row, x + w, x + w + t, colour);
    } else {
      paintRow(rgb, width, row, x - t, x + w + t, colour);
    }
  }
}

/** Two PNG pictures of a frame. */
export interface PreviewPngs {
  /** The frame as it is, with the regions outlined. */
  readonly before: Uint8Array;
  /** The frame blanked, with the regions outlined. */
  readonly after: Uint8Array;
}

/**
 * The first frame of a file as RGB PNGs before and after blanking, each region outlined in
 * {@link OUTLINE_COLOUR} on both. `blanked` is the decoded first frame after blanking, laid out as
 * `decodeFrame` gives it (for Bits Allocated 1: one byte, 0 or 1, a pixel); it is shown through the
 * same window as the original. Without it the regions are filled with black in the picture.
 * Throws `PixelError` when the frame cannot be decoded or shown.
 */
export async function previewPngs(
  file: DicomFile,
  regions: readonly PreviewRegion[],
  blanked?: Uint8Array,
): Promise<PreviewPngs> {
  let fmt = readPixelFormat(file.dataset);
  const src = openPixelSource(file, fmt);
  let frame: Pick<DecodedFrame, "bytes" | "photometric">;
  try {
    if (fmt.bitsAllocated === 1) {
      frame = { bytes: decodeBitFrame(src, 0), photometric: fmt.photometric };
      fmt = { ...fmt, bitsAllocated: 8, bitsStored: 1, highBit: 0, signed: false };
    } else {
      await prepareDecoder(src);
      frame = decodeFrame(src, 0);
    }
  } finally {
    src.close();
  }
  if (blanked && blanked.length !== frame.bytes.length) {
    throw new PixelError(`the blanked frame holds ${blanked.length} bytes, ${frame.bytes.length} expected`);
  }
  const ds = file.dataset;
  const shown = displayFrame(frame, fmt, ds);
  const before = toRgb(shown);
  let after: Uint8Array;
  if (blanked) {
    after = toRgb(
      displayFrame({ bytes: blanked, photometric: frame.photometric }, fmt, ds, { window: shown.window }),
    );
  } else {
    after = before.slice();
    for (const r of regions) fillRegion(after, shown.width, shown.height, r);
  }
  for (const r of regions) {
    drawOutline(before, shown.width, shown.height, r);
    drawOutline(after, shown.width, shown.height, r);
  }
  return {
    before: encodePng(shown.width, shown.height, 3, before),
    after: encodePng(shown.width, shown.height, 3, after),
  };
}
