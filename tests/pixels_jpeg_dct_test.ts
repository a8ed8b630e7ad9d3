/**
 * Tests of the JPEG DCT decoder (`src/pixels/_jpeg_dct.ts`): images built by the fixture builder are
 * compressed with DCMTK's dcmcjpeg (baseline, extended 8 and 12 bits, progressive, colour with
 * several subsamplings), and the decoder's samples must equal dcmdjpeg's, bit for bit. The real
 * file JPGExtended.dcm of the shared corpus is compared the same way. Also: refusals and corrupt
 * streams end in a PixelError.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildDicom, type Node, tag } from "./fixtures/builder.ts";
import { decodeJpegDct } from "../src/pixels/_jpeg_dct.ts";
import { PixelError } from "../src/pixels/errors.ts";
import { CORPUS, hasTool, noteOnce, runTool } from "./helpers.ts";

/** Deterministic pseudo-random numbers in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A smooth gradient plus noise plus sharp-edged rectangles, in 0..max. */
function testSamples(width: number, height: number, max: number, seed: number): number[] {
  const rand = rng(seed);
  const out: number[] = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v = ((x + y) / (width + height)) * max * 0.7 + rand() * max * 0.1;
      if (x > width / 4 && x < width / 2 && y > height / 5) v = max * 0.95;
      if ((x >> 3) % 3 === 0 && y > (height * 2) / 3) v = rand() * max;
      out.push(Math.max(0, Math.min(max, Math.round(v))));
    }
  }
  return out;
}

function imageDataset(opts: { width: number; height: number; bits: 8 | 12; rgb?: boolean }): Node[] {
  const { width, height, bits, rgb } = opts;
  const max = (1 << bits) - 1;
  const spp = rgb ? 3 : 1;
  let pixel: Uint8Array;
  if (bits === 8) {
    const planes = Array.from({ length: spp }, (_, c) => testSamples(width, height, max, 7 + c));
    pixel = new Uint8Array(width * height * spp);
    for (let i = 0; i < width * height; i++) for (let c = 0; c < spp; c++) pixel[i * spp + c] = planes[c][i];
  } else {
    pixel = new Uint8Array(new Uint16Array(testSamples(width, height, max, 3)).buffer);
  }
  return [
    { tag: tag(0x0008, 0x0016), vr: "UI", value: "1.2.840.10008.5.1.4.1.1.7" },
    { tag: tag(0x0008, 0x0018), vr: "UI", value: "1.2.826.0.1.3680043.10.1000.77.1" },
    { tag: tag(0x0008, 0x0060), vr: "CS", value: "OT" },
    { tag: tag(0x0028, 0x0002), vr: "US", value: spp },
    { tag: tag(0x0028, 0x0004), vr: "CS", value: rgb ? "RGB" : "MONOCHROME2" },
    ...(rgb ? [{ tag: tag(0x0028, 0x0006), vr: "US", value: 0 }] : []),
    { tag: tag(0x0028, 0x0010), vr: "US", value: height },
    { tag: tag(0x0028, 0x0011), vr: "US", value: width },
    { tag: tag(0x0028, 0x0100), vr: "US", value: bits === 8 ? 8 : 16 },
    { tag: tag(0x0028, 0x0101), vr: "US", value: bits },
    { tag: tag(0x0028, 0x0102), vr: "US", value: bits - 1 },
    { tag: tag(0x0028, 0x0103), vr: "US", value: 0 },
    { tag: tag(0x7fe0, 0x0010), vr: bits === 8 ? "OB" : "OW", value: pixel },
  ];
}

/** Finds the top-level Pixel Data header (explicit VR little endian): its last occurrence. */
function pixelDataAt(file: Uint8Array): number {
  for (let i = file.length - 12; i >= 132; i--) {
    if (file[i] === 0xe0 && file[i + 1] === 0x7f && file[i + 2] === 0x10 && file[i + 3] === 0x00) {
      const vr = String.fromCharCode(file[i + 4], file[i + 5]);
      if (vr === "OB" || vr === "OW") return i;
    }
  }
  throw new Error("no Pixel Data");
}

