/**
 * From a series' data sets to volumes: every frame (classic single-frame files, classic
 * multi-frame, enhanced multi-frame through its functional groups) with its geometry, grouped into
 * stacks that can share one affine, ordered along the slice normal, repeated positions as the
 * fourth dimension. What cannot form a volume is split off or reported with the reason.
 */
import type { DataSet } from "../dicom/model.ts";
import { tags } from "../standard/tags.ts";
import { firstItem, frameValue, items, number, numbers, string, strings } from "./attrs.ts";
import {
  affineRAS,
  dot,
  type Mat4,
  orientation,
  orientationKey,
  SAME_POSITION_MM,
  stackOf,
  type Vec3,
} from "./geometry.ts";
import { NotConvertible } from "./errors.ts";
import { type MosaicLayout, splitMosaic } from "./mosaic.ts";
import { type PixelFormat, pixelFormat } from "./pixels.ts";
import { isMosaic, type SourceFacts } from "./source_facts.ts";

/** One frame of the series: where it comes from and where it lies. */
export interface FrameRef {
  /** Index of the data set in the series as given. */
  readonly file: number;
  /** Frame number within that data set (0-based). */
  readonly frame: number;
  /** The format of this frame (of one slice, for a mosaic). */
  readonly fmt: PixelFormat;
  /** Set when the frame is slice `frame` of a Siemens mosaic: decode the mosaic, then cut it. */
  readonly mosaic?: MosaicLayout;
  /** Patient geometry; absent for images that have none (secondary capture, most CR and US). */
  readonly geometry?: {
    readonly iop: number[];
    readonly row: Vec3;
    readonly col: Vec3;
    readonly normal: Vec3;
    readonly ipp: Vec3;
  };
  /** (row spacing, column spacing) in mm; [1, 1] when unknown. */
  readonly pixelSpacing: [number, number];
  readonly sliceThickness?: number;
  /** SpacingBetweenSlices, when positive (the depth of a single-slice volume, as dcm2niix takes it). */
  readonly sliceSpacing?: number;
  /** Frames of different stacks (enhanced StackID) or segments (SEG) never share a volume. */
  readonly stack: string;
  readonly slope: number;
  readonly intercept: number;
  /** Philips' private MR Scale Slope (from the source facts), for its precise scaling. */
  readonly philipsScale?: number;
  readonly localizer: boolean;
  /** Sort keys for frames at one position (time, echo, instance order). */
  readonly order: number[];
}

/** A group of frames that forms one 3D or 4D volume. */
export interface VolumePlan {
  /** Frames in NIfTI order: slice fastest, then volume (t). */
  readonly frames: FrameRef[];
  /** x (columns), y (rows), z (slices), and t when there are several volumes. */
  readonly dims: number[];
  /** Voxel sizes (mm). */
  readonly pixdim: [number, number, number];
  /** RAS affine; undefined without patient geometry. */
  readonly affine?: Mat4;
  /** Data sets (indices) that contribute frames, for the sidecar. */
  readonly files: number[];
  readonly warnings: string[];
}

/** Part of a series that does not form a volume, and why. */
export interface Rejected {
  readonly frames: number;
  readonly reason: string;
}

function vec3(v: number[]): Vec3 | undefined {
  return v.length === 3 ? [v[0], v[1], v[2]] : undefined;
}

/**
 * Every frame of every data set with its geometry. A data set whose pixels or geometry cannot be
 * used is rejected with the reason (its frames are then in no volume, and the caller says so).
 * `sources` (one per data set) are the facts read before de-identification (`sourceFacts`).
 */
export function collectFrames(
  datasets: readonly DataSet[],
  sources: readonly (SourceFacts | undefined)[] = [],
): { frames: FrameRef[]; rejected: Rejected[]; warnings: string[] } {
  const frames: FrameRef[] = [];
  const rejected: Rejected[] = [];
  const warnings: string[] = [];
  datasets.forEach((ds, file) => {
    try {
      frames.push(...framesOf(ds, file, warnings, sources[file]));
    } catch (e) {
      if (!(e instanceof NotConvertible)) throw e;
      const frames = number(ds, tags.NumberOfFrames) ?? 1;
      rejected.push({
        frames,
        reason: datasets.length > 1 ? `instance ${instanceLabel(ds, file)}: ${e.message}` : e.message,
      });
    }
  });
  return { frames, rejected, warnings: [...new Set(warnings)] };
}

