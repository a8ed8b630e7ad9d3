/**
 * NIfTI output (issue 8): geometry, ordering, scaling, 4D, RLE, splits and reasons on built
 * series; sidecars free of PHI after de-identification; and, when dcm2niix is installed, the same
 * dimensions, voxel values and sform (within 1e-3 mm) as dcm2niix on the fixtures and the corpus.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseDicom } from "../src/dicom/reader.ts";
import { readDicomFile } from "../src/dicom/read_file.ts";
import type { DicomFile } from "../src/dicom/model.ts";
import { decodeStrings } from "../src/dicom/values.ts";
import { deidConfig } from "../src/deid/config.ts";
import { DeidSession } from "../src/deid/session.ts";
import { Keys } from "../src/deid/keys.ts";
import { convertSeries, niftiPaths } from "../src/nifti/convert.ts";
import { type Mat4, qformOf, qformToAffine } from "../src/nifti/geometry.ts";
import { NotDeidentifiedError } from "../src/nifti/errors.ts";
import { pixelFormat, readFrames } from "../src/nifti/pixels.ts";
import { sourceFacts } from "../src/nifti/source_facts.ts";
import { loadProtocol } from "../src/protocol/load.ts";
import { ProtocolError } from "../src/protocol/errors.ts";
import { NIFTI_PHI, niftiSeries, rotatedIOP, value } from "./fixtures/nifti_fixtures.ts";
import { CORPUS, corpusFiles, hasTool, noteOnce, runTool } from "./helpers.ts";
import {
  compareSeries,
  convertFixture,
  dcm2niix,
  NIFTI_SALT,
  prepared,
  readVolume,
} from "./nifti_dcm2niix.ts";

const SALT = NIFTI_SALT;

/** Parse and de-identify with the basic profile, as a run does before converting. */
function deidentified(
  files: Uint8Array[],
  session = new DeidSession(deidConfig(), new Keys(SALT)),
): DicomFile[] {
  return prepared(files, session).files;
}

function apply(m: Mat4, p: number[]): number[] {
  return [0, 1, 2].map((r) => m[r][0] * p[0] + m[r][1] * p[1] + m[r][2] * p[2] + m[r][3]);
}

function close(a: number[], b: number[], tol: number): boolean {
  return a.every((v, i) => Math.abs(v - b[i]) <= tol);
}

const fixtures = niftiSeries();
const byName = (name: string) => fixtures.find((f) => f.name === name)!;

Deno.test("fixtures: every series gives the volumes or the reason it should", async () => {
  for (const fx of fixtures) {
    const r = await convertFixture(fx.files);
    assert.deepEqual(r.volumes.map((v) => v.dims), fx.expect.dims, fx.name);
    if (fx.expect.reason) {
      const said = [r.notConverted ?? "", ...r.warnings].join("\n");
      assert.ok(said.includes(fx.expect.reason), `${fx.name}: "${fx.expect.reason}" not in: ${said}`);
    }
    if (fx.expect.dims.length === 0) assert.ok(r.notConverted, `${fx.name}: no volume and no reason`);
  }
});

Deno.test("slices go by position along the normal, not by InstanceNumber; voxels x=column, y=row", async () => {
  for (const name of ["axial-ct-shuffled", "oblique-mr", "rle", "enhanced-mr", "signed-12-bit"]) {
    const fx = byName(name);
    const r = await convertFixture(fx.files);
    const { header, voxels } = await readVolume(r.volumes[0]);
    const [nx, ny, nz] = header.dims;
    const offset = name === "axial-ct-shuffled" || name === "signed-12-bit" ? -500 : name === "rle" ? 300 : 0;
    for (let k = 0; k < nz; k++) {
      for (let j = 0; j < ny; j++) {
        for (let i = 0; i < nx; i++) {
          assert.equal(
            voxels[i + nx * (j + ny * k)],
            value(k, j, i) + offset,
            `${name} voxel ${i},${j},${k}`,
          );
        }
      }
    }
  }
});

