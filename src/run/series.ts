/**
 * What happens to one output series when the protocol asks for NIfTI (`output.format` nifti or
 * both): read its files whole, de-identify each as the DICOM output is, convert, and write each
 * volume and its sidecar to a temporary name in the destination folder, then rename. Runs in the
 * worker pool (one series per message) or in the main thread.
 */
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { DicomError } from "../dicom/errors.ts";
import { readDicomFile } from "../dicom/read_file.ts";
import type { DicomFile } from "../dicom/model.ts";
import { DeidError } from "../deid/errors.ts";
import type { DeidResult, DeidSession } from "../deid/session.ts";
import { convertSeries, type SeriesConversion } from "../nifti/convert.ts";
import { sidecarBytes } from "../nifti/sidecar.ts";
import { type SourceFacts, sourceFacts } from "../nifti/source_facts.ts";
import { reportFields } from "../plan/report_fields.ts";
import { tempNameFor } from "../util/temp.ts";
import type { FileOutcome } from "./process.ts";

/** One series to convert. */
export interface SeriesJob {
  /** Its index in `Plan.series`. */
  readonly series: number;
  /** The output root (absolute). */
  readonly root: string;
  /** Where its NIfTI goes, relative to the output root, without extension (`PlannedSeries.nifti`). */
  readonly stem: string;
  /** Frames planned for it: the size of its family of names (`niftiFamily`). */
  readonly frames: number;
  /** Its files in plan order: index in `Plan.files` and input path. */
  readonly files: readonly { readonly index: number; readonly path: string }[];
  /** Sort only: the data sets are not de-identified, and the sidecar says so by existing. */
  readonly identified: boolean;
  /** `nifti.philips_scaling` of the protocol (precise when absent). */
  readonly philipsScaling?: "precise" | "display";
}

/** One volume written. Paths are relative to the output root, `/`-separated. */
export interface SeriesVolume {
  /** The .nii.gz: `<stem><suffix>.nii.gz`. */
  readonly nifti: string;
  /** Its JSON sidecar: `<stem><suffix>.json`. */
  readonly sidecar: string;
  /** sha256 of the .nii.gz and of the sidecar as written. */
  readonly niftiSha256: string;
  /** sha256 (hex) of the sidecar as written. */
  readonly sidecarSha256: string;
  /** Bytes of the .nii.gz. */
  readonly bytes: number;
  /** Size in voxels: x, y, z (and t). */
  readonly dims: readonly number[];
  /** The files (indices in `Plan.files`) whose instances make it up. */
  readonly files: readonly number[];
}

/** What became of a series. */
export interface SeriesOutcome {
  /** Its index in `Plan.series`. */
  readonly series: number;
  /** Where its NIfTI goes, relative to the output root, without extension (`PlannedSeries.nifti`). */
  readonly stem: string;
  /** The volumes written: one, or one per part when the series was split. */
  readonly volumes: SeriesVolume[];
  /** Why the series, or part of it, was not converted. */
  readonly notConverted?: string;
  /**
   * Every file of the job: "written" when its instance is in a volume (with the report's fields and
   * the pseudonym, day offset and new study UID, as a DICOM run records them); "quarantined" with the reason when it is in
   * none (`not converted: ...`, still with its fields) or could not be read or de-identified.
   */
  readonly files: FileOutcome[];
  /** From the conversion (`SeriesConversion.warnings`). */
  readonly warnings: string[];
}

const NOT_CONVERTED = "not converted";

