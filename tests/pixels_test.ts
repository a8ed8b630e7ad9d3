/**
 * The pixel layer against independent decoders: every compressed file of ../shared/corpus that
 * dcmtk (dcmdjpeg, dcmdjpls, dcmdrle) or gdcm (gdcmconv --raw) decodes is transcoded by us to
 * explicit VR little endian with exactly their pixels; our lossless encoders round-trip bit-exact
 * and dcmtk reads our JPEG-LS; a lossy source keeps its lossy history. Fixture-based checks run
 * without ../shared.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { deflateRawSync } from "node:zlib";
import { readDicomFile } from "../src/dicom/read_file.ts";
import { writeDicomFile } from "../src/dicom/write_file.ts";
import type { DicomFile } from "../src/dicom/model.ts";
import { decodeStrings, valueBytes } from "../src/dicom/values.ts";
import { decodeFrame, prepareDecoder } from "../src/pixels/decode.ts";
import { ybrFullToRgb } from "../src/pixels/color.ts";
import { readPixelFormat } from "../src/pixels/format.ts";
import { openPixelSource } from "../src/pixels/source.ts";
import { parseTargetSyntax } from "../src/pixels/syntaxes.ts";
import { transcode } from "../src/pixels/transcode.ts";
import { tags } from "../src/standard/tags.ts";
import { encodeFrame, prepareEncoder } from "../src/pixels/encode.ts";
import { buildDicom, type Node, sampleDataset, tag } from "./fixtures/builder.ts";
import { pixelFormat, readFrames } from "../src/nifti/pixels.ts";
import { corpusFiles, hasTool, noteOnce, runTool } from "./helpers.ts";

const EXPLICIT_LE = "1.2.840.10008.1.2.1";

/** A file's frames as stored-bit samples (masked, so garbage above High Bit does not count). */
async function frames(file: DicomFile): Promise<{ photometric: string; frames: number[][] }> {
  const fmt = readPixelFormat(file.dataset);
  const src = openPixelSource(file, fmt);
  try {
    await prepareDecoder(src);
    const out: number[][] = [];
    let photometric = fmt.photometric;
    for (let i = 0; i < fmt.frames; i++) {
      const d = decodeFrame(src, i);
      photometric = d.photometric;
      const bytes = d.photometric === "YBR_FULL" ? ybrFullToRgb(d.bytes.slice()) : d.bytes;
      if (d.photometric === "YBR_FULL") photometric = "RGB";
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const width = fmt.bitsAllocated / 8;
      const mask = fmt.bitsStored >= 32 ? 0xffffffff : 2 ** fmt.bitsStored - 1;
      const samples: number[] = [];
      for (let k = 0; k + width <= bytes.length; k += width) {
        const v = width === 1 ? bytes[k] : width === 2 ? view.getUint16(k, true) : view.getUint32(k, true);
        samples.push((v >>> (fmt.highBit + 1 - fmt.bitsStored)) & mask);
      }
      out.push(samples);
    }
    return { photometric, frames: out };
  } finally {
    src.close();
  }
}

/** The decoder of dcmtk or gdcm for a transfer syntax. */
function referenceFor(uid: string): [string, (i: string, o: string) => string[]] {
  if (uid === "1.2.840.10008.1.2.5") return ["dcmdrle", (i, o) => [i, o]];
  if (uid === "1.2.840.10008.1.2.4.80" || uid === "1.2.840.10008.1.2.4.81") {
    return ["dcmdjpls", (i, o) => [i, o]];
  }
  if (/^1\.2\.840\.10008\.1\.2\.4\.(50|51|57|70)$/.test(uid)) return ["dcmdjpeg", (i, o) => [i, o]];
  return ["gdcmconv", (i, o) => ["--raw", i, o]];
}

/** Our transcoding to `to`, written to `dest`. */
async function ourTranscode(path: string, to: string, dest: string): Promise<void> {
  const file = await readDicomFile(path);
  const t = await transcode(file, to);
  try {
    await writeDicomFile(file, dest, { overwrite: true });
  } finally {
    t.close();
  }
}

