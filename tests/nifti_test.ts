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
import {
  type ConvertedVolume,
  convertSeries,
  niftiPaths,
  type SeriesConversion,
} from "../src/nifti/convert.ts";
import { type Mat4, qformOf, qformToAffine } from "../src/nifti/geometry.ts";
import { gunzip } from "../src/nifti/gzip.ts";
import { type NiftiHeader, parseNifti1Header, voxelValues } from "../src/nifti/nifti1.ts";
import { NotDeidentifiedError } from "../src/nifti/errors.ts";
import { pixelFormat, readFrames } from "../src/nifti/pixels.ts";
import { loadProtocol } from "../src/protocol/load.ts";
import { ProtocolError } from "../src/protocol/errors.ts";
import { NIFTI_PHI, niftiSeries, rotatedIOP, value } from "./fixtures/nifti_fixtures.ts";
import { CORPUS, corpusFiles, hasTool, noteOnce, runTool } from "./helpers.ts";

const SALT = new TextEncoder().encode("nifti-test-salt-0123456789");

/** Parse and de-identify with the basic profile, as a run does before converting. */
function deidentified(
  files: Uint8Array[],
  session = new DeidSession(deidConfig(), new Keys(SALT)),
): DicomFile[] {
  return files.map((bytes) => {
    const file = parseDicom(bytes).file;
    session.deidentify(file);
    return file;
  });
}

/** A written volume read back: header, unscaled voxels. */
interface Read {
  readonly header: NiftiHeader;
  readonly voxels: Float64Array;
  readonly bytes: Uint8Array;
}