/** Write bytes to a temporary name beside `dest`, then rename; the sha256 of what was written. */
async function place(dest: string, bytes: Uint8Array): Promise<string> {
  await Deno.mkdir(dirname(dest), { recursive: true });
  const tmp = tempNameFor(dest);
  try {
    await Deno.writeFile(tmp, bytes);
    await Deno.rename(tmp, dest);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * The outcome of a file that went into a volume, as a DICOM run records a written file (without the
 * original identities: the key file takes them from the plan).
 */
function converted(index: number, file: DicomFile, r: DeidResult | undefined): FileOutcome {
  const fields = reportFields(file.dataset);
  return {
    index,
    status: "written",
    fields,
    ...(r
      ? {
        pseudoId: r.pseudoId,
        dayOffset: r.dayOffset,
        newStudyUID: fields.StudyInstanceUID,
        counts: r.counts,
      }
      : {}),
  };
}

/**
 * Convert one series and write its volumes. A file that cannot be read or de-identified, or that
 * the session quarantines, is left out with its reason; a file in no volume is reported with the
 * converter's reason. Failures of the conversion itself become the reason for every file.
 */
export async function processSeries(job: SeriesJob, session?: DeidSession): Promise<SeriesOutcome> {
  const outcomes = new Map<number, FileOutcome>();
  const read: { index: number; file: DicomFile; r?: DeidResult; facts: SourceFacts }[] = [];
  for (const { index, path } of job.files) {
    try {
      const file = await readDicomFile(path);
      // The private numbers the converter needs (CSA header, Philips scale slope), before
      // de-identification removes them.
      const facts = sourceFacts(file.dataset);
      const r = session?.deidentify(file);
      if (r?.quarantine) outcomes.set(index, { index, status: "quarantined", reason: r.quarantine });
      else if (session?.config.blankPixels && (r?.pixels?.regions.length || r?.burnedIn)) {
        // Volumes are made from the data as read: pixels that must be blanked never go into one.
        const reason =
          `${NOT_CONVERTED}: its pixels are blanked (burned_in: blank), which NIfTI output does not do`;
        outcomes.set(index, { index, status: "quarantined", reason });
      } else read.push({ index, file, r, facts });
    } catch (e) {
      if (!(e instanceof DicomError || e instanceof DeidError)) throw e;
      outcomes.set(index, { index, status: "quarantined", reason: e.message });
    }
  }
  let conversion: SeriesConversion = { volumes: [], warnings: [] };
  if (read.length) {
    try {
      conversion = await convertSeries(read.map((x) => x.file), {
        identified: job.identified,
        sources: read.map((x) => x.facts),
        philipsScaling: job.philipsScaling,
      });
    } catch (e) {
      conversion = { volumes: [], notConverted: (e as Error).message, warnings: [] };
    }
  }
  const volumes: SeriesVolume[] = [];
  const inVolume = new Map<number, string>();
  for (const v of conversion.volumes) {
    const nifti = `${job.stem}${v.suffix}.nii.gz`;
    const sidecar = `${job.stem}${v.suffix}.json`;
    const niftiSha256 = await place(join(job.root, nifti), v.nifti);
    const sidecarSha256 = await place(join(job.root, sidecar), sidecarBytes(v.sidecar));
    const files = v.instances.map((i) => read[i].index);
    for (const i of files) inVolume.set(i, nifti);
    volumes.push({ nifti, sidecar, niftiSha256, sidecarSha256, bytes: v.nifti.length, dims: v.dims, files });
  }
  // A file in no volume: the converter's reason, or (with every frame converted) a repeated instance.
  const why = conversion.notConverted ??
    "a repeat of another instance of the series (same SOPInstanceUID): used once";
  for (const { index, file, r } of read) {
    const done = converted(index, file, r);
    outcomes.set(
      index,
      inVolume.has(index) ? done : { ...done, status: "quarantined", reason: `${NOT_CONVERTED}: ${why}` },
    );
  }
  return {
    series: job.series,
    stem: job.stem,
    volumes,
    notConverted: conversion.notConverted ??
      (read.some(({ index }) => !inVolume.has(index)) ? why : undefined),
    files: job.files.map(({ index }) => outcomes.get(index)!),
    warnings: conversion.warnings,
  };
}

/** A series whose job failed as a whole (a worker error): every file carries the reason. */
export function seriesFailed(job: SeriesJob, message: string): SeriesOutcome {
  return {
    series: job.series,
    stem: job.stem,
    volumes: [],
    notConverted: message,
    files: job.files.map(({ index }) => ({
      index,
      status: "quarantined",
      reason: `${NOT_CONVERTED}: ${message}`,
    })),
    warnings: [],
  };
}