function firstDiff(a: number[][], b: number[][]): string | undefined {
  if (a.length !== b.length) return `${a.length} frames vs ${b.length}`;
  for (let f = 0; f < a.length; f++) {
    if (a[f].length !== b[f].length) return `frame ${f}: ${a[f].length} samples vs ${b[f].length}`;
    for (let i = 0; i < a[f].length; i++) {
      if (a[f][i] !== b[f][i]) return `frame ${f} sample ${i}: ${a[f][i]} vs ${b[f][i]}`;
    }
  }
  return undefined;
}

Deno.test("corpus: compressed files transcode to explicit VR LE with exactly dcmtk's or gdcm's pixels", async () => {
  const paths = await corpusFiles();
  if (paths.length === 0) return;
  if (!(await hasTool("dcmdjpeg", ["--version"])) || !(await hasTool("gdcmconv", ["--version"]))) {
    noteOnce("pixels: dcmtk or gdcmconv missing: the corpus transcoding test is skipped");
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-pixels-" });
  const problems: string[] = [];
  const compared: string[] = [];
  const theyFail: string[] = [];
  try {
    for (const [n, path] of paths.entries()) {
      let file: DicomFile;
      try {
        file = await readDicomFile(path, { headerOnly: true });
      } catch {
        continue;
      }
      const ts = file.transferSyntax;
      if (!ts.encapsulated || !file.dataset.elements.some((e) => e.tag === tags.PixelData)) continue;
      const [tool, args] = referenceFor(ts.uid);
      const theirsPath = join(dir, `${n}-theirs.dcm`);
      const r = await runTool(tool, args(path, theirsPath));
      if (r?.code !== 0) {
        theyFail.push(`${path.split("/").pop()} (${tool})`);
        continue;
      }
      const oursPath = join(dir, `${n}-ours.dcm`);
      const name = path.split("/").pop()!;
      try {
        await ourTranscode(path, EXPLICIT_LE, oursPath);
      } catch (e) {
        problems.push(`${name}: ${tool} decodes it, we do not: ${(e as Error).message}`);
        continue;
      }
      const ours = await frames(await readDicomFile(oursPath));
      const theirs = await frames(await readDicomFile(theirsPath));
      const diff = firstDiff(ours.frames, theirs.frames);
      if (diff) problems.push(`${name} vs ${tool}: ${diff}`);
      else if (ours.photometric !== theirs.photometric) {
        problems.push(`${name}: we wrote ${ours.photometric}, ${tool} ${theirs.photometric}`);
      } else compared.push(name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  console.log(
    `pixels: ${compared.length} compressed corpus files decode exactly as dcmtk/gdcm; ` +
      `they fail on ${theyFail.length} (${theyFail.join(", ")})`,
  );
  assert.deepEqual(problems, []);
  assert.ok(compared.length > 0);
});

Deno.test("corpus: the lossless encoders round-trip bit-exact, and dcmtk decodes our JPEG-LS and RLE alike", async () => {
  const paths = await corpusFiles();
  if (paths.length === 0) return;
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-lossless-" });
  const withDcmtk = await hasTool("dcmdjpls", ["--version"]);
  let roundTrips = 0;
  const problems: string[] = [];
  try {
    for (const [n, path] of paths.entries()) {
      let file: DicomFile;
      try {
        file = await readDicomFile(path);
      } catch {
        continue;
      }
      if (!file.dataset.elements.some((e) => e.tag === tags.PixelData)) continue;
      const name = path.split("/").pop()!;
      const plainPath = join(dir, `${n}.dcm`);
      try {
        await ourTranscode(path, EXPLICIT_LE, plainPath);
      } catch {
        continue; // not decodable here: the test above says which ones dcmtk or gdcm decode
      }
      let fmt: ReturnType<typeof readPixelFormat>;
      try {
        fmt = readPixelFormat((await readDicomFile(plainPath)).dataset);
      } catch {
        continue; // Pixel Data without an image (no Rows): carried as it is, nothing to encode
      }
      if (fmt.bitsAllocated === 1 || fmt.bitsStored > 16) continue; // written uncompressed (the fallback test)
      const plain = await frames(await readDicomFile(plainPath));
      for (const target of ["jpeg-ls-lossless", "htj2k-lossless", "rle-lossless"]) {
        const out = join(dir, `${n}-${target}.dcm`);
        await ourTranscode(plainPath, parseTargetSyntax(target), out);
        const back = await frames(await readDicomFile(out));
        const diff = firstDiff(back.frames, plain.frames);
        if (diff) problems.push(`${name} ${target}: ${diff}`);
        else roundTrips++;
        const tool = target === "jpeg-ls-lossless" ? "dcmdjpls" : target === "rle-lossless" ? "dcmdrle" : "";
        if (withDcmtk && tool) {
          const theirs = join(dir, `${n}-${target}-dcmtk.dcm`);
          const r = await runTool(tool, [out, theirs]);
          if (r?.code !== 0) problems.push(`${name}: ${tool} cannot read our ${target}: ${r?.stderr}`);
          else {
            const d = firstDiff((await frames(await readDicomFile(theirs))).frames, plain.frames);
            if (d) problems.push(`${name}: ${tool} decodes our ${target} differently: ${d}`);
          }
        }
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  console.log(`pixels: ${roundTrips} lossless round trips bit-exact`);
  assert.deepEqual(problems, []);
  assert.ok(roundTrips > 0);
});

Deno.test("a lossy source keeps its lossy history and is re-encoded losslessly only", async () => {
  const paths = (await corpusFiles()).filter((p) => /JPEG2000\.dcm$|SC_rgb_jpeg_dcmtk\.dcm$/.test(p));
  if (paths.length === 0) return;
  for (const path of paths) {
    const file = await readDicomFile(path);
    const t = await transcode(file, parseTargetSyntax("jpeg-ls-lossless"));
    t.close();
    assert.ok(t.lossy, path);
    const get = (tag: number) => {
      const el = file.dataset.elements.find((e) => e.tag === tag);
      return el ? decodeStrings(el, file.dataset) : [];
    };
    assert.deepEqual(get(tags.LossyImageCompression), ["01"]);
    assert.ok(get(tags.LossyImageCompressionMethod).some((m) => /^ISO_1(0918_1|5444_1)$/.test(m)), path);
    assert.ok(get(tags.LossyImageCompressionRatio).length > 0, path);
  }
  assert.throws(() => parseTargetSyntax("1.2.840.10008.1.2.4.50"), /does not write JPEG Baseline/);
  assert.throws(() => parseTargetSyntax("jpeg2000-lossy"), /not a transfer syntax dcmtidy knows/);
});

Deno.test("corpus: PALETTE COLOR images become the RGB that dcmtk's dcm2pnm renders", async () => {
  const paths = (await corpusFiles()).filter((p) => /examples_palette\.dcm$/.test(p));
  if (paths.length === 0) return;
  if (!(await hasTool("dcm2pnm", ["--version"]))) {
    noteOnce("pixels: dcm2pnm missing: the palette test is skipped");
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-palette-" });
  try {
    for (const path of paths) {
      const file = await readDicomFile(path);
      const rgb = (await readFrames(file, pixelFormat(file.dataset)))[0];
      const ppm = join(dir, "frame.ppm");
      const r = await runTool("dcm2pnm", ["+op", "+F", "1", path, ppm]);
      assert.equal(r?.code, 0, r?.stderr);
      const bytes = await Deno.readFile(ppm);
      // "P6\nW H\n255\n", then the samples.
      let at = 0;
      for (let lines = 0; lines < 3; at++) if (bytes[at] === 0x0a) lines++;
      const theirs = bytes.subarray(at);
      assert.equal(rgb.length, theirs.length, path);
      let worst = 0;
      for (let i = 0; i < rgb.length; i++) worst = Math.max(worst, Math.abs(rgb[i] - theirs[i]));
      assert.equal(worst, 0, `${path}: off by ${worst}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fixtures: frames split over fragments without an offset table, and a compressed icon, transcode exactly", async () => {
  const rows = 20, columns = 30, count = 3;
  const fmt = {
    rows,
    columns,
    samplesPerPixel: 1 as const,
    bitsAllocated: 16 as const,
    bitsStored: 12,
    highBit: 11,
    signed: false,
    photometric: "MONOCHROME2",
    planar: 0 as const,
    frames: 1,
  };
  const samples = Array.from(
    { length: count },
    (_, f) => new Uint16Array(rows * columns).map((_, i) => (i * 13 + f * 977 + ((i * i) % 101)) % 4096),
  );
  await prepareEncoder("jpeg-ls");
  const streams = samples.map((s) => encodeFrame("jpeg-ls", new Uint8Array(s.buffer), fmt));
  // Each frame's codestream in two fragments; no Basic Offset Table: frames start at their SOI.
  const fragments = streams.flatMap((c) => {
    const cut = (c.length >> 2) * 2;
    return [c.subarray(0, cut), c.subarray(cut)];
  });
  const icon = new Uint16Array(4 * 6).map((_, i) => i * 100);
  const iconStream = encodeFrame("jpeg-ls", new Uint8Array(icon.buffer), { ...fmt, rows: 4, columns: 6 });
  const image = (px: Node): Node[] => [
    { tag: tag(0x0028, 0x0002), vr: "US", value: 1 },
    { tag: tag(0x0028, 0x0004), vr: "CS", value: "MONOCHROME2" },
    { tag: tag(0x0028, 0x0100), vr: "US", value: 16 },
    { tag: tag(0x0028, 0x0101), vr: "US", value: 12 },
    { tag: tag(0x0028, 0x0102), vr: "US", value: 11 },
    { tag: tag(0x0028, 0x0103), vr: "US", value: 0 },
    px,
  ];
  const nodes: Node[] = [
    ...sampleDataset().filter((n) => "tag" in n && n.tag < tag(0x0028, 0)),
    { tag: tag(0x0028, 0x0008), vr: "IS", value: String(count) },
    { tag: tag(0x0028, 0x0010), vr: "US", value: rows },
    { tag: tag(0x0028, 0x0011), vr: "US", value: columns },
    ...image({ tag: tag(0x0028, 0x0006), vr: "US", value: 0 }).slice(0, -1),
    {
      tag: tag(0x0088, 0x0200),
      vr: "SQ",
      items: [[
        { tag: tag(0x0028, 0x0002), vr: "US", value: 1 },
        { tag: tag(0x0028, 0x0004), vr: "CS", value: "MONOCHROME2" },
        { tag: tag(0x0028, 0x0010), vr: "US", value: 4 },
        { tag: tag(0x0028, 0x0011), vr: "US", value: 6 },
        { tag: tag(0x0028, 0x0100), vr: "US", value: 16 },
        { tag: tag(0x0028, 0x0101), vr: "US", value: 12 },
        { tag: tag(0x0028, 0x0102), vr: "US", value: 11 },
        { tag: tag(0x0028, 0x0103), vr: "US", value: 0 },
        { tag: tag(0x7fe0, 0x0010), vr: "OB", fragments: [iconStream] },
      ]],
    },
    { tag: tag(0x7fe0, 0x0010), vr: "OB", fragments },
  ];
  const bytes = buildDicom(nodes, { transferSyntaxUID: "1.2.840.10008.1.2.4.80" });
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-frag-" });
  try {
    await Deno.writeFile(join(dir, "in.dcm"), bytes);
    await ourTranscode(join(dir, "in.dcm"), EXPLICIT_LE, join(dir, "out.dcm"));
    const out = await readDicomFile(join(dir, "out.dcm"));
    assert.equal(out.transferSyntax.uid, EXPLICIT_LE);
    assert.deepEqual((await frames(out)).frames, samples.map((s) => [...s]));
    const iconItem = out.dataset.elements.find((e) => e.tag === tags.IconImageSequence)!.items![0].dataset;
    const iconFile = { ...out, dataset: iconItem };
    assert.deepEqual((await frames(iconFile)).frames, [[...icon]]);
    if (await hasTool("dcmdump", ["--version"])) {
      const r = await runTool("dcmdump", ["-q", join(dir, "out.dcm")]);
      assert.equal(r?.code, 0, r?.stderr);
      assert.equal(r?.stderr, "");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fixtures: 1-bit frames deflated one by one become native frames packed one after another", async () => {
  const rows = 5, columns = 7, count = 3; // 35 pixels a frame: frames do not end on a byte
  const bits = Array.from(
    { length: count },
    (_, f) => Array.from({ length: rows * columns }, (_, i) => (i * 7 + f) % 3 === 0 ? 1 : 0),
  );
  const pack = (values: number[]) => {
    const out = new Uint8Array(Math.ceil(values.length / 8));
    values.forEach((v, i) => v && (out[i >> 3] |= 1 << (i & 7)));
    return out;
  };
  const nodes: Node[] = [
    ...sampleDataset().filter((n) => "tag" in n && n.tag < tag(0x0028, 0)),
    { tag: tag(0x0028, 0x0002), vr: "US", value: 1 },
    { tag: tag(0x0028, 0x0004), vr: "CS", value: "MONOCHROME2" },
    { tag: tag(0x0028, 0x0008), vr: "IS", value: String(count) },
    { tag: tag(0x0028, 0x0010), vr: "US", value: rows },
    { tag: tag(0x0028, 0x0011), vr: "US", value: columns },
    { tag: tag(0x0028, 0x0100), vr: "US", value: 1 },
    { tag: tag(0x0028, 0x0101), vr: "US", value: 1 },
    { tag: tag(0x0028, 0x0102), vr: "US", value: 0 },
    { tag: tag(0x0028, 0x0103), vr: "US", value: 0 },
    {
      tag: tag(0x7fe0, 0x0010),
      vr: "OB",
      fragments: bits.map((b) => new Uint8Array(deflateRawSync(pack(b)))),
    },
  ];
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-bits-" });
  try {
    await Deno.writeFile(
      join(dir, "in.dcm"),
      buildDicom(nodes, { transferSyntaxUID: "1.2.840.10008.1.2.8.1" }),
    );
    await ourTranscode(join(dir, "in.dcm"), EXPLICIT_LE, join(dir, "out.dcm"));
    const out = await readDicomFile(join(dir, "out.dcm"));
    const el = out.dataset.elements.find((e) => e.tag === tags.PixelData)!;
    const expected = pack(bits.flat());
    assert.deepEqual(valueBytes(el)!.subarray(0, expected.length), expected);
    const fmt = pixelFormat(out.dataset);
    assert.deepEqual((await readFrames(out, fmt)).map((f) => [...f]), bits);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("what the encoders cannot take is written uncompressed, and says so", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-fallback-" });
  try {
    const cases: [string, Node[]][] = [
      ["no-pixels", sampleDataset().filter((n) => !("tag" in n) || n.tag !== tag(0x7fe0, 0x0010))],
      [
        "32-bit",
        sampleDataset().map((n) =>
          !("tag" in n)
            ? n
            : n.tag === tag(0x0028, 0x0100)
            ? { ...n, value: 32 }
            : n.tag === tag(0x0028, 0x0101)
            ? { ...n, value: 32 }
            : n.tag === tag(0x0028, 0x0102)
            ? { ...n, value: 31 }
            : n.tag === tag(0x7fe0, 0x0010)
            ? { tag: n.tag, vr: "OW", value: new Uint8Array(64).map((_, i) => i) }
            : n
        ),
      ],
    ];
    for (const [name, nodes] of cases) {
      await Deno.writeFile(join(dir, name), buildDicom(nodes, { ts: "implicit-le" }));
      const file = await readDicomFile(join(dir, name));
      const t = await transcode(file, parseTargetSyntax("jpeg-ls-lossless"));
      await writeDicomFile(file, join(dir, `${name}.out`));
      t.close();
      assert.equal(t.to, EXPLICIT_LE, name);
      assert.match(t.fallback ?? "", /written as Explicit VR Little Endian/, name);
      const out = await readDicomFile(join(dir, `${name}.out`));
      assert.equal(out.transferSyntax.uid, EXPLICIT_LE);
      const source = await readDicomFile(join(dir, name));
      if (name === "32-bit") assert.deepEqual((await frames(out)).frames, (await frames(source)).frames);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
