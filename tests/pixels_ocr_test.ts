/**
 * OCR of burned-in text: words drawn with a bitmap font at known boxes onto dark 640x480 gradients
 * (grey and RGB, large and small glyphs, text over ultrasound-like speckle) are each covered by a box
 * `findText` returns; Debian's `tesseract` reads the same images (an independent check of the test
 * images, skipped when absent); and a worker that may read nothing finds text with the engine's bytes
 * it is handed, and is refused without them.
 *
 * @module
 */
import { askSandboxedWorker } from "./helpers.ts";
import assert from "node:assert/strict";
import { findText, ocrBinaries, type TextBox } from "../src/pixels/ocr.ts";
import {
  type Box,
  covered,
  iou,
  type Label,
  type Planted,
  renderImage,
  toPnm,
} from "./fixtures/ocr_images.ts";

const YELLOW: [number, number, number] = [255, 230, 0];
const CYAN: [number, number, number] = [0, 230, 255];

/** Names and numbers in the corners, as ultrasound and screen captures burn them in. */
const LABELS: Label[] = [
  { text: "DOE JOHN", x: 40, y: 30, scale: 3 },
  { text: "MRN 12345", x: 40, y: 80, scale: 3, color: YELLOW },
  { text: "ACME", x: 480, y: 30, scale: 4, color: CYAN },
  { text: "2024-03-15 10:42", x: 400, y: 440, scale: 2 },
  { text: "SMITH JANE", x: 24, y: 400, scale: 2 },
];

/** Small glyphs (5x7 pixels), dim text, and text over speckle. */
const HARD: Label[] = [
  { text: "ID 987654", x: 20, y: 430, scale: 1, color: [150, 150, 150] },
  { text: "GEN 3.5MHZ", x: 540, y: 200, scale: 1 },
  { text: "ABDOMEN", x: 260, y: 240, scale: 2 },
  { text: "LIVER", x: 300, y: 300, scale: 1 },
];

/** A sector of speckle (values 0..120) under the labels, as in an ultrasound frame. */
function speckle(pixels: Uint8Array, channels: number): void {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let y = 150; y < 380; y++) {
    for (let x = 180; x < 500; x++) {
      const i = (y * 640 + x) * channels;
      if (Math.hypot(x - 340, y - 150) >= 230 || pixels[i] > 140) continue;
      pixels.fill(Math.round(rnd() * 120), i, i + channels);
    }
  }
}

/** The words no box overlaps (a box covering half the word, or half the box inside the word). */
function missed(words: Planted[], boxes: Box[]): string[] {
  return words.filter((w) => !boxes.some((b) => covered(w, b) >= 0.5 || covered(b, w) >= 0.5))
    .map((w) => w.text);
}

function show(boxes: TextBox[]): string {
  return boxes.map((b) => `${b.text}@${b.x},${b.y} ${b.width}x${b.height} (${b.confidence})`).join("; ");
}