async function readVolume(v: ConvertedVolume): Promise<Read> {
  const bytes = await gunzip(v.nifti);
  const header = parseNifti1Header(bytes);
  return { header, voxels: voxelValues(bytes, header), bytes };
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
    const r = await convertSeries(deidentified(fx.files));
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
    const r = await convertSeries(deidentified(fx.files));
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
    const r = await convertSeries(deidentified(fx.files));
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

Deno.test("compressed pixel data without a decoder is reported, never dropped", async () => {
  const fx = byName("rle");
  const files = deidentified(fx.files);
  // Same bytes, declared JPEG 2000: the converter must say why it stops.
  for (const f of files) {
    (f as { transferSyntax: DicomFile["transferSyntax"] }).transferSyntax = {
      ...f.transferSyntax,
      uid: "1.2.840.10008.1.2.4.91",
    };
  }
  const r = await convertSeries(files);
  assert.equal(r.volumes.length, 0);
  assert.match(r.notConverted ?? "", /JPEG 2000 \(1\.2\.840\.10008\.1\.2\.4\.91\) has no decoder/);
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

// ---------------------------------------------------------------------------------------------
// Against dcm2niix

/** One dcm2niix output volume. */
interface Theirs {
  readonly name: string;
  readonly header: NiftiHeader;
  readonly voxels: Float64Array;
}

async function dcm2niix(inputs: { name: string; bytes?: Uint8Array; path?: string }[]): Promise<Theirs[]> {
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-nifti-" });
  try {
    await Deno.mkdir(join(dir, "in"));
    await Deno.mkdir(join(dir, "out"));
    for (const [i, f] of inputs.entries()) {
      const dest = join(dir, "in", `${i}_${f.name}`);
      if (f.bytes) await Deno.writeFile(dest, f.bytes);
      else await Deno.copyFile(f.path!, dest);
    }
    // -p n: plain DICOM scaling, not Philips' private "precise" scaling (private tags are removed anyway).
    await runTool("dcm2niix", [
      "-z",
      "n",
      "-b",
      "n",
      "-p",
      "n",
      "-f",
      "%s_%d",
      "-o",
      join(dir, "out"),
      join(dir, "in"),
    ]);
    const out: Theirs[] = [];
    for await (const e of Deno.readDir(join(dir, "out"))) {
      if (!e.name.endsWith(".nii")) continue;
      const bytes = await Deno.readFile(join(dir, "out", e.name));
      const header = parseNifti1Header(bytes);
      out.push({ name: e.name, header, voxels: voxelValues(bytes, header) });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : 1));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function invert(m: Mat4): Mat4 | undefined {
  // 4x4 affine inverse: invert the 3x3 part, then the translation.
  const a = m;
  const det = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
    a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
    a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
  if (Math.abs(det) < 1e-12) return undefined;
  const c = (r: number, k: number) => {
    const rows = [0, 1, 2].filter((x) => x !== k);
    const cols = [0, 1, 2].filter((x) => x !== r);
    const minor = a[rows[0]][cols[0]] * a[rows[1]][cols[1]] - a[rows[0]][cols[1]] * a[rows[1]][cols[0]];
    return ((r + k) % 2 ? -1 : 1) * minor / det;
  };
  const inv = [0, 1, 2].map((r) => [0, 1, 2].map((k) => c(r, k)));
  const t = [0, 1, 2].map((r) => -(inv[r][0] * a[0][3] + inv[r][1] * a[1][3] + inv[r][2] * a[2][3]));
  return [[...inv[0], t[0]], [...inv[1], t[1]], [...inv[2], t[2]], [0, 0, 0, 1]];
}

function multiply(a: Mat4, b: Mat4): Mat4 {
  return [0, 1, 2, 3].map((r) => [0, 1, 2, 3].map((c) => a[r].reduce((s, v, k) => s + v * b[k][c], 0)));
}

/** How one volume compares with dcm2niix's. */
interface Comparison {
  readonly ok: boolean;
  readonly why?: string;
  /** Largest difference between the two sforms (mm), after matching voxel axes. */
  readonly sformDiff?: number;
}

/**
 * Compare in world space: dcm2niix may flip axes (it flips rows), so find the signed axis
 * permutation that maps our voxel grid onto theirs from the two sforms, check that it is one, that
 * the sforms then agree within 1e-3 mm, and that every voxel has the same scaled value at the same
 * place. Without patient geometry (sform code 0 in both), dcm2niix's row flip is the mapping.
 */
function compare(ours: Read, theirs: Theirs, rowFlip: boolean): Comparison {
  const oh = ours.header;
  const th = theirs.header;
  const od = [...oh.dims, 1, 1].slice(0, 4);
  const td = [...th.dims, 1, 1].slice(0, 4);
  if (od[3] !== td[3]) return { ok: false, why: `volumes ${od[3]} vs ${td[3]}` };
  let perm: number[]; // their axis for each of ours
  let sign: number[];
  let shift: number[];
  let sformDiff: number | undefined;
  if (rowFlip || oh.sformCode === 0) {
    // No geometry on our side (dcm2niix may still invent one): its row flip is the only mapping.
    perm = [0, 1, 2];
    sign = [1, -1, 1];
    shift = [0, od[1] - 1, 0];
  } else {
    const inv = invert(th.sform);
    if (!inv) return { ok: false, why: "their sform is singular" };
    const m = multiply(inv, oh.sform);
    perm = [];
    sign = [];
    shift = [];
    for (let ourAxis = 0; ourAxis < 3; ourAxis++) {
      const col = [0, 1, 2].map((r) => m[r][ourAxis]);
      const their = col.findIndex((v) => Math.abs(v) > 0.5);
      if (their < 0) return { ok: false, why: "axes do not correspond" };
      perm.push(their);
      sign.push(Math.sign(col[their]));
    }
    if (new Set(perm).size !== 3) return { ok: false, why: "axes do not correspond" };
    // Their index = sign * our index + shift, on each mapped axis.
    for (let ourAxis = 0; ourAxis < 3; ourAxis++) shift.push(Math.round(m[perm[ourAxis]][3]));
    const mapped: Mat4 = [0, 1, 2, 3].map((r) => [0, 0, 0, r === 3 ? 1 : 0]);
    for (let ourAxis = 0; ourAxis < 3; ourAxis++) {
      mapped[perm[ourAxis]][ourAxis] = sign[ourAxis];
      mapped[perm[ourAxis]][3] = shift[ourAxis];
    }
    const back = multiply(th.sform, mapped);
    sformDiff = 0;
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 4; c++) sformDiff = Math.max(sformDiff, Math.abs(back[r][c] - oh.sform[r][c]));
    }
    if (sformDiff > 1e-3) return { ok: false, why: `sforms differ by ${sformDiff.toFixed(4)} mm`, sformDiff };
  }
  for (let a = 0; a < 3; a++) {
    if (od[a] !== td[perm[a]]) return { ok: false, why: `dims ${od.join("x")} vs ${td.join("x")}` };
  }
  const scale = (h: NiftiHeader, v: number) => (h.sclSlope ? v * h.sclSlope + h.sclInter : v);
  const [nx, ny, nz] = od;
  const stride = [1, td[0], td[0] * td[1]];
  const tVol = td[0] * td[1] * td[2];
  for (let t = 0; t < od[3]; t++) {
    for (let k = 0; k < nz; k++) {
      for (let j = 0; j < ny; j++) {
        for (let i = 0; i < nx; i++) {
          const ours3 = [i, j, k];
          let at = t * tVol;
          for (let a = 0; a < 3; a++) at += (sign[a] * ours3[a] + shift[a]) * stride[perm[a]];
          const o = ours.voxels[i + nx * (j + ny * (k + nz * t))];
          const x = theirs.voxels[at];
          const rgb = oh.datatype === 128 || th.datatype === 128;
          const same = rgb
            ? o === x
            : Math.abs(scale(oh, o) - scale(th, x)) <= 1e-4 * Math.max(1, Math.abs(scale(oh, o)));
          if (!same) {
            return {
              ok: false,
              why: `voxel ${i},${j},${k},${t}: ${scale(oh, o)} vs ${scale(th, x)}`,
              sformDiff,
            };
          }
        }
      }
    }
  }
  return { ok: true, sformDiff };
}

/** The t-th 3D volume of a 4D one (dcm2niix writes echoes as separate files). */
function volumeAt(r: Read, t: number): Read {
  const [nx, ny, nz] = r.header.dims;
  const n = nx * ny * nz;
  return { ...r, header: { ...r.header, dims: [nx, ny, nz] }, voxels: r.voxels.subarray(t * n, (t + 1) * n) };
}

/**
 * Series where dcm2niix's geometry is demonstrably not the DICOM's: dims and voxels are compared
 * with its row flip, the sform is not. Each entry says why.
 */
const DCM2NIIX_GEOMETRY_DIFFERS: Readonly<Record<string, string>> = {
  "rtdose.dcm": "dcm2niix spaces the frames 1 mm apart; GridFrameOffsetVector says 5 mm",
  "GH1308.dcm":
    "dcm2niix shears a single slice by GantryDetectorTilt; ImageOrientationPatient already holds the tilt",
};

/** Series whose pixels dcm2niix decodes differently from dcmtk; they are checked against dcmtk instead. */
const DCM2NIIX_PIXELS_DIFFER: Readonly<Record<string, string>> = {
  "SC_rgb_rle_2frame.dcm": "dcm2niix decodes the second RLE frame unlike dcmtk's dcmdrle (see the RLE test)",
};

/** Compare every volume we made with the dcm2niix volume it matches; returns what was compared. */
async function compareSeries(
  label: string,
  ours: SeriesConversion,
  theirs: Theirs[],
): Promise<{ compared: number; maxDiff: number; problems: string[]; notComparable?: string }> {
  const problems: string[] = [];
  if (theirs.length === 0) {
    return { compared: 0, maxDiff: 0, problems, notComparable: "dcm2niix made nothing" };
  }
  if (ours.volumes.length === 0) {
    if (!ours.notConverted) problems.push(`${label}: dcm2niix converts it, we neither convert nor say why`);
    return { compared: 0, maxDiff: 0, problems, notComparable: `not converted: ${ours.notConverted}` };
  }
  if (ours.warnings.some((w) => w.startsWith("series split")) && theirs.length !== ours.volumes.length) {
    // We split the series (segments, orientations) where dcm2niix stacked it: no part matches.
    return {
      compared: 0,
      maxDiff: 0,
      problems,
      notComparable: `split into ${ours.volumes.length} volumes (${
        ours.warnings.join("; ")
      }), dcm2niix made ${theirs.length}`,
    };
  }
  if (label in DCM2NIIX_PIXELS_DIFFER) {
    return { compared: 0, maxDiff: 0, problems, notComparable: DCM2NIIX_PIXELS_DIFFER[label] };
  }
  const rowFlip = label in DCM2NIIX_GEOMETRY_DIFFERS;
  let compared = 0;
  let maxDiff = 0;
  for (const v of ours.volumes) {
    const read = await readVolume(v);
    const results = theirs.map((t) => compare(read, t, rowFlip));
    let hit = results.find((r) => r.ok);
    const volumes = read.header.dims[3] ?? 1;
    if (!hit && volumes > 1) {
      // dcm2niix writes each echo as its own file: each of our volumes must match one of them.
      const parts = Array.from(
        { length: volumes },
        (_, t) => theirs.map((th) => compare(volumeAt(read, t), th, rowFlip)).find((r) => r.ok),
      );
      if (parts.every((p) => p)) {
        hit = {
          ok: true,
          sformDiff: Math.max(...parts.map((p) => p!.sformDiff ?? 0)),
        };
      }
    }
    if (hit) {
      compared++;
      maxDiff = Math.max(maxDiff, hit.sformDiff ?? 0);
    } else {
      problems.push(
        `${label}${v.suffix}: ${results.map((r, i) => `${theirs[i].name}: ${r.why}`).join("; ")}`,
      );
    }
  }
  return { compared, maxDiff, problems };
}

Deno.test("fixtures: same dimensions, voxel values and sform as dcm2niix", async () => {
  if (!(await hasTool("dcm2niix", ["-v"]))) return;
  let compared = 0;
  let maxDiff = 0;
  const problems: string[] = [];
  for (const fx of fixtures) {
    if (fx.expect.dims.length === 0) continue; // reported, not converted: nothing to compare
    if (fx.dcm2niixDiffers) continue; // checked voxel by voxel against the fixture's own values
    const ours = await convertSeries(deidentified(fx.files));
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
    for (const f of files) session.deidentify(f);
    const ours = await convertSeries(files);
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