/** The frames of one data set. */
function framesOf(ds: DataSet, file: number, warnings: string[], facts?: SourceFacts): FrameRef[] {
  const frames: FrameRef[] = [];
  const fmt: PixelFormat = pixelFormat(ds);
  const mosaic = isMosaic(ds);
  if (mosaic && !facts?.mosaic) {
    throw new NotConvertible(
      `a Siemens mosaic whose CSA header cannot be read (${
        facts?.mosaicProblem ?? "no source facts"
      }; it must be read before de-identification removes it): not converted`,
    );
  }
  const perFrame = items(ds, tags.PerFrameFunctionalGroupsSequence);
  const enhanced = perFrame.length > 0;
  if (enhanced && perFrame.length !== fmt.frames) {
    throw new NotConvertible(
      `${perFrame.length} per-frame functional group items for ${fmt.frames} frames`,
    );
  }
  const localizer = strings(ds, tags.ImageType).some((t) => t.toUpperCase() === "LOCALIZER");
  const gridOffsets = numbers(ds, tags.GridFrameOffsetVector);
  const instance = number(ds, tags.InstanceNumber) ?? 0;
  for (let f = 0; f < fmt.frames; f++) {
    const fg = enhanced ? perFrame[f] : undefined;
    const get = (macro: number, tag: number) => frameValue(ds, fg, macro, (s) => nonEmpty(numbers(s, tag)));
    const ippRaw = get(tags.PlanePositionSequence, tags.ImagePositionPatient);
    const iopRaw = get(tags.PlaneOrientationSequence, tags.ImageOrientationPatient);
    const spacing = get(tags.PixelMeasuresSequence, tags.PixelSpacing);
    const thickness = get(tags.PixelMeasuresSequence, tags.SliceThickness)?.[0];
    const between = get(tags.PixelMeasuresSequence, tags.SpacingBetweenSlices)?.[0];
    const slope = get(tags.PixelValueTransformationSequence, tags.RescaleSlope)?.[0] ?? 1;
    const intercept = get(tags.PixelValueTransformationSequence, tags.RescaleIntercept)?.[0] ?? 0;
    let geometry: FrameRef["geometry"];
    let ipp = ippRaw ? vec3(ippRaw) : undefined;
    if (ipp && iopRaw) {
      const o = orientation(iopRaw);
      if (typeof o === "string") throw new NotConvertible(o);
      if (!enhanced && gridOffsets.length === fmt.frames) {
        // RT Dose and the like: frames stacked along the normal at these offsets (PS3.3 C.8.8.3.2).
        const step = gridOffsets[f] - gridOffsets[0];
        ipp = [ipp[0] + step * o.normal[0], ipp[1] + step * o.normal[1], ipp[2] + step * o.normal[2]];
      }
      geometry = { iop: iopRaw, ...o, ipp };
    }
    const content = fg ? firstItem(fg, tags.FrameContentSequence) : undefined;
    const segment = fg
      ? frameValue(ds, fg, tags.SegmentIdentificationSequence, (s) => number(s, tags.ReferencedSegmentNumber))
      : undefined;
    const stackId = content ? string(content, tags.StackID) : undefined;
    const echo = fg
      ? frameValue(ds, fg, tags.MREchoSequence, (s) => number(s, tags.EffectiveEchoTime))
      : undefined;
    const order = content
      ? [
        number(content, tags.TemporalPositionIndex) ?? 0,
        echo ?? 0,
        ...numbers(content, tags.DimensionIndexValues),
        file,
        f,
      ]
      : [
        number(ds, tags.EchoNumbers) ?? 0,
        number(ds, tags.TemporalPositionIdentifier) ?? 0,
        number(ds, tags.TriggerTime) ?? 0,
        number(ds, tags.AcquisitionNumber) ?? 0,
        instance,
        file,
        f,
      ];
    frames.push({
      file,
      frame: f,
      fmt,
      geometry,
      pixelSpacing: spacing && spacing.length === 2 && spacing[0] > 0 && spacing[1] > 0
        ? [spacing[0], spacing[1]]
        : [1, 1],
      sliceThickness: thickness && thickness > 0 ? thickness : undefined,
      sliceSpacing: between && between > 0 ? between : undefined,
      stack: segment !== undefined ? `segment ${segment}` : stackId !== undefined ? `stack ${stackId}` : "",
      slope: slope === 0 ? 1 : slope,
      intercept,
      philipsScale: facts?.philips?.scaleSlope,
      localizer,
      order,
    });
    if (slope === 0) warnings.push("RescaleSlope 0 taken as 1");
  }
  return mosaic ? splitMosaic(frames[0], facts!.mosaic!) : frames;
}

function nonEmpty(v: number[]): number[] | undefined {
  return v.length ? v : undefined;
}

function instanceLabel(ds: DataSet, index: number): string {
  const n = string(ds, tags.InstanceNumber);
  return n ? `#${n}` : `at position ${index + 1}`;
}

function formatKey(f: PixelFormat): string {
  return [f.rows, f.columns, f.samplesPerPixel, f.bitsAllocated, f.bitsStored, f.signed].join("/");
}