Deno.test("affine: LPS to RAS, spacing from positions, sform and qform agree", async () => {
  const fx = byName("oblique-mr");
  const files = deidentified(fx.files);
  const r = await convertSeries(files);
  const { header } = await readVolume(r.volumes[0]);
  assert.equal(header.sformCode, 1);
  assert.equal(header.qformCode, 1);
  assert.equal(header.xyztUnits, 2 | 8);
  const iop = rotatedIOP(25, 35);
  const [dr, dc] = fx.pixelSpacing;
  // The first slice (k = 0) is the one with the smallest distance along the normal: origin [12.5, -40.25, 7].
  const lps = (i: number, j: number, k: number) => {
    const n = [
      iop[1] * iop[5] - iop[2] * iop[4],
      iop[2] * iop[3] - iop[0] * iop[5],
      iop[0] * iop[4] - iop[1] * iop[3],
    ];
    return [0, 1, 2].map((a) =>
      [12.5, -40.25, 7][a] + i * dc * iop[a] + j * dr * iop[3 + a] + k * 3.3 * n[a]
    );
  };
  for (const [i, j, k] of [[0, 0, 0], [3, 0, 0], [0, 2, 0], [0, 0, 3], [3, 2, 3]]) {
    const [x, y, z] = lps(i, j, k);
    assert.ok(close(apply(header.sform, [i, j, k]), [-x, -y, z], 1e-3), `sform at ${i},${j},${k}`);
  }
  assert.ok(Math.abs(header.pixdim[1] - dc) < 1e-5 && Math.abs(header.pixdim[2] - dr) < 1e-5);
  assert.ok(Math.abs(header.pixdim[3] - 3.3) < 1e-4);
  const q = qformToAffine({
    b: header.quatern[0],
    c: header.quatern[1],
    d: header.quatern[2],
    offset: header.qoffset,
    pixdim: [header.pixdim[1], header.pixdim[2], header.pixdim[3]],
    qfac: header.pixdim[0] < 0 ? -1 : 1,
  });
  for (let a = 0; a < 3; a++) {
    for (let b = 0; b < 4; b++) assert.ok(Math.abs(q[a][b] - header.sform[a][b]) < 1e-3);
  }
});

Deno.test("qform of a left-handed affine sets qfac -1 and gives the affine back", () => {
  const m: Mat4 = [[-0.9, 0, 0, 10], [0, 0.7, 0, -5], [0, 0, 2.5, 3], [0, 0, 0, 1]];
  const q = qformOf(m);
  assert.equal(q.qfac, -1);
  const back = qformToAffine(q);
  for (let a = 0; a < 3; a++) for (let b = 0; b < 4; b++) assert.ok(Math.abs(back[a][b] - m[a][b]) < 1e-9);
});

Deno.test("RescaleSlope/Intercept go to scl_slope/scl_inter; differing per slice gives scaled float32", async () => {
  const r = await convertSeries(deidentified(byName("rescaled").files));
  const { header } = await readVolume(r.volumes[0]);
  assert.equal(header.sclSlope, 2.5);
  assert.equal(header.sclInter, -100);
  const ct = await readVolume(
    (await convertSeries(deidentified(byName("axial-ct-shuffled").files))).volumes[0],
  );
  assert.equal(ct.header.sclInter, -1024);
  assert.equal(ct.header.datatype, 4); // signed 16
  const per = await convertSeries(deidentified(byName("slope-per-slice").files));
  const pv = await readVolume(per.volumes[0]);
  assert.equal(pv.header.datatype, 16);
  assert.equal(pv.header.sclSlope, 1);
  // Slice k was stored with slope 1 + k: the float holds the scaled value.
  assert.equal(pv.voxels[4 * 3 * 2 + 5], (1 + 2) * value(2, 1, 1));
});

Deno.test("repeated positions make a 4D volume, ordered by echo within each position", async () => {
  const r = await convertSeries(deidentified(byName("4d-echoes").files));
  const { header, voxels } = await readVolume(r.volumes[0]);
  assert.deepEqual(header.dims, [4, 3, 3, 2]);
  const n = 4 * 3 * 3;
  for (let t = 0; t < 2; t++) {
    for (let k = 0; k < 3; k++) assert.equal(voxels[t * n + k * 12 + 7], value(k, 1, 3, t));
  }
});

Deno.test("a mixed-orientation series is split, each part its own volume and sform", async () => {
  const r = await convertSeries(deidentified(byName("mixed-orientation").files));
  assert.deepEqual(r.volumes.map((v) => v.suffix), ["_1", "_2"]);
  const [a, b] = await Promise.all(r.volumes.map(readVolume));
  assert.notDeepEqual(a.header.sform[0], b.header.sform[0]);
  assert.equal(r.notConverted, undefined); // both parts converted: nothing left over
});

