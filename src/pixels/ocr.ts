/**
 * Burned-in text found with OCR: Tesseract's own WebAssembly build (`tesseract.js-core`, LSTM only,
 * SIMD) with the English model shipped on npm (`@tesseract.js-data/eng`), driven through its
 * WebIDL `TessBaseAPI` in an in-memory file system. Nothing is downloaded and, like the codecs in
 * `wasm.ts`, a sandboxed worker needs no read permission: the main thread reads the `.wasm` and the
 * model (`ocrBinaries`) and hands them over (`provideOcrBinaries`).
 *
 * @module
 */
import { PixelError } from "./errors.ts";

/** A box of text Tesseract found, in the image's pixels, with what it read and how sure it is (0..100). */
export interface TextBox {
  x: number;
  y: number;
  width: number;
  height: number;
  text: string;
  confidence: number;
}

/** An 8-bit image, grey or RGB (interleaved), rows top to bottom. */
export interface OcrImage {
  width: number;
  height: number;
  channels: 1 | 3;
  pixels: Uint8Array;
}

/** What the OCR engine needs: the WebAssembly module and the (uncompressed) English model. */
export interface OcrBinaries {
  wasm: Uint8Array;
  traineddata: Uint8Array;
}

const WASM = "tesseract.js-core/tesseract-core-simd-lstm.wasm";
const MODEL = "@tesseract.js-data/eng/4.0.0_best_int/eng.traineddata.gz";

/** The files, as specifiers resolved through deno.json's imports. */
function urls(): { wasm: URL; model: URL } {
  return { wasm: new URL(import.meta.resolve(WASM)), model: new URL(import.meta.resolve(MODEL)) };
}

/** Gunzip with the web's own stream (no import, no permission). */
async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Read the engine's `.wasm` (2.9 MB) and the English model (gunzipped, about 4 MB), to hand to workers. */
export async function ocrBinaries(): Promise<OcrBinaries> {
  // The model package has no code we use; importing its index puts it in the module graph, so
  // Deno installs it with the rest.
  await import("@tesseract.js-data/eng");
  const u = urls();
  return { wasm: await Deno.readFile(u.wasm), traineddata: await gunzip(await Deno.readFile(u.model)) };
}

let provided: OcrBinaries | undefined;

/** Give this thread the engine's bytes (a worker calls it with what `ocrBinaries` read). */
export function provideOcrBinaries(binaries: OcrBinaries): void {
  provided = binaries;
}

// deno-lint-ignore no-explicit-any
type Module = any;
// deno-lint-ignore no-explicit-any
type Api = any;

/** Tesseract's Emscripten module and one `TessBaseAPI` initialised with the English model. */
interface Engine {
  module: Module;
  api: Api;
}

let engine: Promise<Engine> | undefined;

/** The engine, loaded and initialised once per thread. */
function loadEngine(): Promise<Engine> {
  if (!engine) {
    engine = (async () => {
      let bin = provided;
      if (!bin) {
        try {
          bin = await ocrBinaries();
        } catch (e) {
          throw new PixelError(
            `the OCR engine's WebAssembly and model could not be read (${(e as Error).message}); ` +
              "a sandboxed worker must be handed the bytes by the main thread (provideOcrBinaries)",
          );
        }
      }
      const factory = (await import("tesseract.js-core/tesseract-core-simd-lstm.js")).default;
      const module: Module = await factory({ wasmBinary: bin.wasm, print: () => {}, printErr: () => {} });
      module.FS.mkdir("/tessdata");
      module.FS.writeFile("/tessdata/eng.traineddata", bin.traineddata);
      const api: Api = new module.TessBaseAPI();
      // OEM 1: the LSTM recogniser, the only one this build and model have.
      if (api.Init("/tessdata", "eng", 1) !== 0) throw new PixelError("the OCR engine did not initialise");
      module.FS.unlink("/tessdata/eng.traineddata");
      return { module, api };
    })();
    engine.catch(() => (engine = undefined));
  }
  return engine;
}

/** How `findText` looks. */
export interface OcrOptions {
  /**
   * Upscaling before recognition (bilinear), 1 to 4; default 1. Upscaling reads small glyphs' letters
   * better but did not box more words in our tests (Sauvola's window is then smaller than a glyph)
   * and costs time.
   */
  scale?: number;
  /**
   * `"auto"` (default): one polarity, inverted when the image is mostly dark (light text on black, as
   * ultrasound has); `"both"`: the image and its negative, for dark and light text side by side.
   */
  polarity?: "auto" | "both";
}

/**
 * Ink on paper for Tesseract, as a PGM file: grey (BT.601 weights), inverted when asked, with `cut`
 * every pixel at least that bright (after inversion: at most 255 - cut) black and the rest white, then
 * upscaled by `scale` (bilinear).
 */
