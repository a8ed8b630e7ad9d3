/**
 * The measured child of the blank case, in one of two modes. Prints one JSON line on stdout.
 *
 * - `deno run -A bench/blank_child.ts blank OUT-DIR LIST-FILE REGIONS-JSON`: each listed file
 *   `readDicomFile`, `blankSync(file, regions, [])`, `writeDicomFile` under its own name, `close`, as
 *   a run with `burned_in: blank` does it; after `preparePixelWork` (timed apart). Reports the
 *   milliseconds from the first read to the last close.
 * - `deno run -A bench/blank_child.ts ocr LIST-FILE FRAMES LABELS-JSON`: `FRAMES` frames of the
 *   listed (uncompressed) files, decoded, with the labels drawn on them in the test font, each given
 *   to `findText`; reports the binaries' read, the first call (the engine's start-up) and the others.
 *
 * @module
 */
import { basename, join } from "node:path";
import { readDicomFile } from "../src/dicom/read_file.ts";
import { writeDicomFile } from "../src/dicom/write_file.ts";
import { blankSync, type Rect } from "../src/pixels/blank.ts";
import { decodeFrame, prepareDecoder } from "../src/pixels/decode.ts";
import { findText, ocrBinaries, provideOcrBinaries, type TextBox } from "../src/pixels/ocr.ts";
import { openPixelSource } from "../src/pixels/source.ts";
import { preparePixelWork } from "../src/pixels/transcode.ts";
import { covered, type Label, renderImage } from "../tests/fixtures/ocr_images.ts";

/** What `blank` mode prints. */
export interface BlankReport {
  files: number;
  /** `preparePixelWork` (every decoder, the JPEG-LS and HTJ2K encoders). */
  prepareMs: number;
  /** From the first read to the last close. */
  ms: number;
  /** The first file alone (JIT warm-up). */
  firstMs: number;
  errors: string[];
}

/** What `ocr` mode prints. */
export interface OcrReport {
  frames: number;
  /** `ocrBinaries()`: the `.wasm` and the gunzipped model read by the main thread. */
  binariesMs: number;
  /** The first `findText`, with the engine's instantiation and the model's load. */
  firstMs: number;
  /** Every other call, one by one. */
  restMs: number[];
  /** Word boxes found per frame. */
  boxes: number[];
  /** Words planted in the first frame, and how many of them a found box covers by half or more. */
  planted: number;
  found: number;
}

/** Draw `labels` (the test font) onto an RGB frame: wherever the label image has ink. */
export function drawLabels(frame: Uint8Array, width: number, height: number, labels: Label[]) {
  const { image, words } = renderImage(width, height, 3, labels);
  const p = image.pixels;
  for (let i = 0; i < p.length; i += 3) {
    if (p[i] >= 200 && p[i + 1] >= 200 && p[i + 2] >= 200) frame.set(p.subarray(i, i + 3), i);
  }
  return words;
}

async function blank(outDir: string, list: string, regionsJson: string): Promise<BlankReport> {
  const inputs = (await Deno.readTextFile(list)).split("\n").filter(Boolean);
  const regions = JSON.parse(regionsJson) as Rect[];
  const tp = performance.now();
  await preparePixelWork();
  const prepareMs = performance.now() - tp;
  const t0 = performance.now();
  let firstMs = 0;
  const errors: string[] = [];
  for (const input of inputs) {
    try {
      const file = await readDicomFile(input);
      const b = blankSync(file, regions, []);
      try {
        await writeDicomFile(file, join(outDir, basename(input)), { overwrite: true });
      } finally {
        b.close();
      }
    } catch (e) {
      errors.push(`${basename(input)}: ${(e as Error).message}`);
    }
    if (!firstMs) firstMs = performance.now() - t0;
  }
  return { files: inputs.length, prepareMs, ms: performance.now() - t0, firstMs, errors };
}

async function ocr(list: string, frames: number, labelsJson: string): Promise<OcrReport> {
  const inputs = (await Deno.readTextFile(list)).split("\n").filter(Boolean);
  const labels = JSON.parse(labelsJson) as Label[];
  const tb = performance.now();
  provideOcrBinaries(await ocrBinaries());
  const binariesMs = performance.now() - tb;
  const images: { pixels: Uint8Array; width: number; height: number }[] = [];
  let planted: { x: number; y: number; width: number; height: number }[] = [];
  for (const input of inputs) {
    const src = openPixelSource(await readDicomFile(input));
    try {
      await prepareDecoder(src);
      const { rows, columns } = src.fmt;
      for (let i = 0; i < src.fmt.frames && images.length < frames; i++) {
        const pixels = decodeFrame(src, i).bytes.slice();
        const words = drawLabels(pixels, columns, rows, labels);
        if (!images.length) planted = words;
        images.push({ pixels, width: columns, height: rows });
      }
    } finally {
      src.close();
    }
    if (images.length >= frames) break;
  }
  const restMs: number[] = [];
  const boxes: number[] = [];
  let firstMs = 0;
  let first: TextBox[] = [];
  for (const [k, im] of images.entries()) {
    const t = performance.now();
    const found = await findText({ ...im, channels: 3 });
    const ms = performance.now() - t;
    if (k === 0) (firstMs = ms, first = found);
    else restMs.push(ms);
    boxes.push(found.length);
  }
  const found = planted.filter((w) => first.some((b) => covered(w, b) >= 0.5 || covered(b, w) >= 0.5)).length;
  return { frames: images.length, binariesMs, firstMs, restMs, boxes, planted: planted.length, found };
}

async function main([mode, ...rest]: string[]): Promise<number> {
  let report: BlankReport | OcrReport;
  if (mode === "blank" && rest.length === 3) report = await blank(rest[0], rest[1], rest[2]);
  else if (mode === "ocr" && rest.length === 3) report = await ocr(rest[0], Number(rest[1]), rest[2]);
  else {
    console.error(
      "usage: blank_child.ts blank OUT-DIR LIST-FILE REGIONS-JSON | ocr LIST-FILE FRAMES LABELS-JSON",
    );
    return 2;
  }
  console.log(JSON.stringify(report));
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
