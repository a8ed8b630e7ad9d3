/**
 * Preview pictures for blanking: our PNG encoder read back by an independent decoder (a PNG reader
 * in Python: chunk CRCs, zlib, all five row filters), the display of monochrome (window, rescale,
 * signed, MONOCHROME1), palette, RGB and YBR_FULL frames, the region outlines (where, clipped at the
 * edges) and `previewPngs` on corpus files (checked against dcmtk's dcm2pnm where it is installed).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseDicom } from "../src/dicom/reader.ts";
import { readDicomFile } from "../src/dicom/read_file.ts";
import type { DataSet, DicomFile } from "../src/dicom/model.ts";
import type { PixelFormat } from "../src/pixels/format.ts";
import { encodePng } from "../src/pixels/png.ts";
import { displayFrame, drawOutline, OUTLINE_COLOUR, previewPngs, toRgb } from "../src/pixels/preview.ts";
import { tags } from "../src/standard/tags.ts";
import { buildDicom, type Node, tag } from "./fixtures/builder.ts";
import { CORPUS, hasTool, noteOnce, runTool } from "./helpers.ts";

/** A PNG reader independent of ours: checks signature, chunk order and CRCs, undoes all filters. */
const PY_PNG = `
import sys, zlib, struct, json, base64
d = sys.stdin.buffer.read()
assert d[:8] == b'\\x89PNG\\r\\n\\x1a\\n', 'signature'
p, idat, names = 8, b'', []
while p < len(d):
    n, = struct.unpack('>I', d[p:p+4]); t = d[p+4:p+8]; body = d[p+8:p+8+n]
    assert zlib.crc32(t + body) & 0xffffffff == struct.unpack('>I', d[p+8+n:p+12+n])[0], 'crc ' + t.decode()
    names.append(t.decode()); p += 12 + n
    if t == b'IHDR': w, h, depth, ct, cm, fm, il = struct.unpack('>IIBBBBB', body)
    if t == b'IDAT': idat += body
assert names[0] == 'IHDR' and names[-1] == 'IEND' and depth == 8 and cm == fm == il == 0
bpp = {0: 1, 2: 3}[ct]; stride = w * bpp; raw = zlib.decompress(idat); assert len(raw) == h * (stride + 1)
out, prev = bytearray(), bytearray(stride)
for r in range(h):
    f = raw[r * (stride + 1)]; line = bytearray(raw[r * (stride + 1) + 1:(r + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0; b = prev[i]; c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            q = a + b - c; pa, pb, pc = abs(q - a), abs(q - b), abs(q - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        else: assert f == 0, 'filter %d' % f
    out += line; prev = line
print(json.dumps({'width': w, 'height': h, 'channels': bpp, 'chunks': names,
                  'pixels': base64.b64encode(bytes(out)).decode()}))
`;

interface Decoded {
  width: number;
  height: number;
  channels: number;
  chunks: string[];
  pixels: Uint8Array;
}

let python: boolean | undefined;

