/**
 * NIfTI output for one series: de-identified data sets in, gzipped NIfTI-1 volumes and their
 * sidecars out, or the reason why (part of) the series was not converted. Nothing is dropped
 * without a word: every frame ends in a volume or in `notConverted`.
 *
 * @module
 */
import type { DicomFile } from "../dicom/model.ts";
import { tags } from "../standard/tags.ts";
import { VERSION } from "../version.ts";
import { string } from "./attrs.ts";
import { NotConvertible } from "./errors.ts";
import { gzip } from "./gzip.ts";
import { unpackMosaic } from "./mosaic.ts";
import { type Datatype, DT, encodeNifti1 } from "./nifti1.ts";
import { isRgb, readFrames, type Samples } from "./pixels.ts";
import { buildSidecar } from "./sidecar.ts";
import { type SourceFacts, sourceFacts } from "./source_facts.ts";
import { collectFrames, type FrameRef, planVolumes, type VolumePlan } from "./volume.ts";

/** Options for `convertSeries`. */
export interface ConvertOptions {
  /**
   * The data sets were not de-identified because the protocol only sorts. Without it, the
   * sidecar refuses data sets that are not marked PatientIdentityRemoved YES.
   */
  readonly identified?: boolean;
  /**
   * What `sourceFacts` read from each file before de-identification (same order as the files):
   * the CSA header of a Siemens mosaic, Philips' private scale slope. A file without facts has
   * them read from its data set as given (which, de-identified, no longer holds them).
   */
  readonly sources?: readonly (SourceFacts | undefined)[];
  /**
   * Philips images with a private MR Scale Slope: "precise" (default, as dcm2niix) stores the
   * floating point values, scl_slope 1/SS and scl_inter RI/(RS*SS); "display" the displayed
   * values RS * PV + RI.
   */
  readonly philipsScaling?: "precise" | "display";
}

/** One volume of a series, ready to write. */
export interface ConvertedVolume {
  /** The .nii.gz bytes. */
  readonly nifti: Uint8Array;
  /** The JSON sidecar (write with `sidecarBytes`). */
  readonly sidecar: Record<string, unknown>;
  /** "" for the only volume of a series; "_1", "_2", ... when a series was split. */
  readonly suffix: string;
  /** x, y, z (and t). */
  readonly dims: readonly number[];
  /** Indices (into the data sets given) of the instances that make up this volume. */
  readonly instances: readonly number[];
}

/** What became of a series. */
export interface SeriesConversion {
  /** One volume, several when the series had to be split, none when nothing could be converted. */
  readonly volumes: ConvertedVolume[];
  /** Why the series, or part of it, was not converted (undefined when every frame is in a volume). */
  readonly notConverted?: string;
  /** Things to know about the conversion (a split, RescaleSlope 0 taken as 1, ...). */
  readonly warnings: string[];
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("NIfTI output assumes a little-endian platform");
}

/**
 * Convert one series. `files` are full reads (Pixel Data present or left in the source file) that
 * went through `DeidSession.deidentify` (unless `identified`). Never throws for a property of the
 * data: that is reported in `notConverted`. Throws `NotDeidentifiedError` for data sets not marked
 * PatientIdentityRemoved YES, unless `identified`.
 *
 * @example Converting a sorted (not de-identified) series and writing its volumes
 * ```ts
 * import { readDicomFile } from "../dicom/read_file.ts";
 * import { convertSeries, niftiPaths } from "./convert.ts";
 * import { sidecarBytes } from "./sidecar.ts";
 *
 * const files = [await readDicomFile("series/0001.dcm"), await readDicomFile("series/0002.dcm")];
 * // De-identified data (each file through DeidSession.deidentify) needs no `identified`.
 * const { volumes, notConverted, warnings } = await convertSeries(files, { identified: true });
 * for (const v of volumes) {
 *   // One volume is named after the series' first DICOM output; a split series adds _1, _2, ...
 *   const paths = niftiPaths("out/0001.dcm", v.suffix); // out/0001.nii.gz and out/0001.json
 *   await Deno.writeFile(paths.nifti, v.nifti);
 *   await Deno.writeFile(paths.sidecar, sidecarBytes(v.sidecar));
 * }
 * if (notConverted) console.warn(`not converted: ${notConverted}`);
 * for (const w of warnings) console.warn(w);
 * ```
 */
