/**
 * Siemens mosaics and Philips precise scaling in the NIfTI output: the CSA header parser (both
 * layouts, corrupt input), mosaic unpacking, slice order from the sign of SliceNormalVector, the
 * affine with dcm2niix's mosaic position correction, facts read before de-identification, the
 * Philips scl_slope/scl_inter and sidecar keys; and, when dcm2niix is installed, the same volumes
 * as dcm2niix (world space, voxel values after scaling).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { deidConfig } from "../src/deid/config.ts";
import { DeidSession } from "../src/deid/session.ts";
import { Keys } from "../src/deid/keys.ts";
import { type ConvertOptions, convertSeries } from "../src/nifti/convert.ts";
import { parseCsa } from "../src/nifti/csa.ts";
import { NotConvertible } from "../src/nifti/errors.ts";
import { loadProtocol } from "../src/protocol/load.ts";
import { ProtocolError } from "../src/protocol/errors.ts";
import { processSeries } from "../src/run/series.ts";
import { encodeCsa, mosaicSeries, PHILIPS, philipsStack } from "./fixtures/mosaic_fixtures.ts";
import { NIFTI_PHI, rotatedIOP, value } from "./fixtures/nifti_fixtures.ts";
import { hasTool } from "./helpers.ts";
import { compareSeries, convertFixture, dcm2niix, prepared, readVolume } from "./nifti_dcm2niix.ts";

const SALT = new TextEncoder().encode("nifti-mosaic-salt-0123456789");

const ELEMENTS = {
  NumberOfImagesInMosaic: { vr: "US", values: ["35"] },
  SliceNormalVector: { vr: "FD", values: ["1.00000000", "0.00000000", "-0.00000000"] },
  Empty: { vr: "IS", values: [] },
};

Deno.test("CSA header: SV10 and the older layout give the same elements, values trimmed", () => {
  for (const format of ["SV10", "CSA1"] as const) {
    const csa = parseCsa(encodeCsa(ELEMENTS, format));
    assert.deepEqual(csa.get("NumberOfImagesInMosaic"), ["35"], format);
    assert.deepEqual(csa.get("SliceNormalVector"), ["1.00000000", "0.00000000", "-0.00000000"], format);
    assert.deepEqual(csa.get("Empty"), [], format);
  }
});

Deno.test("CSA header: truncated or random bytes give NotConvertible with a reason, never a hang", () => {
  const whole = encodeCsa(ELEMENTS);
  for (let n = 0; n < whole.length; n++) {
    try {
      parseCsa(whole.subarray(0, n));
    } catch (e) {
      assert.ok(e instanceof NotConvertible, `prefix ${n}: ${e}`);
      assert.match(e.message, /CSA header is corrupt/);
    }
  }
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let i = 0; i < 300; i++) {
    const bytes = Uint8Array.from({ length: 16 + Math.floor(rand() * 400) }, () => Math.floor(rand() * 256));
    if (i % 2) bytes.set([0x53, 0x56, 0x31, 0x30]); // "SV10"
    if (i % 3 === 0) bytes.set([2, 0, 0, 0, 77, 0, 0, 0], i % 2 ? 8 : 0); // a plausible count and check
    try {
      parseCsa(bytes);
    } catch (e) {
      assert.ok(e instanceof NotConvertible, String(e));
    }
  }
});

/** The LPS position the fixture puts at voxel (i, j) of slice k (mosaic order). */
function expectedLPS(m: ReturnType<typeof mosaicSeries>, i: number, j: number, k: number): number[] {
  const tiles = Math.ceil(Math.sqrt(m.images));
  const shift = (m.tile * tiles - m.tile) / 2; // dcm2niix's mosaic correction, in voxels
  const [dr, dc] = m.spacing;
  const iop = m.iop;
  const n = [
    iop[1] * iop[5] - iop[2] * iop[4],
    iop[2] * iop[3] - iop[0] * iop[5],
    iop[0] * iop[4] - iop[1] * iop[3],
  ];
  return [0, 1, 2].map((a) =>
    m.ipp[a] + (i + shift) * dc * iop[a] + (j + shift) * dr * iop[3 + a] + k * m.step * m.sign * n[a]
  );
}