Deno.test("sidecar: acquisition keys only, nothing the basic profile removes, no PHI anywhere", async () => {
  for (const fx of fixtures) {
    const r = await convertFixture(fx.files);
    for (const v of r.volumes) {
      const json = JSON.stringify(v.sidecar);
      const { bytes } = await readVolume(v);
      const header = new TextDecoder("latin1").decode(bytes.subarray(0, 352));
      for (const phi of Object.values(NIFTI_PHI)) {
        assert.ok(!json.includes(phi), `${fx.name}: sidecar holds ${phi}`);
        assert.ok(!header.includes(phi), `${fx.name}: NIfTI header holds ${phi}`);
      }
      for (const removed of ["SeriesDescription", "ProtocolName", "InstitutionName", "DeviceSerialNumber"]) {
        assert.ok(!(removed in v.sidecar), `${fx.name}: ${removed} in the sidecar`);
      }
      assert.equal(v.sidecar.Manufacturer, "Fixture Medical");
      assert.equal(v.sidecar.ManufacturersModelName, "Fixture Scanner 3000");
    }
  }
  const mr = (await convertSeries(deidentified(byName("oblique-mr").files))).volumes[0].sidecar;
  assert.equal(mr.RepetitionTime, 2);
  assert.equal(mr.EchoTime, 0.03);
  assert.equal(mr.FlipAngle, 90);
  assert.equal(mr.MagneticFieldStrength, 3);
  const enh = (await convertSeries(deidentified(byName("enhanced-mr").files))).volumes[0].sidecar;
  assert.equal(enh.RepetitionTime, 2.5); // from the shared functional groups
  assert.equal(enh.FlipAngle, 12);
});

Deno.test("with clean-descriptors the cleaned SeriesDescription is kept, as de-identified", async () => {
  const session = new DeidSession(deidConfig({ options: ["clean-descriptors"] }), new Keys(SALT));
  const files = deidentified(byName("rescaled").files, session);
  const kept =
    decodeStrings(files[0].dataset.elements.find((e) => e.tag === 0x0008103e)!, files[0].dataset)[0];
  const r = await convertSeries(files);
  assert.equal(r.volumes[0].sidecar.SeriesDescription, kept);
  assert.ok(!JSON.stringify(r.volumes[0].sidecar).includes(NIFTI_PHI.patientName.split("^")[1]));
});

Deno.test("sidecars refuse data that was not de-identified, unless the protocol only sorts", async () => {
  const raw = byName("rescaled").files.map((b) => parseDicom(b).file);
  await assert.rejects(convertSeries(raw), NotDeidentifiedError);
  const r = await convertSeries(raw, { identified: true });
  assert.equal(r.volumes.length, 1);
});

Deno.test("compressed pixel data that cannot be decoded is reported, never dropped", async () => {
  const cases: [string, RegExp][] = [
    // Same bytes, declared JPEG 2000: the decoder says why it stops.
    ["1.2.840.10008.1.2.4.91", /JPEG 2000: the codestream could not be decoded \(.+\)/],
    // Video is a stream, not frames: not decoded.
    ["1.2.840.10008.1.2.4.100", /MPEG2 Main Profile \(1\.2\.840\.10008\.1\.2\.4\.100\) is video/],
  ];
  for (const [uid, reason] of cases) {
    const files = deidentified(byName("rle").files);
    for (const f of files) {
      (f as { transferSyntax: DicomFile["transferSyntax"] }).transferSyntax = { ...f.transferSyntax, uid };
    }
    const r = await convertSeries(files);
    assert.equal(r.volumes.length, 0);
    assert.match(r.notConverted ?? "", reason);
  }
});

Deno.test("NIfTI paths follow the DICOM output path with the extension replaced", () => {
  assert.deepEqual(niftiPaths("SUB1/1_CT/0001.dcm"), {
    nifti: "SUB1/1_CT/0001.nii.gz",
    sidecar: "SUB1/1_CT/0001.json",
  });
  assert.deepEqual(niftiPaths("a.b/series", "_2"), {
    nifti: "a.b/series_2.nii.gz",
    sidecar: "a.b/series_2.json",
  });
});