export async function convertSeries(
  files: readonly DicomFile[],
  opts: ConvertOptions = {},
): Promise<SeriesConversion> {
  const warnings: string[] = [];
  const seen = new Map<string, number>();
  const unique: DicomFile[] = [];
  const facts: SourceFacts[] = [];
  const indexOf: number[] = [];
  const precise = (opts.philipsScaling ?? "precise") === "precise";
  files.forEach((f, i) => {
    const uid = string(f.dataset, tags.SOPInstanceUID);
    if (uid !== undefined && seen.has(uid)) {
      warnings.push(
        `instance ${i + 1} repeats instance ${seen.get(uid)! + 1} (same SOPInstanceUID): used once`,
      );
      return;
    }
    if (uid !== undefined) seen.set(uid, i);
    unique.push(f);
    facts.push(opts.sources?.[i] ?? sourceFacts(f.dataset));
    indexOf.push(i);
  });
  if (unique.length === 0) return { volumes: [], notConverted: "no instances", warnings };
  let plans: ReturnType<typeof planVolumes>;
  try {
    const collected = collectFrames(unique.map((f) => f.dataset), facts);
    warnings.push(...collected.warnings);
    plans = planVolumes(collected.frames);
    plans.rejected.unshift(...collected.rejected);
  } catch (e) {
    if (e instanceof NotConvertible) return { volumes: [], notConverted: e.message, warnings };
    throw e;
  }
  const reasons = plans.rejected.map((r) =>
    plans.volumes.length ? `${r.frames} frame(s) not converted: ${r.reason}` : r.reason
  );
  if (plans.split && plans.volumes.length + plans.rejected.length > 1) {
    warnings.push(`series split into ${plans.volumes.length + plans.rejected.length} parts: ${plans.split}`);
  }
  const volumes: ConvertedVolume[] = [];
  const decoded = new Map<number, Samples[]>();
  const samplesOf = async (ref: FrameRef): Promise<Samples> => {
    let frames = decoded.get(ref.file);
    if (!frames) {
      frames = ref.mosaic
        ? unpackMosaic((await readFrames(unique[ref.file], ref.mosaic.source))[0], ref.mosaic)
        : await readFrames(unique[ref.file], ref.fmt);
      decoded.set(ref.file, frames);
    }
    return frames[ref.frame];
  };
  try {
    for (const [n, plan] of plans.volumes.entries()) {
      const suffix = plans.volumes.length > 1 ? `_${n + 1}` : "";
      const data = await assemble(plan, samplesOf, precise);
      warnings.push(...plan.warnings.map((w) => (suffix ? `${suffix}: ${w}` : w)), ...data.warnings);
      const datasets = plan.files.map((i) => unique[i].dataset);
      const first = plan.frames[0];
      const sidecar = buildSidecar(datasets, {
        identified: opts.identified,
        extra: {
          ...(first.geometry ? { ImageOrientationPatientDICOM: first.geometry.iop } : {}),
          ...sourceSidecar(plan, facts, precise),
        },
      });
      const tr = typeof sidecar.RepetitionTime === "number" ? sidecar.RepetitionTime : 1;
      const nii = encodeNifti1({
        dims: plan.dims,
        datatype: data.datatype,
        pixdim: [...plan.pixdim, plan.dims.length > 3 ? tr : 1],
        sclSlope: data.slope,
        sclInter: data.inter,
        affine: plan.affine,
        descrip: `dcmtidy ${VERSION}`,
        data: data.bytes,
      });
      volumes.push({
        nifti: await gzip(nii),
        sidecar,
        suffix,
        dims: plan.dims,
        instances: plan.files.map((i) => indexOf[i]),
      });
      decodedCleanup(decoded, plans.volumes.slice(n + 1));
    }
  } catch (e) {
    if (e instanceof NotConvertible) return { volumes: [], notConverted: e.message, warnings };
    throw e;
  }
  return { volumes, notConverted: reasons.length ? reasons.join("; ") : undefined, warnings };
}

/** Forget decoded frames no later volume needs (memory stays near one volume's worth). */
function decodedCleanup(decoded: Map<number, Samples[]>, later: VolumePlan[]): void {
  const needed = new Set(later.flatMap((p) => p.files));
  for (const k of [...decoded.keys()]) if (!needed.has(k)) decoded.delete(k);
}

/**
 * A frame's scaling: RescaleSlope/Intercept, or with Philips precise scaling (dcm2niix's
 * PhilipsPrecise, PMC3998685) FP = (PV * RS + RI) / (RS * SS) as slope and intercept.
 */
function scalingOf(f: FrameRef, precise: boolean): { slope: number; intercept: number } {
  const ss = f.philipsScale;
  if (!precise || ss === undefined || f.slope * ss === 0) return { slope: f.slope, intercept: f.intercept };
  return { slope: 1 / ss, intercept: f.intercept / (f.slope * ss) };
}

/** What the source facts add to a volume's sidecar (only numbers): slice timing, Philips scaling. */
function sourceSidecar(
  plan: VolumePlan,
  facts: readonly SourceFacts[],
  precise: boolean,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const first = plan.frames[0];
  const times = facts[first.file]?.mosaic?.sliceTimes;
  if (first.mosaic && times) {
    // As dcm2niix: the first volume's times (later ones differ by the odd ms), in seconds to 6
    // significant digits, shifted so that none is negative, in mosaic (slice) order.
    const min = Math.min(0, ...times);
    out.SliceTiming = times.map((t) => Number(((t - min) / 1000).toPrecision(6)));
  }
  const ss = first.philipsScale;
  if (
    ss !== undefined &&
    plan.frames.every((f) =>
      f.philipsScale === ss && f.slope === first.slope && f.intercept === first.intercept
    )
  ) {
    // The shortest decimal that reads back as the same float32 (0.004, not 0.00400000019).
    const f32 = (v: number) => {
      const x = Math.fround(v);
      for (let p = 1; p < 9; p++) {
        if (Math.fround(Number(x.toPrecision(p))) === x) return Number(x.toPrecision(p));
      }
      return Number(x.toPrecision(9));
    };
    out.PhilipsRescaleSlope = first.slope;
    out.PhilipsRescaleIntercept = first.intercept;
    out.PhilipsScaleSlope = f32(ss);
    out.UsePhilipsFloatNotDisplayScaling = precise ? 1 : 0;
  }
  return out;
}

