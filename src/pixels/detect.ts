/**
 * Text in a file's pixels: the first frames decoded, shown as a viewer would show them (window,
 * MONOCHROME1, colour models), and searched with OCR. Boxes only leave this file: the words read
 * may be a name, and small text reads badly anyway (any box counts).
 *
 * @module
 */
import type { DicomFile } from "../dicom/model.ts";
import type { Rect } from "./blank.ts";
import { decodeFrame, prepareDecoder } from "./decode.ts";
import { readPixelFormat } from "./format.ts";
import { findText } from "./ocr.ts";
import { displayFrame } from "./preview.ts";
import { openPixelSource } from "./source.ts";

/** Boxes of text found in the first `frames` frames of `file` (merged over frames, pixel coordinates). */
export async function textBoxes(file: DicomFile, frames = 1): Promise<Rect[]> {
  const fmt = readPixelFormat(file.dataset);
  const src = openPixelSource(file, fmt);
  try {
    await prepareDecoder(src);
    const out: Rect[] = [];
    for (let f = 0; f < Math.min(frames, fmt.frames); f++) {
      const d = decodeFrame(src, f);
      const img = displayFrame(d, { ...fmt, photometric: d.photometric, planar: 0 }, file.dataset);
      for (const b of await findText(img)) {
        const r = { x: b.x, y: b.y, width: b.width, height: b.height };
        if (!out.some((o) => o.x === r.x && o.y === r.y && o.width === r.width && o.height === r.height)) {
          out.push(r);
        }
      }
    }
    return out;
  } finally {
    src.close();
  }
}

/** Boxes no single region of `regions` holds whole. */
export function boxesOutside(boxes: readonly Rect[], regions: readonly Rect[]): Rect[] {
  const covers = (r: Rect, b: Rect) =>
    b.x >= r.x && b.y >= r.y && b.x + b.width <= r.x + r.width && b.y + b.height <= r.y + r.height;
  return boxes.filter((b) => !regions.some((r) => covers(r, b)));
}

/** The share of a box's area that lies in `regions` (0 to 1; regions that overlap count once each). */
export function coveredShare(b: Rect, regions: readonly Rect[]): number {
  let area = 0;
  for (const r of regions) {
    const w = Math.min(b.x + b.width, r.x + r.width) - Math.max(b.x, r.x);
    const h = Math.min(b.y + b.height, r.y + r.height) - Math.max(b.y, r.y);
    if (w > 0 && h > 0) area += w * h;
  }
  return Math.min(1, area / (b.width * b.height));
}

/**
 * One rectangle per group of overlapping or touching boxes (after `pad` pixels around each),
 * clipped to the image: what a proposed `blank:` rule lists.
 */
export function mergeBoxes(boxes: readonly Rect[], pad: number, columns: number, rows: number): Rect[] {
  let rs = boxes.map((b) => ({
    x: Math.max(0, b.x - pad),
    y: Math.max(0, b.y - pad),
    x1: Math.min(columns, b.x + b.width + pad),
    y1: Math.min(rows, b.y + b.height + pad),
  }));
  for (let changed = true; changed;) {
    changed = false;
    outer: for (let i = 0; i < rs.length; i++) {
      for (let j = i + 1; j < rs.length; j++) {
        const a = rs[i], b = rs[j];
        if (a.x <= b.x1 && b.x <= a.x1 && a.y <= b.y1 && b.y <= a.y1) {
          rs[i] = {
            x: Math.min(a.x, b.x),
            y: Math.min(a.y, b.y),
            x1: Math.max(a.x1, b.x1),
            y1: Math.max(a.y1, b.y1),
          };
          rs = rs.filter((_, k) => k !== j);
          changed = true;
          break outer;
        }
      }
    }
  }
  return rs.map((r) => ({ x: r.x, y: r.y, width: r.x1 - r.x, height: r.y1 - r.y })).sort((a, b) =>
    a.y - b.y || a.x - b.x
  );
}