Deno.test("mosaic: slices cut from the grid, kept in mosaic order for both signs of the normal; affine", async () => {
  for (const sign of [1, -1] as const) {
    for (const [images, iop] of [[4, undefined], [3, rotatedIOP(20, 10)]] as const) {
      const m = mosaicSeries({ name: "m", seriesNo: 10 + sign, sign, images, iop, volumes: 2 });
      const r = await convertFixture(m.files);
      const label = `sign ${sign}, ${images} images`;
      assert.equal(r.notConverted, undefined, label);
      assert.deepEqual(r.volumes.map((v) => v.dims), [[m.tile, m.tile, images, 2]], label);
      const { header, voxels } = await readVolume(r.volumes[0]);
      const t = m.tile;
      for (let v = 0; v < 2; v++) {
        for (let k = 0; k < images; k++) {
          for (let j = 0; j < t; j++) {
            for (let i = 0; i < t; i++) {
              assert.equal(
                voxels[i + t * (j + t * (k + images * v))],
                value(k, j, i, v),
                `${label} ${i},${j},${k},${v}`,
              );
            }
          }
        }
      }
      for (const [i, j, k] of [[0, 0, 0], [t - 1, 0, 0], [0, t - 1, 0], [0, 0, images - 1], [3, 5, 1]]) {
        const [x, y, z] = expectedLPS(m, i, j, k);
        const got = [0, 1, 2].map((a) =>
          header.sform[a][0] * i + header.sform[a][1] * j + header.sform[a][2] * k + header.sform[a][3]
        );
        assert.ok(
          got.every((g, a) => Math.abs(g - [-x, -y, z][a]) < 1e-3),
          `${label} sform at ${i},${j},${k}: ${got} vs ${[-x, -y, z]}`,
        );
      }
      assert.ok(Math.abs(header.pixdim[3] - m.step) < 1e-4);
      assert.deepEqual(r.volumes[0].sidecar.SliceTiming, m.times.map((x) => x / 1000));
      const json = JSON.stringify(r.volumes[0].sidecar);
      for (const phi of Object.values(NIFTI_PHI)) assert.ok(!json.includes(phi), `sidecar holds ${phi}`);
    }
  }
});

Deno.test("mosaic: the older CSA layout converts alike", async () => {
  const a = await convertFixture(mosaicSeries({ name: "a", seriesNo: 20, sign: -1 }).files);
  const b = await convertFixture(mosaicSeries({ name: "b", seriesNo: 20, sign: -1, csa: "CSA1" }).files);
  assert.deepEqual(
    (await readVolume(a.volumes[0])).header.sform,
    (await readVolume(b.volumes[0])).header.sform,
  );
});

Deno.test("mosaic: without a readable CSA header, or with facts read after de-identification, a clear reason", async () => {
  for (
    const [csa, why] of [["none", /no CSA Image Header Info/], ["corrupt", /CSA header is corrupt/]] as const
  ) {
    const r = await convertFixture(mosaicSeries({ name: csa, seriesNo: 30, sign: 1, csa }).files);
    assert.equal(r.volumes.length, 0);
    assert.match(r.notConverted ?? "", /Siemens mosaic whose CSA header cannot be read/);
    assert.match(r.notConverted ?? "", why);
  }
  // De-identification removes the private CSA header: facts must come from the source.
  const late = prepared(mosaicSeries({ name: "late", seriesNo: 31, sign: 1 }).files).files;
  const r = await convertSeries(late);
  assert.equal(r.volumes.length, 0);
  assert.match(r.notConverted ?? "", /before de-identification/);
});

