/**
 * `output.transfer_syntax` end to end: a run in the sandboxed workers (which get the codecs'
 * WebAssembly as bytes, having no read access to the module cache) writes every de-identified
 * file as JPEG-LS lossless with the input's pixels, dcmtk reads what it wrote, verify passes; a
 * transfer syntax dcmtidy does not write, or one asked of a sort-only protocol, is refused at its
 * line with exit code 2. Uses the fixtures, and the corpus's compressed files when present.
 *
 * @module
 */
import assert from "node:assert/strict";
import { basename, join } from "node:path";
import type { DicomFile } from "../src/dicom/model.ts";
import { readDicomFile } from "../src/dicom/read_file.ts";
import { decodeFrame, prepareDecoder } from "../src/pixels/decode.ts";
import { readPixelFormat } from "../src/pixels/format.ts";
import { openPixelSource } from "../src/pixels/source.ts";
import { tags } from "../src/standard/tags.ts";
import { parseCsv } from "../src/util/csv.ts";
import { niftiSeries } from "./fixtures/nifti_fixtures.ts";
import { corpusFiles, hasTool, runCli, runTool } from "./helpers.ts";

const ENV = { DCMTIDY_SALT: "pixels-run-test-salt-0123456789" };
const JPEG_LS_LOSSLESS = "1.2.840.10008.1.2.4.80";

const protocol = (ts: string, deid = true) =>
  `version: 1\nname: pixels-run\ninput: { root: ./raw }\noutput:\n  root: ./out\n` +
  `  path: "{pseudo_id}/{SeriesNumber}"\n  file: "{SOPInstanceUID}.dcm"\n  transfer_syntax: ${ts}\n` +
  `quarantine: ./quarantine\n` + (deid ? `deidentify:\n  salt: { env: DCMTIDY_SALT }\n` : "");

/** Every frame's stored bits, as one string per frame (enough to compare two files' pixels). */
async function pixelsOf(file: DicomFile): Promise<string[]> {
  const fmt = readPixelFormat(file.dataset);
  const src = openPixelSource(file, fmt);
  try {
    await prepareDecoder(src);
    const out: string[] = [];
    const mask = 2 ** fmt.bitsStored - 1;
    for (let i = 0; i < fmt.frames; i++) {
      const b = decodeFrame(src, i).bytes;
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const w = fmt.bitsAllocated / 8;
      const parts: number[] = [];
      for (let k = 0; k + w <= b.length; k += w) parts.push((w === 1 ? b[k] : v.getUint16(k, true)) & mask);
      out.push(parts.join(","));
    }
    return out;
  } finally {
    src.close();
  }
}

async function csv(path: string): Promise<Record<string, string>[]> {
  const [header, ...rows] = parseCsv(await Deno.readTextFile(path));
  return rows.filter((r) => r.length > 1).map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
}

Deno.test("run: output.transfer_syntax writes JPEG-LS lossless with the input's pixels, in the sandboxed workers", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-pixrun-" }));
  try {
    await Deno.mkdir(`${dir}/raw`);
    let n = 0;
    for (const fx of niftiSeries().slice(0, 3)) {
      for (const bytes of fx.files) await Deno.writeFile(`${dir}/raw/F${n++}`, bytes);
    }
    // The corpus's compressed and big-endian files, when present (copied into the temp dump only).
    const wanted = /JLSN|JPEG-LL|jp2klossless|_RLE|bigendian|US1_J2KI|examples_ybr_color|JPGExtended/;
    for (const p of (await corpusFiles()).filter((p) => wanted.test(p))) {
      await Deno.copyFile(p, `${dir}/raw/${basename(p)}`);
      n++;
    }
    await Deno.writeTextFile(`${dir}/p.yaml`, protocol("jpeg-ls-lossless"));
    const run = await runCli(["run", "--yes", "--jobs", "2", `${dir}/p.yaml`], ENV);
    assert.ok(run.code === 0 || run.code === 3, run.stdout + run.stderr);
    assert.match(
      run.stdout,
      /transfer syntax: DICOM files are written as JPEG-LS Lossless \(1\.2\.840\.10008\.1\.2\.4\.80\)/,
    );
    const rows = await csv(`${dir}/out/.dcmtidy/files.csv`);
    assert.equal(rows.length, n, "every input is accounted for");
    const written = rows.filter((r) => r.Status === "written");
    assert.ok(written.length >= 3, run.stdout);
    const withDcmtk = await hasTool("dcmdjpls", ["--version"]);
    for (const r of written) {
      const out = await readDicomFile(`${dir}/out/${r.Output}`);
      const input = await readDicomFile(`${dir}/raw/${r.Input}`);
      assert.equal(out.transferSyntax.uid, JPEG_LS_LOSSLESS, r.Output);
      assert.deepEqual(await pixelsOf(out), await pixelsOf(input), `${r.Input}: pixels changed`);
      const lossy = input.dataset.elements.some((e) => e.tag === tags.LossyImageCompression) ||
        /\.4\.(50|51|91)$/.test(input.transferSyntax.uid);
      if (lossy) {
        const el = out.dataset.elements.find((e) => e.tag === tags.LossyImageCompression);
        assert.ok(el, `${r.Input}: the lossy history was lost`);
      }
      if (withDcmtk) {
        const res = await runTool("dcmdjpls", [`${dir}/out/${r.Output}`, join(dir, "dcmtk.dcm")]);
        assert.equal(res?.code, 0, `dcmdjpls cannot read ${r.Output}: ${res?.stderr}`);
        assert.deepEqual(await pixelsOf(await readDicomFile(join(dir, "dcmtk.dcm"))), await pixelsOf(out));
        await Deno.remove(join(dir, "dcmtk.dcm"));
      }
    }
    const others = rows.filter((r) => r.Status !== "written");
    for (const r of others) assert.ok(r.Reason, `${r.Input}: no reason`);
    console.log(
      `transfer_syntax run: ${written.length} of ${n} written as JPEG-LS lossless` +
        (others.length ? `; ${others.map((r) => `${r.Input}: ${r.Reason}`).join("; ")}` : ""),
    );
    const verify = await runCli(["verify", `${dir}/p.yaml`], ENV);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("protocol: a transfer syntax dcmtidy does not write, or one asked of a sort-only run, is refused at its line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-pixproto-" });
  try {
    await Deno.mkdir(`${dir}/raw`);
    for (
      const [text, why] of [
        [protocol("jpeg-baseline"), /"jpeg-baseline" is not a transfer syntax dcmtidy knows; choose keep or/],
        [protocol("1.2.840.10008.1.2.4.50"), /dcmtidy does not write JPEG Baseline/],
        [protocol("explicit-le", false), /sort-only protocol copies or links files as they are/],
      ] as const
    ) {
      await Deno.writeTextFile(`${dir}/p.yaml`, text);
      const r = await runCli(["validate", `${dir}/p.yaml`], ENV);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stderr + r.stdout, why);
      assert.match(r.stderr + r.stdout, /p\.yaml:8:/, "the message names the line");
    }
    await Deno.writeTextFile(`${dir}/p.yaml`, protocol("keep"));
    assert.equal((await runCli(["validate", `${dir}/p.yaml`], ENV)).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