Deno.test("protocol: output.format is dicom by default, nifti or both when asked, nothing else", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-format-" });
  try {
    const write = async (format?: string) => {
      const path = join(dir, `p-${format ?? "default"}.yaml`);
      await Deno.writeTextFile(
        path,
        `version: 1\nname: fmt\ninput:\n  root: ./raw\noutput:\n  root: ./out\n` +
          (format ? `  format: ${format}\n` : ""),
      );
      return path;
    };
    assert.equal((await loadProtocol(await write())).output.format, "dicom");
    assert.equal((await loadProtocol(await write("nifti"))).output.format, "nifti");
    assert.equal((await loadProtocol(await write("both"))).output.format, "both");
    await assert.rejects(loadProtocol(await write("analyze")), (e: Error) => {
      assert.ok(e instanceof ProtocolError);
      assert.match(e.message, /output\.format must be "dicom", "nifti" or "both"/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fixtures: same dimensions, voxel values and sform as dcm2niix", async () => {
  if (!(await hasTool("dcm2niix", ["-v"]))) return;
  let compared = 0;
  let maxDiff = 0;
  const problems: string[] = [];
  for (const fx of fixtures) {
    if (fx.expect.dims.length === 0) continue; // reported, not converted: nothing to compare
    if (fx.dcm2niixDiffers) continue; // checked voxel by voxel against the fixture's own values
    const ours = await convertFixture(fx.files);
    const theirs = await dcm2niix(fx.files.map((bytes, i) => ({ name: `${fx.name}-${i}.dcm`, bytes })));
    const r = await compareSeries(fx.name, ours, theirs);
    compared += r.compared;
    maxDiff = Math.max(maxDiff, r.maxDiff);
    problems.push(...r.problems);
    if (r.notComparable) problems.push(`${fx.name}: ${r.notComparable}`);
  }
  console.log(
    `nifti fixtures vs dcm2niix: ${compared} volumes compared, max sform difference ${
      maxDiff.toExponential(2)
    } mm`,
  );
  assert.deepEqual(problems, []);
});

Deno.test("RLE: corpus frames decode exactly as dcmtk's dcmdrle decodes them", async () => {
  const files = (await corpusFiles()).filter((p) => /RLE|rle/.test(p));
  if (files.length === 0 || !(await hasTool("dcmdrle", ["--version"]))) return;
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-rle-" });
  try {
    for (const [i, path] of files.entries()) {
      const rle = await readDicomFile(path);
      if (rle.transferSyntax.uid !== "1.2.840.10008.1.2.5") continue;
      const out = join(dir, `${i}.dcm`);
      const r = await runTool("dcmdrle", [path, out]);
      assert.equal(r?.code, 0, r?.stderr);
      const native = await readDicomFile(out);
      const fmt = pixelFormat(rle.dataset);
      const ours = await readFrames(rle, fmt);
      const theirs = await readFrames(native, pixelFormat(native.dataset));
      assert.equal(ours.length, fmt.frames);
      assert.deepEqual(ours, theirs, path);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The corpus as series: by SeriesInstanceUID, a repeated SOPInstanceUID starting another copy. */
async function corpusSeries(): Promise<{ label: string; paths: string[] }[]> {
  const groups = new Map<string, { label: string; paths: string[]; uids: Set<string> }[]>();
  for (const path of await corpusFiles()) {
    let file: DicomFile;
    try {
      file = await readDicomFile(path, { headerOnly: true });
    } catch {
      continue; // not DICOM or unreadable: the scan's business, not a series
    }
    if (file.isDicomDir) continue;
    const get = (t: number) => {
      const el = file.dataset.elements.find((e) => e.tag === t);
      return el ? decodeStrings(el, file.dataset)[0] ?? "" : "";
    };
    const key = get(0x0020000e) || `file:${path}`;
    const sop = get(0x00080018) || path;
    const copies = groups.get(key) ?? [];
    let copy = copies.find((c) => !c.uids.has(sop));
    if (!copy) {
      copy = { label: `${path.slice(CORPUS.length)}`, paths: [], uids: new Set() };
      copies.push(copy);
    }
    copy.paths.push(path);
    copy.uids.add(sop);
    groups.set(key, copies);
  }
  return [...groups.values()].flat().map(({ label, paths }) => ({ label, paths }));
}

Deno.test("corpus: every series dcm2niix converts is converted alike or reported with a reason", async () => {
  const series = await corpusSeries();
  if (series.length === 0) return;
  if (!(await hasTool("dcm2niix", ["-v"]))) return;
  let compared = 0;
  let maxDiff = 0;
  const problems: string[] = [];
  const skipped: string[] = [];
  const session = new DeidSession(deidConfig(), new Keys(SALT));
  for (const s of series) {
    const files: DicomFile[] = [];
    try {
      for (const p of s.paths) files.push(await readDicomFile(p));
    } catch {
      continue; // a broken file: the run quarantines it before any conversion
    }
    const sources = files.map((f) => sourceFacts(f.dataset)); // before de-identification removes them
    for (const f of files) session.deidentify(f);
    const ours = await convertSeries(files, { sources });
    const theirs = await dcm2niix(s.paths.map((path, i) => ({ name: `${i}`, path })));
    const r = await compareSeries(s.label, ours, theirs);
    compared += r.compared;
    maxDiff = Math.max(maxDiff, r.maxDiff);
    problems.push(...r.problems);
    if (r.notComparable && theirs.length) skipped.push(`${s.label}: ${r.notComparable}`);
  }
  console.log(
    `nifti corpus vs dcm2niix: ${compared} volumes compared, max sform difference ${
      maxDiff.toExponential(2)
    } mm; ` +
      `${skipped.length} series dcm2niix converts that we report instead`,
  );
  for (const line of skipped) noteOnce(`  ${line}`);
  assert.deepEqual(problems, []);
  assert.ok(compared > 0);
});