for (const channels of [1, 3] as const) {
  Deno.test(`ocr: every planted word of a ${channels === 1 ? "grey" : "RGB"} 640x480 frame is boxed`, async () => {
    const { image, words } = renderImage(640, 480, channels, LABELS);
    const t0 = performance.now();
    const boxes = await findText(image);
    console.log(`findText: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    assert.deepEqual(missed(words, boxes), [], show(boxes));
    // Some words are also read (this blocky font reads badly: M and N come out as H), and boxed tightly.
    for (const text of ["DOE", "SMITH"]) {
      const w = words.find((p) => p.text === text)!;
      const b = boxes.find((b) => b.text === text);
      assert.ok(b, `${text} read: ${show(boxes)}`);
      assert.ok(iou(w, b) > 0.6, `${text}: ${show([b])}`);
      assert.ok(b.confidence > 0 && b.confidence <= 100);
    }
  });
}

Deno.test("ocr: small, dim and speckled text is boxed too", async () => {
  const { image, words } = renderImage(640, 480, 3, [...LABELS, ...HARD]);
  speckle(image.pixels, 3);
  const t0 = performance.now();
  const boxes = await findText(image);
  const seconds = (performance.now() - t0) / 1000;
  const lost = missed(words, boxes);
  console.log(`findText: ${seconds.toFixed(2)} s, ${words.length - lost.length}/${words.length} words boxed`);
  assert.deepEqual(lost, [], show(boxes));
});

// The words missed are the dimmest (grey 70 to 105 on a background of 5 to 60).
Deno.test("ocr: recall on a grid of 32 small words from dim (grey 70) to bright", async () => {
  const names = ["DOE", "JOHN", "MRN", "12345", "ACME", "SMITH", "JANE", "987654", "LIVER", "KIDNEY", "2024"];
  const labels: Label[] = [];
  for (let k = 0; k < 32; k++) {
    const g = 70 + ((k * 37) % 186);
    const [x, y] = [20 + (k % 4) * 150, 20 + Math.floor(k / 4) * 55];
    labels.push({ text: names[k % names.length], x, y, scale: k % 3 === 0 ? 2 : 1, color: [g, g, g] });
  }
  const { image, words } = renderImage(640, 480, 1, labels);
  const lost = missed(words, await findText(image));
  console.log(
    `${words.length - lost.length}/${words.length} words boxed; missed ${lost.join(", ") || "none"}`,
  );
  assert.ok(lost.length <= 3, lost.join(", "));
});

Deno.test("ocr: dark text on a light image, and both polarities at once", async () => {
  const { image, words } = renderImage(640, 480, 1, LABELS);
  const negative = { ...image, pixels: image.pixels.map((v) => 255 - v) };
  assert.deepEqual(missed(words, await findText(negative)), []);
  assert.deepEqual(missed(words, await findText(image, { polarity: "both", scale: 2 })), []);
});

Deno.test("ocr: an image without text gives no box, a malformed one an error", async () => {
  const { image } = renderImage(320, 240, 1, []);
  assert.deepEqual(await findText(image), []);
  await assert.rejects(
    findText({ width: 10, height: 10, channels: 3, pixels: new Uint8Array(100) }),
    /PixelError|not a 10x10x3 image/,
  );
});

Deno.test("ocr: Debian's tesseract reads the same words on the test image (cross-check)", async () => {
  const which = await new Deno.Command("sh", { args: ["-c", "command -v tesseract"], stdout: "null" })
    .output();
  if (!which.success) {
    console.log("skipped: the tesseract command is not installed (apt-get install tesseract-ocr)");
    return;
  }
  const { image, words } = renderImage(640, 480, 1, LABELS);
  const file = await Deno.makeTempFile({ suffix: ".pgm" });
  try {
    // The CLI thresholds as given: hand it dark ink on light paper, as findText does.
    await Deno.writeFile(file, toPnm({ ...image, pixels: image.pixels.map((v) => 255 - v) }));
    const out = await new Deno.Command("tesseract", {
      args: [file, "stdout", "--psm", "11", "-l", "eng", "tsv"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const boxes = new TextDecoder().decode(out.stdout).split("\n").map((l) => l.split("\t"))
      .filter((f) => f[0] === "5" && f[11]?.trim())
      .map((f) => ({
        x: +f[6],
        y: +f[7],
        width: +f[8],
        height: +f[9],
        text: f[11].trim(),
        confidence: +f[10],
      }));
    assert.deepEqual(missed(words, boxes), [], show(boxes));
    for (const word of ["DOE", "12345", "SMITH"]) assert.ok(boxes.some((b) => b.text === word), show(boxes));
  } finally {
    await Deno.remove(file);
  }
});

function findInWorker(
  image: unknown,
  binaries?: unknown,
): Promise<{ ok: boolean; boxes?: TextBox[]; error?: string }> {
  return askSandboxedWorker(new URL("./fixtures/ocr_worker.ts", import.meta.url), { image, binaries });
}

Deno.test("ocr sandbox: a worker that may read nothing finds text with the bytes it is handed, and is refused without", async () => {
  const { image, words } = renderImage(640, 480, 1, LABELS);
  const binaries = await ocrBinaries();
  const given = await findInWorker(image, binaries);
  assert.ok(given.ok, given.error);
  assert.deepEqual(missed(words, given.boxes!), []);

  const none = await findInWorker(image);
  assert.equal(none.ok, false);
  assert.match(
    none.error!,
    /PixelError: the OCR engine's WebAssembly and model could not be read .*Requires read access/,
  );
  assert.match(none.error!, /a sandboxed worker must be handed the bytes/);
});