/** The voxel bytes of a volume, the datatype that holds them, and the scaling. */
async function assemble(
  plan: VolumePlan,
  samplesOf: (ref: FrameRef) => Promise<Samples>,
  precise: boolean,
): Promise<{ bytes: Uint8Array; datatype: Datatype; slope: number; inter: number; warnings: string[] }> {
  const fmt = plan.frames[0].fmt;
  const perFrame = fmt.rows * fmt.columns * (isRgb(fmt) ? 3 : 1);
  const total = perFrame * plan.frames.length;
  const frames: Samples[] = [];
  for (const ref of plan.frames) frames.push(await samplesOf(ref));
  if (isRgb(fmt)) {
    const out = new Uint8Array(total);
    frames.forEach((f, i) => out.set(f, i * perFrame));
    return { bytes: out, datatype: DT.RGB24, slope: 1, inter: 0, warnings: [] };
  }
  const scaling = plan.frames.map((f) => scalingOf(f, precise));
  const { slope, intercept } = scaling[0];
  const uniform = scaling.every((f) => f.slope === slope && f.intercept === intercept);
  if (!uniform) {
    const out = new Float32Array(total);
    frames.forEach((f, i) => {
      const { slope: s, intercept: b } = scaling[i];
      const base = i * perFrame;
      for (let p = 0; p < perFrame; p++) out[base + p] = f[p] * s + b;
    });
    return {
      bytes: new Uint8Array(out.buffer),
      datatype: DT.FLOAT32,
      slope: 1,
      inter: 0,
      warnings: [
        "RescaleSlope/RescaleIntercept differ between frames: voxels stored as float32, already scaled",
      ],
    };
  }
  let max = -Infinity;
  for (const f of frames) for (let p = 0; p < f.length; p++) if (f[p] > max) max = f[p];
  const datatype = integerType(fmt.bitsAllocated, fmt.signed, max);
  const Ctor = {
    [DT.UINT8]: Uint8Array,
    [DT.INT8]: Int8Array,
    [DT.INT16]: Int16Array,
    [DT.UINT16]: Uint16Array,
    [DT.INT32]: Int32Array,
    [DT.UINT32]: Uint32Array,
  }[datatype as number]!;
  const out = new Ctor(total);
  frames.forEach((f, i) => out.set(f, i * perFrame));
  return { bytes: new Uint8Array(out.buffer), datatype, slope, inter: intercept, warnings: [] };
}

/**
 * The NIfTI integer type for the samples: signed 16 bits when unsigned data fits (most tools
 * read INT16 best), else the type of the stored width and signedness.
 */
function integerType(bitsAllocated: number, signed: boolean, max: number): Datatype {
  if (bitsAllocated <= 8) return signed ? DT.INT8 : DT.UINT8;
  if (bitsAllocated === 16) return signed || max <= 0x7fff ? DT.INT16 : DT.UINT16;
  return signed || max <= 0x7fffffff ? DT.INT32 : DT.UINT32;
}

/**
 * Where a series' NIfTI goes: the DICOM output path of its first instance with the file
 * template's extension replaced (`.../0001.dcm` -> `.../0001.nii.gz`), plus the volume's suffix.
 */
export function niftiPaths(dicomDest: string, suffix = ""): { nifti: string; sidecar: string } {
  const slash = Math.max(dicomDest.lastIndexOf("/"), dicomDest.lastIndexOf("\\"));
  const dot = dicomDest.lastIndexOf(".");
  const stem = dot > slash + 1 ? dicomDest.slice(0, dot) : dicomDest;
  return { nifti: `${stem}${suffix}.nii.gz`, sidecar: `${stem}${suffix}.json` };
}

/**
 * Every name a series' NIfTI output may take, relative to the output root: `<stem>.nii.gz` and
 * `<stem>.json` for one volume, `<stem>_1...` up to `<stem>_<frames>` when the series splits (a
 * volume holds at least one frame). The plan reserves all of them, so no split can land on a
 * name another series or a DICOM file has.
 */
export function niftiFamily(stem: string, frames: number): string[] {
  const out = [`${stem}.nii.gz`, `${stem}.json`];
  for (let i = 1; i <= frames; i++) out.push(`${stem}_${i}.nii.gz`, `${stem}_${i}.json`);
  return out;
}
