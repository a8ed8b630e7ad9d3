/**
 * Comparing our NIfTI volumes with dcm2niix's, in world space (shared by the NIfTI tests): run
 * dcm2niix on the inputs, match each of our volumes to one of its volumes through the two sforms,
 * compare voxel values after scaling.
 *
 * @module
 */
import { join } from "node:path";
import { parseDicom } from "../src/dicom/reader.ts";
import type { DicomFile } from "../src/dicom/model.ts";
import { deidConfig } from "../src/deid/config.ts";
import { Keys } from "../src/deid/keys.ts";
import { DeidSession } from "../src/deid/session.ts";
import {
  type ConvertedVolume,
  type ConvertOptions,
  convertSeries,
  type SeriesConversion,
} from "../src/nifti/convert.ts";
import { type SourceFacts, sourceFacts } from "../src/nifti/source_facts.ts";
import type { Mat4 } from "../src/nifti/geometry.ts";
import { gunzip } from "../src/nifti/gzip.ts";
import { type NiftiHeader, parseNifti1Header, voxelValues } from "../src/nifti/nifti1.ts";
import { runTool } from "./helpers.ts";

/** The salt of the NIfTI tests' de-identification sessions. */
export const NIFTI_SALT = new TextEncoder().encode("nifti-test-salt-0123456789");

/** As a run does: parse, read the source facts, de-identify (basic profile). */
export function prepared(
  files: Uint8Array[],
  session = new DeidSession(deidConfig(), new Keys(NIFTI_SALT)),
): { files: DicomFile[]; sources: SourceFacts[] } {
  const sources: SourceFacts[] = [];
  const parsed = files.map((bytes) => {
    const file = parseDicom(bytes).file;
    sources.push(sourceFacts(file.dataset));
    session.deidentify(file);
    return file;
  });
  return { files: parsed, sources };
}

/** Convert built files as a run does (facts first, then de-identified data sets). */
export function convertFixture(files: Uint8Array[], opts: ConvertOptions = {}): Promise<SeriesConversion> {
  const p = prepared(files);
  return convertSeries(p.files, { ...opts, sources: p.sources });
}

/** A written volume read back: header, unscaled voxels. */
export interface Read {
  readonly header: NiftiHeader;
  readonly voxels: Float64Array;
  readonly bytes: Uint8Array;
}

export async function readVolume(v: ConvertedVolume): Promise<Read> {
  const bytes = await gunzip(v.nifti);
  const header = parseNifti1Header(bytes);
  return { header, voxels: voxelValues(bytes, header), bytes };
}

// ---------------------------------------------------------------------------------------------
// Against dcm2niix

/** One dcm2niix output volume. */
interface Theirs {
  readonly name: string;
  readonly header: NiftiHeader;
  readonly voxels: Float64Array;
}

/**
 * dcm2niix's volumes for the inputs. `philips`: "-p y" (its default: Philips precise scaling, as
 * ours) or "-p n" (display scaling).
 */
export async function dcm2niix(
  inputs: { name: string; bytes?: Uint8Array; path?: string }[],
  philips: "y" | "n" = "y",
): Promise<Theirs[]> {
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-nifti-" });
  try {
    await Deno.mkdir(join(dir, "in"));
    await Deno.mkdir(join(dir, "out"));
    for (const [i, f] of inputs.entries()) {
      const dest = join(dir, "in", `${i}_${f.name}`);
      if (f.bytes) await Deno.writeFile(dest, f.bytes);
      else await Deno.copyFile(f.path!, dest);
    }
    await runTool("dcm2niix", [
      "-z",
      "n",
      "-b",
      "n",
      "-p",
      philips,
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
  "examples_palette.dcm":
    "dcm2niix writes PALETTE COLOR indices as grey levels; we apply the palette (RGB), as dcmtk's dcm2pnm does (tests/pixels_test.ts)",
  "JPEGwithIcon.dcm":
    "lossy JPEG: dcm2niix's decoder rounds its IDCT and upsampling otherwise; we match dcmtk's dcmdjpeg bit for bit (tests/pixels_test.ts)",
};

/** Compare every volume we made with the dcm2niix volume it matches; returns what was compared. */
export async function compareSeries(
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
