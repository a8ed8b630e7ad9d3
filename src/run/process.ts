/**
 * What happens to one planned file: de-identify and write it (or copy/link it for sort-only
 * runs), always to a temporary name first. Runs in the worker pool or in the main thread.
 */
import { createHash } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { readDicomFile, writeDicomFile } from "../dicom/io.ts";
import { decodeStrings } from "../dicom/values.ts";
import type { DataSet } from "../dicom/model.ts";
import { DeidError, type DeidSession } from "../deid/engine.ts";
import { DicomError } from "../dicom/errors.ts";
import { sha256File } from "../util/hash.ts";

/** One file to produce. */
export interface FileJob {
  readonly index: number;
  readonly path: string;
  /** Absolute destination. */
  readonly dest: string;
  readonly mode: "copy" | "hardlink" | "symlink";
}

/** What became of it. */
export interface FileOutcome {
  readonly index: number;
  readonly status: "written" | "quarantined";
  readonly reason?: string;
  readonly sha256?: string;
  readonly bytes?: number;
  readonly pseudoId?: string;
  readonly dayOffset?: number;
  readonly originalPatientId?: string;
  readonly originalStudyUID?: string;
  readonly newStudyUID?: string;
  /** Report columns from the written (de-identified) header: PatientID, StudyDate, StudyID, ... */
  readonly fields?: Readonly<Record<string, string>>;
  readonly counts?: Readonly<Record<string, number>>;
  /** A sort-only hardlink fell back to a copy (different devices). */
  readonly linkFellBack?: boolean;
}

async function tempName(dest: string): Promise<string> {
  await Deno.mkdir(dirname(dest), { recursive: true });
  return join(dirname(dest), `.${basename(dest)}.${crypto.randomUUID().slice(0, 8)}.partial`);
}

const REPORT_FIELDS: Readonly<Record<string, number>> = {
  PatientID: 0x00100020,
  StudyDate: 0x00080020,
  StudyID: 0x00200010,
  SeriesNumber: 0x00200011,
  SeriesDescription: 0x0008103e,
  Modality: 0x00080060,
  StudyInstanceUID: 0x0020000d,
  SeriesInstanceUID: 0x0020000e,
};

/** The report's columns, read from a (written) data set. */
function reportFields(ds: DataSet): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, tag] of Object.entries(REPORT_FIELDS)) {
    const el = ds.elements.find((e) => e.tag === tag);
    out[name] = el ? (decodeStrings(el, ds)[0] ?? "") : "";
  }
  return out;
}

/** Produce one file. Failures that concern the file (unreadable, hook errors) quarantine it. */
export async function processFile(job: FileJob, session?: DeidSession): Promise<FileOutcome> {
  try {
    if (!session) return await placeFile(job);
    const file = await readDicomFile(job.path);
    const r = session.deidentify(file);
    if (r.quarantine) return { index: job.index, status: "quarantined", reason: r.quarantine };
    const hash = createHash("sha256");
    await Deno.mkdir(dirname(job.dest), { recursive: true });
    const bytes = await writeDicomFile(file, job.dest, {
      zeroPreamble: true,
      overwrite: true,
      onWrite: (b) => hash.update(b),
    });

    return {
      index: job.index,
      status: "written",
      sha256: hash.digest("hex"),
      bytes,
      pseudoId: r.pseudoId,
      dayOffset: r.dayOffset,
      originalPatientId: r.original.patientId,
      originalStudyUID: r.original.studyUID,
      newStudyUID: reportFields(file.dataset).StudyInstanceUID,
      fields: reportFields(file.dataset),
      counts: r.counts,
    };
  } catch (e) {
    if (e instanceof DicomError || e instanceof DeidError) {
      return { index: job.index, status: "quarantined", reason: e.message };
    }
    throw e;
  }
}

/** Sort only: the file as it is, copied or linked, under its new name. */
async function placeFile(job: FileJob): Promise<FileOutcome> {
  const tmp = await tempName(job.dest);
  let linkFellBack = false;
  try {
    if (job.mode === "symlink") {
      await Deno.symlink(job.path, tmp);
    } else if (job.mode === "hardlink") {
      try {
        await Deno.link(job.path, tmp);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotSupported) && !String(e).includes("os error 18")) throw e;
        await Deno.copyFile(job.path, tmp); // another device: a copy is the next best thing
        linkFellBack = true;
      }
    } else {
      await Deno.copyFile(job.path, tmp);
    }
    await Deno.rename(tmp, job.dest);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  const st = await Deno.stat(job.path);
  const fields = reportFields((await readDicomFile(job.path, { headerOnly: true })).dataset);
  return {
    index: job.index,
    status: "written",
    sha256: await sha256File(job.path),
    bytes: st.size,
    linkFellBack,
    fields,
  };
}
