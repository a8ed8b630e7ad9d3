/**
 * `pixels_detect: ocr` end to end: the plan finds the text in ultrasound images no rule knows and
 * proposes a rule that covers it; a run with that rule and `burned_in: blank` writes images in which
 * neither our OCR (verify) nor Debian's `tesseract` reads any planted word; a run that writes them
 * unblanked (`burned_in: warn`) is caught by verify (`phi-pixels`).
 *
 * @module
 */
import assert from "node:assert/strict";
import type { DicomFile } from "../src/dicom/model.ts";
import { readDicomFile } from "../src/dicom/read_file.ts";
import { decodeFrame, prepareDecoder } from "../src/pixels/decode.ts";
import { readPixelFormat } from "../src/pixels/format.ts";
import { displayFrame } from "../src/pixels/preview.ts";
import { openPixelSource } from "../src/pixels/source.ts";
import { parseCsv } from "../src/util/csv.ts";
import { buildDicom, tag } from "./fixtures/builder.ts";
import { renderImage, toPnm } from "./fixtures/ocr_images.ts";
import { hasTool, noteOnce, runCli, runTool } from "./helpers.ts";

const ENV = { DCMTIDY_SALT: "pixels-ocr-run-test-salt-0123456789" };
const WORDS = ["DOE", "JOHN", "12345"];

/** An ultrasound image (RGB, 320x240) with a name at the top and a number at the bottom right. */
function image(n: number): Uint8Array {
  const { image } = renderImage(320, 240, 3, [
    { text: "DOE JOHN", x: 8, y: 8, scale: 3 },
    { text: "12345", x: 240, y: 216, scale: 2 },
  ]);
  const uid = (k: number) => `1.2.826.0.1.3680043.10.1000.66.${n}.${k}`;
  return buildDicom([
    { tag: tag(0x0008, 0x0016), vr: "UI", value: "1.2.840.10008.5.1.4.1.1.6.1" },
    { tag: tag(0x0008, 0x0018), vr: "UI", value: uid(3) },
    { tag: tag(0x0008, 0x0060), vr: "CS", value: "US" },
    { tag: tag(0x0008, 0x0070), vr: "LO", value: "ACME" },
    { tag: tag(0x0008, 0x1090), vr: "LO", value: "SONO 5" },
    { tag: tag(0x0010, 0x0010), vr: "PN", value: "Doe^John" },
    { tag: tag(0x0010, 0x0020), vr: "LO", value: "12345" },
    { tag: tag(0x0020, 0x000d), vr: "UI", value: uid(1) },
    { tag: tag(0x0020, 0x000e), vr: "UI", value: uid(2) },
    { tag: tag(0x0020, 0x0011), vr: "IS", value: "1" },
    { tag: tag(0x0020, 0x0013), vr: "IS", value: String(n) },
    { tag: tag(0x0028, 0x0002), vr: "US", value: 3 },
    { tag: tag(0x0028, 0x0004), vr: "CS", value: "RGB" },
    { tag: tag(0x0028, 0x0006), vr: "US", value: 0 },
    { tag: tag(0x0028, 0x0010), vr: "US", value: 240 },
    { tag: tag(0x0028, 0x0011), vr: "US", value: 320 },
    { tag: tag(0x0028, 0x0100), vr: "US", value: 8 },
    { tag: tag(0x0028, 0x0101), vr: "US", value: 8 },
    { tag: tag(0x0028, 0x0102), vr: "US", value: 7 },
    { tag: tag(0x0028, 0x0103), vr: "US", value: 0 },
    { tag: tag(0x7fe0, 0x0010), vr: "OB", value: image.pixels },
  ]);
}

const protocol = (deid: string, out = "out") =>
  `version: 1\nname: ocr-run\ninput: { root: ./raw }\noutput:\n  root: ./${out}\n` +
  `  path: "{SeriesNumber}"\n  file: "{InstanceNumber:04}.dcm"\nquarantine: ./quarantine-${out}\n` +
  `deidentify:\n  salt: { env: DCMTIDY_SALT }\n  pixels_detect: ocr\n${deid}`;

async function csv(path: string): Promise<Record<string, string>[]> {
  const [header, ...rows] = parseCsv(await Deno.readTextFile(path));
  return rows.filter((r) => r.length > 1).map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
}