/** The first frame's codestream of an encapsulated Pixel Data (items: FFFE,E000 + 4-byte length). */
function firstFragment(file: Uint8Array): Uint8Array {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let p = pixelDataAt(file);
  assert.equal(view.getUint32(p + 8, true), 0xffffffff, "encapsulated Pixel Data has undefined length");
  p += 12;
  assert.equal(view.getUint32(p, true), 0xe000fffe);
  p += 8 + view.getUint32(p + 4, true); // the basic offset table item
  assert.equal(view.getUint32(p, true), 0xe000fffe);
  return file.subarray(p + 8, p + 8 + view.getUint32(p + 4, true));
}

/** Native Pixel Data samples (8 or 16 bits little endian). */
function nativeSamples(file: Uint8Array, bytesPerSample: number): number[] {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const p = pixelDataAt(file);
  const length = view.getUint32(p + 8, true);
  const out: number[] = [];
  for (let i = 0; i < length / bytesPerSample; i++) {
    out.push(bytesPerSample === 1 ? file[p + 12 + i] : view.getUint16(p + 12 + 2 * i, true));
  }
  return out;
}

/** dcmdjpeg's samples of a compressed DICOM file, colour kept as stored, by pixel. */
async function dcmtkSamples(dir: string, compressed: string, bytesPerSample: number): Promise<number[]> {
  const out = join(dir, `${compressed.replace(/.*\//, "")}.raw.dcm`);
  const r = await runTool("dcmdjpeg", ["+cn", "+px", compressed, out]);
  assert.equal(r?.code, 0, r?.stderr);
  return nativeSamples(await Deno.readFile(out), bytesPerSample);
}

async function compress(dir: string, name: string, dataset: Node[], options: string[]): Promise<string> {
  const input = join(dir, `${name}.in.dcm`);
  const output = join(dir, `${name}.jpg.dcm`);
  await Deno.writeFile(input, buildDicom(dataset));
  const r = await runTool("dcmcjpeg", [...options, input, output]);
  assert.equal(r?.code, 0, r?.stderr);
  return output;
}

/** Markers of a codestream's header, e.g. 0xc1 for SOF1. */
function hasMarker(stream: Uint8Array, marker: number): boolean {
  for (let i = 0; i + 1 < stream.length; i++) if (stream[i] === 0xff && stream[i + 1] === marker) return true;
  return false;
}

function assertSame(actual: ArrayLike<number>, expected: number[], label: string): void {
  // An odd number of 8-bit samples is padded to even length in Pixel Data.
  assert.ok(
    expected.length - actual.length === 0 || expected.length - actual.length === 1,
    `${label}: count`,
  );
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) {
      assert.fail(`${label}: sample ${i} is ${actual[i]}, dcmdjpeg says ${expected[i]}`);
    }
  }
}

const CASES: { name: string; bits: 8 | 12; rgb?: boolean; options: string[]; sof: number }[] = [
  { name: "mono12-extended", bits: 12, options: ["+ee"], sof: 0xc1 },
  { name: "mono12-extended-q50", bits: 12, options: ["+ee", "+q", "50"], sof: 0xc1 },
  { name: "mono12-progressive", bits: 12, options: ["+ep"], sof: 0xc2 },
  { name: "mono8-baseline", bits: 8, options: ["+eb"], sof: 0xc0 },
  { name: "mono8-baseline-standard-tables", bits: 8, options: ["+eb", "-ho", "+q", "75"], sof: 0xc0 },
  { name: "mono8-extended", bits: 8, options: ["+ee"], sof: 0xc1 },
  { name: "mono8-progressive", bits: 8, options: ["+ep"], sof: 0xc2 },
  { name: "mono8-spectral", bits: 8, options: ["+es"], sof: 0xc2 },
  { name: "rgb-422", bits: 8, rgb: true, options: ["+eb", "+s2"], sof: 0xc0 },
  { name: "rgb-444", bits: 8, rgb: true, options: ["+eb", "+s4"], sof: 0xc0 },
  { name: "rgb-422-full", bits: 8, rgb: true, options: ["+eb", "+n2"], sof: 0xc0 },
  { name: "rgb-411", bits: 8, rgb: true, options: ["+eb", "+n1"], sof: 0xc0 },
  { name: "rgb-as-rgb", bits: 8, rgb: true, options: ["+eb", "+cr"], sof: 0xc0 },
  { name: "rgb-progressive-422", bits: 8, rgb: true, options: ["+ep", "+s2"], sof: 0xc2 },
];