Deno.test("mosaic: a run's series job reads the facts before de-identifying", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-mosaic-run-" });
  try {
    const m = mosaicSeries({ name: "run", seriesNo: 40, sign: -1, volumes: 2 });
    const files = [];
    for (const [i, bytes] of m.files.entries()) {
      const path = join(dir, `in${i}.dcm`);
      await Deno.writeFile(path, bytes);
      files.push({ index: i, path });
    }
    const session = new DeidSession(deidConfig(), new Keys(SALT));
    const o = await processSeries(
      { series: 0, root: join(dir, "out"), stem: "sub/mosaic", frames: 8, files, identified: false },
      session,
    );
    assert.equal(o.notConverted, undefined);
    assert.deepEqual(o.volumes.map((v) => v.dims), [[8, 8, 4, 2]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Philips: precise scaling by default (scl_slope 1/SS, scl_inter RI/(RS*SS)), display on request", async () => {
  const { rescaleSlope: rs, rescaleIntercept: ri } = PHILIPS;
  const ss = Math.fround(PHILIPS.scaleSlope);
  const precise = await convertFixture(philipsStack(1));
  const p = (await readVolume(precise.volumes[0])).header;
  assert.ok(Math.abs(p.sclSlope - 1 / ss) < 1e-3, `${p.sclSlope}`);
  assert.ok(Math.abs(p.sclInter - ri / (rs * ss)) < 1e-2, `${p.sclInter}`);
  assert.equal(precise.volumes[0].sidecar.UsePhilipsFloatNotDisplayScaling, 1);
  assert.equal(precise.volumes[0].sidecar.PhilipsRescaleSlope, rs);
  assert.equal(precise.volumes[0].sidecar.PhilipsRescaleIntercept, ri);
  assert.equal(precise.volumes[0].sidecar.PhilipsScaleSlope, PHILIPS.scaleSlope);
  const display = await convertFixture(philipsStack(1), { philipsScaling: "display" });
  const d = (await readVolume(display.volumes[0])).header;
  assert.equal(d.sclSlope, rs);
  assert.equal(d.sclInter, ri);
  assert.equal(display.volumes[0].sidecar.UsePhilipsFloatNotDisplayScaling, 0);
  // The private slope is gone after de-identification: without the source facts, display values.
  const late = await convertSeries(prepared(philipsStack(1)).files);
  assert.equal((await readVolume(late.volumes[0])).header.sclSlope, rs);
  assert.ok(!("UsePhilipsFloatNotDisplayScaling" in late.volumes[0].sidecar));
});

Deno.test("protocol: nifti.philips_scaling is precise by default, display when asked, nothing else", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-philips-" });
  try {
    const write = async (v?: string) => {
      const path = join(dir, `p-${v ?? "default"}.yaml`);
      await Deno.writeTextFile(
        path,
        `version: 1\nname: ps\ninput:\n  root: ./raw\noutput:\n  root: ./out\n  format: nifti\n` +
          (v ? `nifti:\n  philips_scaling: ${v}\n` : ""),
      );
      return path;
    };
    assert.equal((await loadProtocol(await write())).nifti.philipsScaling, "precise");
    assert.equal((await loadProtocol(await write("display"))).nifti.philipsScaling, "display");
    await assert.rejects(loadProtocol(await write("exact")), ProtocolError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mosaics and Philips scaling: the same volumes as dcm2niix", async () => {
  if (!(await hasTool("dcm2niix", ["-v"]))) return;
  const cases: { label: string; files: Uint8Array[]; opts?: ConvertOptions; p?: "y" | "n" }[] = [
    { label: "mosaic +", files: mosaicSeries({ name: "a", seriesNo: 50, sign: 1, volumes: 2 }).files },
    { label: "mosaic -", files: mosaicSeries({ name: "b", seriesNo: 51, sign: -1, volumes: 2 }).files },
    {
      label: "mosaic oblique, 3 of 4 tiles",
      files: mosaicSeries({ name: "c", seriesNo: 52, sign: -1, images: 3, iop: rotatedIOP(20, 10) }).files,
    },
    { label: "philips precise", files: philipsStack(53), p: "y" },
    { label: "philips display", files: philipsStack(54), opts: { philipsScaling: "display" }, p: "n" },
  ];
  let compared = 0;
  let maxDiff = 0;
  const problems: string[] = [];
  for (const c of cases) {
    const ours = await convertFixture(c.files, c.opts);
    const theirs = await dcm2niix(c.files.map((bytes, i) => ({ name: `${i}.dcm`, bytes })), c.p ?? "y");
    const r = await compareSeries(c.label, ours, theirs);
    compared += r.compared;
    maxDiff = Math.max(maxDiff, r.maxDiff);
    problems.push(...r.problems, ...(r.notComparable ? [`${c.label}: ${r.notComparable}`] : []));
  }
  console.log(
    `mosaic/Philips fixtures vs dcm2niix: ${compared} volumes compared, max sform difference ${
      maxDiff.toExponential(2)
    } mm`,
  );
  assert.deepEqual(problems, []);
  assert.equal(compared, cases.length);
});