/** What Debian's tesseract reads in the first frame of a file, upper-cased. */
async function tesseractReads(file: DicomFile, dir: string): Promise<string> {
  const fmt = readPixelFormat(file.dataset);
  const src = openPixelSource(file, fmt);
  await prepareDecoder(src);
  const d = decodeFrame(src, 0);
  src.close();
  const img = displayFrame(d, { ...fmt, photometric: d.photometric, planar: 0 }, file.dataset);
  await Deno.writeFile(`${dir}/frame.ppm`, toPnm(img));
  const r = await runTool("tesseract", [`${dir}/frame.ppm`, "stdout", "--psm", "11"]);
  return (r?.stdout ?? "").toUpperCase();
}

Deno.test("pixels_detect: ocr: the plan proposes a rule covering the text; blanked by it, no word is left; unblanked, verify finds it", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-ocrrun-" }));
  try {
    await Deno.mkdir(`${dir}/raw`);
    for (let n = 1; n <= 2; n++) await Deno.writeFile(`${dir}/raw/US${n}`, image(n));

    // 1. No rule yet: the suspects are quarantined, and the plan proposes a rule from the text found.
    await Deno.writeTextFile(`${dir}/q.yaml`, protocol("  burned_in: quarantine\n"));
    const plan = await runCli(["plan", `${dir}/q.yaml`], ENV);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /text in pixels \(pixels_detect: ocr\), 2 suspect\(s\) searched/);
    assert.match(
      plan.stdout,
      /Modality US, Manufacturer ACME, ManufacturerModelName SONO 5, 320x240: 2 of 2 with text/,
    );
    const lines = plan.stdout.split("\n");
    const at = lines.findIndex((l) => /^\s+- name: /.test(l));
    assert.ok(at > 0, plan.stdout);
    const rule = lines.slice(at, at + 3).map((l) => l.replace(/^ {4}/, "    ")).join("\n");
    console.log(`proposed:\n${rule}`);
    assert.match(
      rule,
      /when: \{ Modality: US, Manufacturer: ACME, ManufacturerModelName: SONO 5, Rows: 240, Columns: 320 \}/,
    );
    for (const w of WORDS) {
      assert.ok(!plan.stdout.toUpperCase().includes(` ${w} `), `the plan shows the word ${w}`);
    }

    const json = JSON.parse((await runCli(["plan", "--json", `${dir}/q.yaml`], ENV)).stdout);
    assert.ok(
      json.files.every((f: { text?: number[][] }) => (f.text?.length ?? 0) >= 3),
      "boxes in plan --json",
    );

    // 2. The proposed rule, with burned_in: blank: no word left for our OCR (verify) or tesseract.
    await Deno.writeTextFile(
      `${dir}/b.yaml`,
      protocol(`  burned_in: blank\n  pixels:\n${rule}\n`, "blanked"),
    );
    const run = await runCli(["run", "--yes", "--jobs", "2", `${dir}/b.yaml`], ENV);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const verify = await runCli(["verify", `${dir}/b.yaml`], ENV);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    if (await hasTool("tesseract", ["--version"])) {
      for (const r of await csv(`${dir}/blanked/.dcmtidy/files.csv`)) {
        const read = await tesseractReads(await readDicomFile(`${dir}/blanked/${r.Output}`), dir);
        for (const w of WORDS) assert.ok(!read.includes(w), `tesseract reads ${w} in ${r.Output}: ${read}`);
      }
      // The same reader sees the words in the source (the check above can fail).
      const source = await tesseractReads(await readDicomFile(`${dir}/raw/US1`), dir);
      assert.ok(WORDS.some((w) => source.includes(w)), `tesseract reads nothing in the source: ${source}`);
    } else noteOnce("tesseract missing: the independent OCR check is skipped");

    // 3. Written unblanked (burned_in: warn): verify finds text in the pixels.
    await Deno.writeTextFile(`${dir}/w.yaml`, protocol("  burned_in: warn\n", "warned"));
    const warned = await runCli(["run", "--yes", `${dir}/w.yaml`], ENV);
    assert.equal(warned.code, 0, warned.stderr);
    const caught = await runCli(["verify", `${dir}/w.yaml`], ENV);
    assert.notEqual(caught.code, 0);
    assert.match(caught.stdout + caught.stderr, /phi-pixels/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
