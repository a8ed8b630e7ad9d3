/**
 * The JSON sidecar of a NIfTI volume, in the BIDS style: acquisition parameters only, from an
 * allow-list, read from data sets that have already been de-identified. So a value the profile
 * removed is simply not there to be copied, and a placeholder it left (a D dummy) is left out too.
 */
import type { DataSet } from "../dicom/model.ts";
import { dummyValue } from "../deid/dummy.ts";
import { tags } from "../standard/tags.ts";
import { VERSION } from "../version.ts";
import { elementOf, firstItem, items, numbers, strings } from "./attrs.ts";
import { NotDeidentifiedError } from "./errors.ts";

type Kind = "text" | "texts" | "number" | "ms-to-s";

/** BIDS key, DICOM tag, and how the value is written. Nothing outside this list reaches a sidecar. */
const KEYS: readonly [string, number, Kind][] = [
  ["Modality", tags.Modality, "text"],
  ["MagneticFieldStrength", tags.MagneticFieldStrength, "number"],
  ["ImagingFrequency", tags.ImagingFrequency, "number"],
  ["Manufacturer", tags.Manufacturer, "text"],
  ["ManufacturersModelName", tags.ManufacturerModelName, "text"],
  ["SoftwareVersions", tags.SoftwareVersions, "text"],
  ["BodyPartExamined", tags.BodyPartExamined, "text"],
  ["PatientPosition", tags.PatientPosition, "text"],
  ["MRAcquisitionType", tags.MRAcquisitionType, "text"],
  ["SeriesDescription", tags.SeriesDescription, "text"],
  ["ProtocolName", tags.ProtocolName, "text"],
  ["ScanningSequence", tags.ScanningSequence, "text"],
  ["SequenceVariant", tags.SequenceVariant, "text"],
  ["ScanOptions", tags.ScanOptions, "text"],
  ["SequenceName", tags.SequenceName, "text"],
  ["ImageType", tags.ImageType, "texts"],
  ["SeriesNumber", tags.SeriesNumber, "number"],
  ["SliceThickness", tags.SliceThickness, "number"],
  ["SpacingBetweenSlices", tags.SpacingBetweenSlices, "number"],
  ["EchoTime", tags.EchoTime, "ms-to-s"],
  ["EchoTime", tags.EffectiveEchoTime, "ms-to-s"], // enhanced MR
  ["RepetitionTime", tags.RepetitionTime, "ms-to-s"],
  ["InversionTime", tags.InversionTime, "ms-to-s"],
  ["FlipAngle", tags.FlipAngle, "number"],
  ["EchoNumber", tags.EchoNumbers, "number"],
  ["EchoTrainLength", tags.EchoTrainLength, "number"],
  ["PixelBandwidth", tags.PixelBandwidth, "number"],
  ["PercentPhaseFOV", tags.PercentPhaseFieldOfView, "number"],
  ["ReceiveCoilName", tags.ReceiveCoilName, "text"],
  ["KVP", tags.KVP, "number"],
  ["XRayTubeCurrent", tags.XRayTubeCurrent, "number"],
  ["XRayExposure", tags.Exposure, "number"],
  ["ExposureTime", tags.ExposureTime, "ms-to-s"],
  ["ConvolutionKernel", tags.ConvolutionKernel, "text"],
  ["DoseGridScaling", tags.DoseGridScaling, "number"],
];

/** Options for `buildSidecar`. */
export interface SidecarOptions {
  /**
   * The protocol does not de-identify (sort only): its DICOM output carries everything anyway.
   * Without this, data not marked PatientIdentityRemoved YES is refused.
   */
  readonly identified?: boolean;
  /** Facts computed from the volume itself (orientation, slice spacing, ...), added as given. */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** Where an attribute may be: the data set, then the macros of its shared and first per-frame groups. */
function find(ds: DataSet, tag: number): { ds: DataSet; vr: string } | undefined {
  const own = elementOf(ds, tag);
  if (own) return { ds, vr: own.vr };
  for (
    const group of [
      firstItem(ds, tags.SharedFunctionalGroupsSequence),
      firstItem(ds, tags.PerFrameFunctionalGroupsSequence),
    ]
  ) {
    if (!group) continue;
    for (const el of group.elements) {
      for (const macro of el.items ? items(group, el.tag) : []) {
        const inner = elementOf(macro, tag);
        if (inner) return { ds: macro, vr: inner.vr };
      }
    }
  }
  return undefined;
}

function isDummy(tag: number, vr: string, text: string): boolean {
  const d = dummyValue(tag, vr, () => "", 0);
  return typeof d === "string" && d === text;
}

/** One key's value in one data set, or undefined. */
function valueOf(ds: DataSet, tag: number, kind: Kind): unknown {
  const at = find(ds, tag);
  if (!at) return undefined;
  const el = elementOf(at.ds, tag)!;
  if (el.items) return undefined;
  if (["FD", "FL", "US", "SS", "UL", "SL"].includes(el.vr)) {
    // Binary numbers (enhanced MR writes FD): the engine's dummy for these is 0, never a real value here.
    const nums = numbers(at.ds, tag);
    if (nums.length === 0 || nums[0] === 0) return undefined;
    return kind === "ms-to-s" ? round(nums[0] / 1000) : nums[0];
  }
  const texts = strings(at.ds, tag).filter((t) => t !== "");
  if (texts.length === 0) return undefined;
  if (texts.some((t) => isDummy(tag, el.vr, t))) return undefined;
  if (kind === "texts") return texts;
  if (kind === "text") return texts.join("\\");
  const n = Number(texts[0]);
  if (!Number.isFinite(n)) return undefined;
  return kind === "ms-to-s" ? round(n / 1000) : n;
}

/** Seconds from milliseconds without binary noise (0.0025 rather than 0.0025000000000000001). */
function round(n: number): number {
  return Number(n.toPrecision(12));
}

/**
 * The sidecar for a volume made of `datasets` (de-identified). A key whose value differs between
 * the data sets is left out rather than reported for some of them only.
 */
export function buildSidecar(
  datasets: readonly DataSet[],
  opts: SidecarOptions = {},
): Record<string, unknown> {
  if (!opts.identified) {
    for (const ds of datasets) {
      if (strings(ds, tags.PatientIdentityRemoved)[0]?.toUpperCase() !== "YES") {
        throw new NotDeidentifiedError();
      }
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, tag, kind] of KEYS) {
    if (key in out) continue; // an earlier source for the same key won
    const values = datasets.map((ds) => valueOf(ds, tag, kind));
    if (values.some((v) => v === undefined)) continue;
    const first = JSON.stringify(values[0]);
    if (values.every((v) => JSON.stringify(v) === first)) out[key] = values[0];
  }
  Object.assign(out, opts.extra ?? {});
  out.ConversionSoftware = "dcmtidy";
  out.ConversionSoftwareVersion = VERSION;
  return out;
}

/** The sidecar as written: pretty JSON with a final newline. */
export function sidecarBytes(sidecar: Readonly<Record<string, unknown>>): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(sidecar, null, 2) + "\n");
}