Deno.test("decodeJpegDct: equals dcmdjpeg on dcmcjpeg's baseline, extended and progressive streams", async () => {
  if (!(await hasTool("dcmcjpeg")) || !(await hasTool("dcmdjpeg"))) return;
  const dir = await Deno.makeTempDir({ prefix: "jpeg_dct_" });
  try {
    for (const c of CASES) {
      const [width, height] = c.rgb ? [53, 37] : [67, 45];
      const file = await compress(dir, c.name, imageDataset({ width, height, bits: c.bits, rgb: c.rgb }), [
        ...c.options,
      ]);
      const stream = firstFragment(await Deno.readFile(file));
      assert.ok(hasMarker(stream, c.sof), `${c.name}: SOF 0x${c.sof.toString(16)} expected`);
      const image = decodeJpegDct(stream);
      assert.equal(image.width, width);
      assert.equal(image.height, height);
      assert.equal(image.precision, c.bits);
      assert.equal(image.components, c.rgb ? 3 : 1);
      // libjpeg writes JFIF for grey and YCbCr, an Adobe segment (transform 0) for RGB.
      const asRgb = c.options.includes("+cr");
      assert.equal(image.jfif, !asRgb, `${c.name}: JFIF`);
      assert.equal(image.adobeTransform, asRgb ? 0 : undefined, `${c.name}: Adobe transform`);
      assert.deepEqual(image.componentIds, c.rgb ? [asRgb ? 82 : 1, asRgb ? 71 : 2, asRgb ? 66 : 3] : [1]);
      assert.ok(c.bits === 8 ? image.data instanceof Uint8Array : image.data instanceof Uint16Array);
      assertSame(image.data, await dcmtkSamples(dir, file, c.bits === 8 ? 1 : 2), c.name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("decodeJpegDct: fill bytes and a missing EOI are tolerated, damaged data throws a PixelError", async () => {
  if (!(await hasTool("dcmcjpeg"))) return;
  const dir = await Deno.makeTempDir({ prefix: "jpeg_dct_" });
  try {
    const file = await compress(dir, "m12", imageDataset({ width: 67, height: 45, bits: 12 }), ["+ee"]);
    const stream = firstFragment(await Deno.readFile(file));
    const reference = decodeJpegDct(stream);
    const sos = stream.findIndex((b, i) => b === 0xff && stream[i + 1] === 0xda);
    const padded = new Uint8Array([...stream.subarray(0, sos), 0xff, 0xff, 0xff, ...stream.subarray(sos)]);
    assert.deepEqual(decodeJpegDct(padded).data, reference.data);
    // Damaged data decodes or ends in a PixelError, never in another error or a hang.
    const rand = rng(9);
    for (let i = 0; i < 40; i++) {
      const damaged = stream.slice(0, i % 4 === 0 ? Math.floor(rand() * stream.length) : stream.length);
      for (let k = 0; k < 3; k++) damaged[Math.floor(rand() * damaged.length)] = Math.floor(rand() * 256);
      try {
        decodeJpegDct(damaged);
      } catch (e) {
        assert.ok(e instanceof PixelError, String(e));
      }
    }
    let end = stream.length;
    while (!(stream[end - 2] === 0xff && stream[end - 1] === 0xd9)) end--;
    assert.deepEqual(decodeJpegDct(stream.subarray(0, end - 2)).data, reference.data);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("decodeJpegDct: a restart interval resets the DC prediction", () => {
  // 16x8, one component, two MCUs, DRI 1. DC table: "00" -> category 0, "01" -> category 4; AC
  // table: "0" -> EOB. Each MCU is "01" "1000" (DC difference +8) "0" (EOB), padded with 1s: 0x61.
  // Quantization 1: DC 8 gives sample 128 + 1 in every MCU, as the prediction restarts at 0.
  const dqt = [0xff, 0xdb, 0, 67, 0, ...new Array(64).fill(1)];
  const sof = [0xff, 0xc0, 0, 11, 8, 0, 8, 0, 16, 1, 1, 0x11, 0];
  const counts = (n: number[]) => [...n, ...new Array(16 - n.length).fill(0)];
  const dht = [
    0xff,
    0xc4,
    0,
    2 + 17 + 2 + 17 + 1,
    0x00,
    ...counts([0, 2]),
    0x00,
    0x04,
    0x10,
    ...counts([1]),
    0x00,
  ];
  const dri = [0xff, 0xdd, 0, 4, 0, 1];
  const sos = [0xff, 0xda, 0, 8, 1, 1, 0x00, 0, 63, 0];
  const data = [0x61, 0xff, 0xd0, 0x61];
  const bytes = new Uint8Array([0xff, 0xd8, ...dqt, ...sof, ...dht, ...dri, ...sos, ...data, 0xff, 0xd9]);
  const image = decodeJpegDct(bytes);
  assert.deepEqual([...image.data], new Array(128).fill(129));
  // Without the DRI, the second MCU (bits follow on, no padding) predicts from the first: DC 16.
  const noDri = new Uint8Array([0xff, 0xd8, ...dqt, ...sof, ...dht, ...sos, 0x60, 0xc3, 0xff, 0xd9]);
  const row = [...new Array(8).fill(129), ...new Array(8).fill(130)];
  assert.deepEqual([...decodeJpegDct(noDri).data], new Array(8).fill(row).flat());
});

/** Corpus files with JPEG DCT Pixel Data: 12-bit extended, and 8-bit colour with 4:2:0 and 4:4:4. */
const CORPUS_FILES = [
  "JPGExtended.dcm",
  "JPEGwithIcon.dcm",
  "examples_ybr_color.dcm",
  "SC_rgb_jpeg_dcmtk.dcm",
];

Deno.test("decodeJpegDct: corpus files (JPGExtended.dcm and colour ones) equal dcmdjpeg", async () => {
  const dir = await Deno.makeTempDir({ prefix: "jpeg_dct_" });
  try {
    for (const name of CORPUS_FILES) {
      const path = join(CORPUS, name);
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(path);
      } catch {
        noteOnce(`../shared/corpus/${name} not found: its check is skipped`);
        continue;
      }
      if (!(await hasTool("dcmdjpeg"))) return;
      const image = decodeJpegDct(firstFragment(bytes));
      const expected = await dcmtkSamples(dir, path, image.precision === 8 ? 1 : 2);
      const frame = image.width * image.height * image.components;
      assertSame(image.data, expected.slice(0, frame + (frame % 2)), name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("decodeJpegDct: refuses what it does not support, and corrupt streams, with a PixelError", () => {
  const sof = (marker: number, precision = 8) =>
    new Uint8Array([0xff, 0xd8, 0xff, marker, 0, 11, precision, 0, 8, 0, 8, 1, 1, 0x11, 0, 0xff, 0xd9]);
  assert.throws(
    () => decodeJpegDct(sof(0xc9)),
    (e) => e instanceof PixelError && /arithmetic/.test(e.message),
  );
  assert.throws(() => decodeJpegDct(sof(0xc3)), (e) => e instanceof PixelError && /lossless/.test(e.message));
  assert.throws(
    () => decodeJpegDct(sof(0xc1, 16)),
    (e) => e instanceof PixelError && /16-bit/.test(e.message),
  );
  assert.throws(() => decodeJpegDct(new Uint8Array([1, 2, 3, 4])), PixelError);
  assert.throws(() => decodeJpegDct(new Uint8Array([0xff, 0xd8, 0xff, 0xdb, 0, 67, 0])), /truncated/);
  // Random damage never hangs and either decodes or throws a PixelError.
  const rand = rng(42);
  const base = sof(0xc0);
  for (let i = 0; i < 200; i++) {
    const bytes = base.slice();
    bytes[2 + Math.floor(rand() * (bytes.length - 2))] = Math.floor(rand() * 256);
    try {
      decodeJpegDct(bytes);
    } catch (e) {
      assert.ok(e instanceof PixelError, String(e));
    }
  }
});