function prepare(image: OcrImage, scale: number, invert: boolean, cut?: number): Uint8Array {
  const { width, height, channels, pixels } = image;
  const grey = new Uint8Array(width * height);
  for (let i = 0; i < width * height; i++) {
    let v = channels === 1
      ? pixels[i]
      : (pixels[3 * i] * 77 + pixels[3 * i + 1] * 150 + pixels[3 * i + 2] * 29) >> 8;
    if (invert) v = 255 - v;
    grey[i] = cut === undefined ? v : v <= 255 - cut ? 0 : 255;
  }
  const w = width * scale, h = height * scale;
  const header = new TextEncoder().encode(`P5\n${w} ${h}\n255\n`);
  const pgm = new Uint8Array(header.length + w * h);
  pgm.set(header);
  if (scale === 1) {
    pgm.set(grey, header.length);
    return pgm;
  }
  const out = pgm.subarray(header.length);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(height - 1, Math.max(0, (y + 0.5) / scale - 0.5));
    const y0 = Math.floor(sy), y1 = Math.min(height - 1, y0 + 1), fy = sy - y0;
    for (let x = 0; x < w; x++) {
      const sx = Math.min(width - 1, Math.max(0, (x + 0.5) / scale - 0.5));
      const x0 = Math.floor(sx), x1 = Math.min(width - 1, x0 + 1), fx = sx - x0;
      const top = grey[y0 * width + x0] * (1 - fx) + grey[y0 * width + x1] * fx;
      const bottom = grey[y1 * width + x0] * (1 - fx) + grey[y1 * width + x1] * fx;
      out[y * w + x] = Math.round(top * (1 - fy) + bottom * fy);
    }
  }
  return pgm;
}

/** Tesseract's TSV: the word rows (level 5) with text, boxes divided back by `scale`. */
function parseWords(tsv: string, scale: number): TextBox[] {
  const out: TextBox[] = [];
  for (const line of tsv.split("\n")) {
    const f = line.split("\t");
    if (f[0] !== "5" || f.length < 12) continue;
    const text = f.slice(11).join(" ").trim();
    if (!text) continue;
    const [left, top, width, height] = f.slice(6, 10).map(Number);
    const x = Math.floor(left / scale), y = Math.floor(top / scale);
    out.push({
      x,
      y,
      width: Math.ceil((left + width) / scale) - x,
      height: Math.ceil((top + height) / scale) - y,
      text,
      confidence: Math.max(0, Number(f[10])),
    });
  }
  return out;
}

/** One recognition of a prepared image (synchronous once the engine is loaded: passes never interleave). */
function recognize(engine: Engine, pgm: Uint8Array, scale: number): TextBox[] {
  const { module, api } = engine;
  module.FS.writeFile("/input", pgm);
  try {
    api.SetImageFile(1, 0);
  } finally {
    module.FS.unlink("/input");
  }
  try {
    if (api.Recognize(null) !== 0) throw new PixelError("the OCR engine could not recognise the image");
    return parseWords(api.GetTSVText(0), scale);
  } finally {
    api.Clear();
  }
}

/** Set a Tesseract variable. */
function setVariable(engine: Engine, name: string, value: string): void {
  if (!engine.api.SetVariable(name, value)) throw new PixelError(`the OCR engine refused ${name}=${value}`);
}

/** Intersection over union of two boxes. */
function iou(a: TextBox, b: TextBox): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  return (w * h) / (a.width * a.height + b.width * b.height - w * h);
}

/**
 * Brightness (0..255, of the text's polarity) from which a pixel counts as ink in the second pass:
 * overlays are drawn bright, and the speckle under them (which defeats Tesseract's own thresholds,
 * global or local) is mostly darker.
 */
const BRIGHT_INK = 140;

/**
 * Every word box Tesseract finds in an 8-bit grey or RGB image, whatever its confidence (small text
 * reads badly: count the boxes, do not trust the words). Sparse-text page segmentation (PSM 11), two
 * passes merged: the grey image (Sauvola's local threshold) and only its brightest ink (`BRIGHT_INK`),
 * which finds text drawn over ultrasound speckle. About 0.2 to 0.4 s for a 640x480 frame on one thread.
 *
 * The engine loads once per thread, from the bytes given to `provideOcrBinaries` or else read from
 * the module cache; a thread that may not read and was given none gets a `PixelError`.
 */
export async function findText(image: OcrImage, opts: OcrOptions = {}): Promise<TextBox[]> {
  const { width, height, channels, pixels } = image;
  if (!(width > 0 && height > 0) || pixels.length !== width * height * channels) {
    throw new PixelError(`findText: ${pixels.length} bytes are not a ${width}x${height}x${channels} image`);
  }
  const scale = opts.scale ?? 1;
  if (!Number.isInteger(scale) || scale < 1 || scale > 4) throw new PixelError(`findText: scale ${scale}`);
  const engine = await loadEngine();
  setVariable(engine, "tessedit_pageseg_mode", "11");
  let mean = 0;
  for (let i = 0; i < pixels.length; i++) mean += pixels[i];
  const dark = mean / pixels.length < 128;
  const polarities = opts.polarity === "both" ? [dark, !dark] : [dark];
  const out: TextBox[] = [];
  for (const invert of polarities) {
    const first = out.length;
    for (const cut of [undefined, BRIGHT_INK]) {
      // Sauvola's local threshold for the grey pass (dim text beside bright text reads better than with
      // a global Otsu threshold); the bright pass is binary already.
      setVariable(engine, "thresholding_method", cut === undefined ? "2" : "0");
      const found = recognize(engine, prepare(image, scale, invert, cut), scale);
      const before = out.length;
      for (const b of found) if (!out.slice(first, before).some((a) => iou(a, b) > 0.5)) out.push(b);
    }
  }
  return out;
}