function compareOrder(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** What differs between the groups of a split series, in words. */
function splitReason(groups: FrameRef[][]): string {
  const why = new Set<string>();
  const first = groups[0][0];
  for (const g of groups.slice(1)) {
    const f = g[0];
    if (formatKey(f.fmt) !== formatKey(first.fmt)) why.add("image sizes or pixel formats differ");
    if (f.localizer !== first.localizer) why.add("localizer images are mixed in");
    if (f.stack !== first.stack) why.add(f.stack.startsWith("segment") ? "segments" : "stacks");
    if (!!f.geometry !== !!first.geometry) why.add("some images have no patient geometry");
    else if (f.geometry && first.geometry) {
      if (orientationKey(f.geometry.iop) !== orientationKey(first.geometry.iop)) {
        why.add("orientations differ");
      } else why.add("pixel spacings differ");
    }
  }
  return [...why].join(", ");
}

/**
 * Group a series' frames into volumes. Frames that cannot share a volume (different sizes,
 * orientations, pixel spacings, localizers) are split into separate volumes, each checked on its
 * own; a group whose slices do not form a regular stack is rejected with the reason.
 */
export function planVolumes(frames: readonly FrameRef[]): {
  volumes: VolumePlan[];
  rejected: Rejected[];
  split?: string;
} {
  const groups = new Map<string, FrameRef[]>();
  for (const f of frames) {
    const geo = f.geometry ? `${orientationKey(f.geometry.iop)}|${f.pixelSpacing.join("x")}` : "none";
    const key = `${formatKey(f.fmt)}|${f.localizer}|${f.stack}|${geo}`;
    const g = groups.get(key);
    if (g) g.push(f);
    else groups.set(key, [f]);
  }
  const list = [...groups.values()];
  const volumes: VolumePlan[] = [];
  const rejected: Rejected[] = [];
  for (const g of list) {
    let v = g[0].geometry ? stackGroup(g) : flatGroup(g);
    if (typeof v !== "string" && v.dims.some((d) => d > 32767)) {
      v = `dimensions ${v.dims.join("x")} exceed the 32767 a NIfTI-1 header holds`;
    }
    if (typeof v === "string") rejected.push({ frames: g.length, reason: v });
    else volumes.push(v);
  }
  return { volumes, rejected, split: list.length > 1 ? splitReason(list) : undefined };
}

/** Frames without patient geometry: one slice per frame in instance order, no affine. */
function flatGroup(g: FrameRef[]): VolumePlan {
  const frames = [...g].sort((a, b) => compareOrder(a.order, b.order));
  const f = frames[0];
  return {
    frames,
    dims: [f.fmt.columns, f.fmt.rows, frames.length],
    pixdim: [f.pixelSpacing[1], f.pixelSpacing[0], f.sliceThickness ?? 1],
    files: [...new Set(frames.map((x) => x.file))],
    warnings: [
      "no patient geometry (ImagePositionPatient/ImageOrientationPatient): sform and qform codes are 0",
    ],
  };
}

/** Frames with geometry and one orientation: order along the normal, repeated positions as t. */
function stackGroup(g: FrameRef[]): VolumePlan | string {
  const normal = g[0].geometry!.normal;
  const byDistance = [...g].sort((a, b) =>
    dot(a.geometry!.ipp, normal) - dot(b.geometry!.ipp, normal) || compareOrder(a.order, b.order)
  );
  const slices: FrameRef[][] = [];
  let last = -Infinity;
  for (const f of byDistance) {
    const d = dot(f.geometry!.ipp, normal);
    if (slices.length && d - last <= SAME_POSITION_MM) slices[slices.length - 1].push(f);
    else slices.push([f]);
    last = d;
  }
  const counts = slices.map((s) => s.length);
  const volumes = counts[0];
  if (counts.some((c) => c !== volumes)) {
    return `slice positions hold different numbers of frames (${Math.min(...counts)} to ${
      Math.max(...counts)
    }): incomplete or mixed acquisitions`;
  }
  for (const s of slices) s.sort((a, b) => compareOrder(a.order, b.order));
  const first = slices[0][0];
  const geo = first.geometry!;
  const stack = stackOf(slices.map((s) => s[0].geometry!.ipp), normal);
  if (typeof stack === "string") return stack;
  const warnings: string[] = [];
  let sliceVector = stack.sliceVector;
  let spacing = stack.spacing;
  if (slices.length === 1) {
    // One slice: the spacing the scanner states, else its thickness, is the best depth there is.
    spacing = first.sliceSpacing ?? first.sliceThickness ?? 1;
    sliceVector = [normal[0] * spacing, normal[1] * spacing, normal[2] * spacing];
  }
  const frames: FrameRef[] = [];
  for (let t = 0; t < volumes; t++) for (const s of slices) frames.push(s[t]);
  const dims = [first.fmt.columns, first.fmt.rows, slices.length];
  if (volumes > 1) dims.push(volumes);
  return {
    frames,
    dims,
    pixdim: [first.pixelSpacing[1], first.pixelSpacing[0], spacing],
    affine: affineRAS(geo.ipp, geo.row, geo.col, first.pixelSpacing, sliceVector),
    files: [...new Set(frames.map((x) => x.file))],
    warnings,
  };
}