/** Our PNG read back by the Python reader, or undefined (with one printed line) without Python. */
async function readPng(png: Uint8Array): Promise<Decoded | undefined> {
  python ??= await hasTool("python3", ["-c", "import zlib, struct, json, base64"]);
  if (!python) {
    noteOnce("pixels_preview: python3 missing: PNGs are not read back by an independent decoder");
    return undefined;
  }
  const child = new Deno.Command("python3", {
    args: ["-c", PY_PNG],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  const w = child.stdin.getWriter();
  await w.write(png);
  await w.close();
  const out = await child.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const j = JSON.parse(new TextDecoder().decode(out.stdout));
  const bin = atob(j.pixels);
  return { ...j, pixels: Uint8Array.from(bin, (c) => c.charCodeAt(0)) };
}

function fmtOf(p: Partial<PixelFormat> & { rows: number; columns: number }): PixelFormat {
  return {
    samplesPerPixel: 1,
    bitsAllocated: 8,
    bitsStored: 8,
    highBit: 7,
    signed: false,
    photometric: "MONOCHROME2",
    planar: 0,
    frames: 1,
    ...p,
  };
}

/** A DICOM file in memory from elements (Pixel Data included). */
function dicom(nodes: Node[]): DicomFile {
  return parseDicom(buildDicom(nodes)).file;
}

function dataSet(nodes: Node[]): DataSet {
  return dicom(nodes).dataset;
}

Deno.test("encodePng: greyscale and RGB images read back exactly, IDAT split, CRCs right", async () => {
  // A gradient with rows that suit each filter, and noise (incompressible: several IDAT chunks).
  const w = 37, h = 11;
  const grey = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      grey[y * w + x] = y % 3 === 0 ? x * 7 : (x * y * 13) & 255;
    }
  }
  const back = await readPng(encodePng(w, h, 1, grey));
  if (!back) return;
  assert.deepEqual([back.width, back.height, back.channels], [w, h, 1]);
  assert.deepEqual(back.pixels, grey);

  let seed = 12345;
  const noise = new Uint8Array(600 * 500 * 3).map(() =>
    (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24
  );
  const png = encodePng(600, 500, 3, noise);
  const rgb = await readPng(png);
  assert.deepEqual([rgb!.width, rgb!.height, rgb!.channels], [600, 500, 3]);
  assert.ok(rgb!.chunks.filter((c) => c === "IDAT").length > 1, rgb!.chunks.join(" "));
  assert.deepEqual(rgb!.pixels, noise);
  if (await hasTool("file", ["--version"])) {
    const path = await Deno.makeTempFile({ suffix: ".png" });
    try {
      await Deno.writeFile(path, png);
      const r = await runTool("file", ["-b", path]);
      assert.match(r!.stdout, /PNG image data, 600 x 500, 8-bit\/color RGB/);
    } finally {
      await Deno.remove(path);
    }
  }
  assert.throws(() => encodePng(2, 2, 3, new Uint8Array(11)), /11 bytes given/);
  assert.throws(() => encodePng(0, 2, 1, new Uint8Array(0)), /cannot be made/);
});

Deno.test("displayFrame: min-max, dataset window after rescale, signed 12-bit, MONOCHROME1 inverted", () => {
  // A 16-bit gradient 0..1020 in steps of 4: min-max maps it onto 0..255.
  const fmt = fmtOf({ rows: 1, columns: 256, bitsAllocated: 16, bitsStored: 16, highBit: 15 });
  const bytes = new Uint8Array(512);
  const v = new DataView(bytes.buffer);
  for (let i = 0; i < 256; i++) v.setUint16(i * 2, i * 4, true);
  const img = displayFrame({ bytes, photometric: "MONOCHROME2" }, fmt);
  assert.equal(img.channels, 1);
  assert.deepEqual(Array.from(img.pixels), Array.from({ length: 256 }, (_, i) => i));
  const inv = displayFrame({ bytes, photometric: "MONOCHROME1" }, fmt);
  assert.deepEqual(Array.from(inv.pixels), Array.from({ length: 256 }, (_, i) => 255 - i));

  // Rescale 2x - 100 and window 300/101 (bottom 249.5 .. top 349.5): raw 175 -> 250 -> 0.5 * 2.55.
  const ds = dataSet([
    { tag: tags.WindowCenter, vr: "DS", value: ["300", "40"] },
    { tag: tags.WindowWidth, vr: "DS", value: ["101", "400"] },
    { tag: tags.RescaleSlope, vr: "DS", value: "2" },
    { tag: tags.RescaleIntercept, vr: "DS", value: "-100" },
  ]);
  const raw = [0, 174, 175, 200, 224, 225, 1000];
  const win = new Uint8Array(raw.length * 2);
  raw.forEach((r, i) => new DataView(win.buffer).setUint16(i * 2, r, true));
  const shown = displayFrame({ bytes: win, photometric: "MONOCHROME2" }, fmtOf({ ...fmt, columns: 7 }), ds);
  // modality: -100, 248, 250, 300, 348, 350, 1900
  assert.deepEqual(Array.from(shown.pixels), [0, 0, 1, 129, 251, 255, 255]);
  assert.deepEqual(shown.window, { center: 300, width: 101 });

  // Signed 12 bits in 16 (garbage above the high bit): -2048 .. 2047 sign-extended.
  const sfmt = fmtOf({ rows: 1, columns: 3, bitsAllocated: 16, bitsStored: 12, highBit: 11, signed: true });
  const s = new Uint8Array(6);
  const sv = new DataView(s.buffer);
  sv.setUint16(0, 0xf800, true); // -2048 with the top nibble set
  sv.setUint16(2, 0xa000, true); // 0, garbage above
  sv.setUint16(4, 0x07ff, true); // 2047
  assert.deepEqual(Array.from(displayFrame({ bytes: s, photometric: "MONOCHROME2" }, sfmt).pixels), [
    0,
    128,
    255,
  ]);
});

Deno.test("displayFrame: RGB as is, YBR_FULL converted, PALETTE COLOR through the palette", () => {
  const fmt = fmtOf({ rows: 1, columns: 2, samplesPerPixel: 3, photometric: "RGB" });
  const rgb = Uint8Array.of(10, 20, 30, 200, 100, 0);
  assert.deepEqual(displayFrame({ bytes: rgb, photometric: "RGB" }, fmt).pixels, rgb);
  // YBR_FULL of pure red (76, 85, 255) and of grey (128, 128, 128).
  const ybr = Uint8Array.of(76, 85, 255, 128, 128, 128);
  const shown = displayFrame({ bytes: ybr, photometric: "YBR_FULL" }, { ...fmt, photometric: "YBR_FULL" });
  assert.equal(shown.channels, 3);
  assert.ok(
    Math.abs(shown.pixels[0] - 255) <= 1 && shown.pixels[1] <= 1 && shown.pixels[2] <= 1,
    `${shown.pixels}`,
  );
  assert.deepEqual(Array.from(shown.pixels.subarray(3)), [128, 128, 128]);
  assert.deepEqual(ybr, Uint8Array.of(76, 85, 255, 128, 128, 128), "the frame is not changed");

  // A 4-entry palette starting at index 10, 16-bit entries.
  const lut = (vals: number[]) => new Uint8Array(Uint16Array.from(vals.map((x) => x * 257)).buffer);
  const ds = dataSet([
    { tag: tags.RedPaletteColorLookupTableDescriptor, vr: "US", value: [4, 10, 16] },
    { tag: tags.GreenPaletteColorLookupTableDescriptor, vr: "US", value: [4, 10, 16] },
    { tag: tags.BluePaletteColorLookupTableDescriptor, vr: "US", value: [4, 10, 16] },
    { tag: tags.RedPaletteColorLookupTableData, vr: "OW", value: lut([255, 0, 0, 9]) },
    { tag: tags.GreenPaletteColorLookupTableData, vr: "OW", value: lut([0, 255, 0, 9]) },
    { tag: tags.BluePaletteColorLookupTableData, vr: "OW", value: lut([0, 0, 255, 9]) },
  ]);
  const pfmt = fmtOf({ rows: 1, columns: 4, photometric: "PALETTE COLOR" });
  const pal = displayFrame({ bytes: Uint8Array.of(10, 11, 12, 13), photometric: "PALETTE COLOR" }, pfmt, ds);
  assert.deepEqual(Array.from(pal.pixels), [255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9]);
  assert.throws(
    () => displayFrame({ bytes: Uint8Array.of(1, 2, 3, 4), photometric: "PALETTE COLOR" }, pfmt),
    /palette/,
  );
  assert.throws(() => displayFrame({ bytes: rgb, photometric: "HSV" }, fmt), /HSV/);
  assert.throws(() => displayFrame({ bytes: Uint8Array.of(1), photometric: "MONOCHROME2" }, pfmt), /bytes/);
});

Deno.test("drawOutline: two pixels around the region, clipped at the picture's edges", () => {
  const w = 10, h = 8;
  const red = (rgb: Uint8Array) =>
    Array.from(
      { length: h },
      (_, y) =>
        Array.from({ length: w }, (_, x) =>
          rgb[(y * w + x) * 3] === 255 && rgb[(y * w + x) * 3 + 1] === 0 ? "#" : ".")
          .join(""),
    );
  const a = new Uint8Array(w * h * 3);
  drawOutline(a, w, h, { x: 3, y: 3, width: 3, height: 2 });
  assert.deepEqual(red(a), [
    "..........",
    ".#######..",
    ".#######..",
    ".##...##..",
    ".##...##..",
    ".#######..",
    ".#######..",
    "..........",
  ]);
  const b = new Uint8Array(w * h * 3);
  drawOutline(b, w, h, { x: 0, y: 0, width: 4, height: 1 }); // top left corner: clipped
  drawOutline(b, w, h, { x: 8, y: 6, width: 2, height: 2 }); // bottom right corner: clipped
  assert.deepEqual(red(b), [
    "....##....",
    "######....",
    "######....",
    "..........",
    "......####",
    "......####",
    "......##..",
    "......##..",
  ]);
  assert.deepEqual(OUTLINE_COLOUR, [255, 0, 0]);
});

/** A 16 x 12 MONOCHROME1 8-bit file: a horizontal gradient. */
function gradientFile(): { file: DicomFile; frame: Uint8Array } {
  const frame = new Uint8Array(16 * 12);
  for (let y = 0; y < 12; y++) for (let x = 0; x < 16; x++) frame[y * 16 + x] = x * 17;
  const file = dicom([
    { tag: tags.SamplesPerPixel, vr: "US", value: 1 },
    { tag: tags.PhotometricInterpretation, vr: "CS", value: "MONOCHROME1" },
    { tag: tags.Rows, vr: "US", value: 12 },
    { tag: tags.Columns, vr: "US", value: 16 },
    { tag: tags.BitsAllocated, vr: "US", value: 8 },
    { tag: tags.BitsStored, vr: "US", value: 8 },
    { tag: tags.HighBit, vr: "US", value: 7 },
    { tag: tags.PixelRepresentation, vr: "US", value: 0 },
    { tag: tag(0x7fe0, 0x0010), vr: "OB", value: frame },
  ]);
  return { file, frame };
}

Deno.test("previewPngs: before and after of a fixture, blanked by us or given, outlines on both", async () => {
  const { file, frame } = gradientFile();
  const region = { x: 4, y: 3, width: 5, height: 4 };
  const { before, after } = await previewPngs(file, [region]);
  const b = await readPng(before);
  if (!b) return;
  const a = (await readPng(after))!;
  const px = (img: Decoded, x: number, y: number) =>
    Array.from(img.pixels.subarray((y * 16 + x) * 3, (y * 16 + x) * 3 + 3));
  assert.deepEqual([b.width, b.height, b.channels], [16, 12, 3]);
  // MONOCHROME1: 0 is white, 255 black; min-max of 0..255 is the identity.
  assert.deepEqual(px(b, 0, 0), [255, 255, 255]);
  assert.deepEqual(px(b, 15, 11), [0, 0, 0]);
  assert.deepEqual(px(b, 5, 4), [255 - 5 * 17, 255 - 5 * 17, 255 - 5 * 17]);
  assert.deepEqual(px(a, 5, 4), [0, 0, 0], "blanked in the picture");
  assert.deepEqual(px(a, 0, 0), [255, 255, 255], "outside unchanged");
  for (const img of [a, b]) {
    assert.deepEqual(px(img, 2, 1), [255, 0, 0], "outline corner");
    assert.deepEqual(px(img, 10, 8), [255, 0, 0], "outline corner");
    assert.deepEqual(px(img, 11, 9), px(b, 11, 9), "outside the outline");
  }
  // A blanked frame given (pixels set to 0: white in MONOCHROME1), shown through the same window.
  const blanked = frame.slice();
  for (let y = 3; y < 7; y++) blanked.fill(0, y * 16 + 4, y * 16 + 9);
  blanked[0] = 128; // a change outside the region shows
  const given = (await readPng((await previewPngs(file, [region], blanked)).after))!;
  assert.deepEqual(px(given, 5, 4), [255, 255, 255]);
  assert.deepEqual(px(given, 0, 0), [127, 127, 127]);
  assert.deepEqual(px(given, 2, 1), [255, 0, 0]);
  await assert.rejects(() => previewPngs(file, [region], new Uint8Array(3)), /3 bytes/);
});

/** A binary PGM (P5) or PPM (P6) from dcmj2pnm: its samples. */
function pnmSamples(bytes: Uint8Array): { channels: 1 | 3; samples: Uint8Array } {
  let at = 0;
  for (let lines = 0; lines < 3; at++) if (bytes[at] === 0x0a) lines++;
  return { channels: bytes[1] === 0x36 ? 3 : 1, samples: bytes.subarray(at) };
}

Deno.test("corpus: previewPngs of YBR, palette and CT files; palette and colour as dcmtk renders them", async () => {
  const names = ["examples_ybr_color.dcm", "examples_palette.dcm", "CT_small.dcm"];
  const dcm2pnm = await hasTool("dcmj2pnm", ["--version"]);
  if (!dcm2pnm) noteOnce("pixels_preview: dcmj2pnm missing: corpus previews are not compared with dcmtk");
  const keep = Deno.env.get("DCMTIDY_PREVIEW_DIR"); // to look at the pictures
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-preview-" });
  try {
    for (const name of names) {
      const path = join(CORPUS, name);
      let file: DicomFile;
      try {
        file = await readDicomFile(path);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
        noteOnce(`pixels_preview: ${path} not found: its preview check is skipped`);
        continue;
      }
      const plain = await previewPngs(file, []);
      const region = { x: 0, y: 0, width: 60, height: 20 };
      const boxed = await previewPngs(file, [region]);
      if (keep) {
        await Deno.writeFile(join(keep, name.replace(".dcm", "_before.png")), boxed.before);
        await Deno.writeFile(join(keep, name.replace(".dcm", "_after.png")), boxed.after);
      }
      const p = await readPng(plain.before);
      if (!p) return;
      const a = (await readPng(boxed.after))!;
      assert.equal(a.channels, 3);
      const w = p.width;
      for (let y = 0; y < 20; y++) {
        for (let x = 0; x < 60; x++) assert.equal(a.pixels[(y * w + x) * 3 + 1], 0, `${name} ${x},${y}`);
      }
      assert.deepEqual(Array.from(a.pixels.subarray((21 * w + 61) * 3, (21 * w + 62) * 3)), [255, 0, 0]);
      if (!dcm2pnm) continue;
      // dcmtk renders colour as PPM, monochrome as PGM (CT_small has no window: min-max, +Wm).
      const ppm = join(dir, "frame.pnm");
      const args = ["+op", "+F", "1", ...(name === "CT_small.dcm" ? ["+Wm"] : []), path, ppm];
      const r = await runTool("dcmj2pnm", args);
      assert.equal(r?.code, 0, r?.stderr);
      const { channels, samples: theirs } = pnmSamples(await Deno.readFile(ppm));
      const ours = p.pixels;
      assert.equal(ours.length, (theirs.length * 3) / channels, name);
      let worst = 0;
      for (let i = 0; i < ours.length; i++) {
        worst = Math.max(worst, Math.abs(ours[i] - theirs[channels === 3 ? i : Math.floor(i / 3)]));
      }
      assert.ok(worst <= 1, `${name}: off by ${worst} from dcmj2pnm`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("toRgb repeats grey", () => {
  const img = { width: 2, height: 1, channels: 1 as const, pixels: Uint8Array.of(7, 9) };
  assert.deepEqual(Array.from(toRgb(img)), [7, 7, 7, 9, 9, 9]);
});
