/**
 * What happens to one planned file: de-identify and write it (or copy/link it for sort-only
 * runs), always to a temporary name first. Runs in the worker pool or in the main thread.
 */
import type { Interner } from "../scan/intern.ts";
import { dirname } from "node:path";
import { readDicomFileSync } from "../dicom/read_file.ts";
import { ReusableBuffer } from "../dicom/reusable_buffer.ts";
import { writeDicomFileSync } from "../dicom/write_file.ts";
import { PixelError } from "../pixels/errors.ts";
import { markPixelsCleaned } from "../deid/marks.ts";
import { DeidError } from "../deid/errors.ts";
import type { DeidResult, DeidSession } from "../deid/session.ts";
import type { DicomFile } from "../dicom/model.ts";
import { DicomError } from "../dicom/errors.ts";
import { reportFields } from "../plan/report_fields.ts";
import { identityOf, type OutputIdentity } from "../util/file_identity.ts";
import { tempNameFor } from "../util/temp.ts";
import { sharingCodec, type SpillCodec } from "../util/spill_codec.ts";

/** One file to produce. */
export interface FileJob {
  readonly index: number;
  readonly path: string;
  /** Absolute destination. */
  readonly dest: string;
  readonly mode: "copy" | "hardlink" | "symlink";
  /** The transfer syntax UID to write (`output.transfer_syntax`); absent: the file's own. */
  readonly transferSyntax?: string;
  /**
   * The original StudyInstanceUID the plan read ("" for none): a file read now with another is not
   * the one planned (replaced since), and is quarantined. Absent: not checked.
   */
  readonly studyUID?: string;
  /**
   * Nothing was at `dest` when the run claimed it (its folder did not exist, or its lstat found
   * nothing): it is not the input under another name, and the writer need not look (a failed stat
   * costs an error object, 10 to 50 us, on every file of a fresh output).
   */
  readonly fresh?: boolean;
}

/** What became of one file, as a worker reports it to the main thread (and the journal keeps it). */
export interface FileOutcome {
  /** Its index in `Plan.files`. */
  readonly index: number;
  /** Written under its destination, or quarantined (see `reason`). */
  readonly status: "written" | "quarantined";
  /** Why it was quarantined. */
  readonly reason?: string;
  /**
   * The written file as the file system knows it, right after it got its name: what the journal
   * keeps to tell, on the next run, that the output is still the one this run wrote (absent for
   * sort-only links, which are told by what they point at).
   */
  readonly output?: OutputIdentity;
  /** Bytes written. */
  readonly bytes?: number;
  /** The subject's pseudonym (de-identifying runs). */
  readonly pseudoId?: string;
  /** The subject's date shift in days, when dates are shifted. */
  readonly dayOffset?: number;
  /**
   * The original PatientID: what journals of earlier versions may hold (their outcomes carried it for
   * the key file, whose rows now come from the plan's headers). Never made, never journaled (run.ts
   * strips it).
   */
  readonly originalPatientId?: string;
  /** The original StudyInstanceUID, as `originalPatientId`. */
  readonly originalStudyUID?: string;
  /** The StudyInstanceUID written. */
  readonly newStudyUID?: string;
  /** Report columns from the written (de-identified) header: PatientID, StudyDate, StudyID, ... */
  readonly fields?: Readonly<Record<string, string>>;
  /** De-identification actions applied, by code (X, Z, U, ...). */
  readonly counts?: Readonly<Record<string, number>>;
  /** A sort-only hardlink fell back to a copy (other device, or links refused). */
  readonly linkFellBack?: boolean;
}

/**
 * Why an input is quarantined when it is not the file the plan read: replaced or rewritten since
 * (between a split scan and its run, or while the plan waited): its name, subject and fate were
 * decided from another header.
 */
export function changedReason(how: string): string {
  return `the input is not the file the plan read (${how}): it was replaced or changed since; ` +
    "run the scan or plan again";
}

/**
 * An outcome with what files share held once through `pool` (see `Interner`): a series' report
 * columns, pseudonym and study UIDs, identical action counts. Structured clone from a worker makes
 * fresh copies of them for every file; a run keeps every outcome to its end.
 */
export function compactOutcome<T extends Partial<FileOutcome>>(o: T, pool: Interner): T {
  return pool.record(o, OWN_OUTCOME);
}

/** An outcome's values that are its file's alone. */
const OWN_OUTCOME: ReadonlySet<string> = new Set(["output", "index", "bytes"]);

/**
 * How outcomes are written past the bound of a run's `SpillMap`: what the files of a series share
 * (pseudonym, date shift, study UIDs, report columns, action counts) once, by number; its index,
 * output, size and reason on its line.
 */
export function outcomeCodec<T extends Partial<FileOutcome>>(): SpillCodec<T> {
  return sharingCodec<T>([
    "status",
    "pseudoId",
    "dayOffset",
    "newStudyUID",
    "fields",
    "counts",
    "linkFellBack",
  ]);
}

/**
 * Folders this thread has made: a run writes hundreds of files per folder and need not ask the
 * file system each time. A folder removed behind our back is made again (see `ensureDirSync`).
 */
const madeDirs = new Set<string>();

function ensureDirSync(dir: string, fresh = false): void {
  if (!fresh && madeDirs.has(dir)) return;
  Deno.mkdirSync(dir, { recursive: true });
  madeDirs.add(dir);
}

/** Run `act`; when it fails because the folder vanished, make the folder again and retry once. */
function inDirSync<T>(dir: string, act: () => T): T {
  ensureDirSync(dir);
  try {
    return act();
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound) || !madeDirs.has(dir)) throw e;
    ensureDirSync(dir, true);
    return act();
  }
}

/**
 * The buffer every input is read into. The work on one file never awaits between reading it and
 * writing its output, so nothing else in this thread can use the buffer meanwhile; reusing it
 * keeps a worker's memory at one file's worth instead of whatever garbage piles up between
 * collections.
 */
const readBuffer = new ReusableBuffer();

/**
 * What happens to the pixels of a de-identified file: regions blanked (`burned_in: blank` and a
 * rule that matches; then marked clean), or transcoded (`output.transfer_syntax`), or nothing.
 * A suspect no rule matches is refused (the plan quarantined it already; this is the last guard):
 * the reason is returned.
 */
function pixelWork(
  file: DicomFile,
  r: DeidResult,
  session: DeidSession,
  /** Loaded when the session blanks or the job transcodes (`loadPixelCode`). */
  code: PixelCode | undefined,
  transferSyntax?: string,
): { close(): void } | string | undefined {
  if (session.config.blankPixels) {
    const m = r.pixels;
    if (m && m.regions.length) {
      const t = code!.blankSync(file, m.regions, [], transferSyntax ?? "keep");
      markPixelsCleaned(file.dataset);
      return t;
    }
    if (r.burnedIn) {
      return `burned-in text suspected: ${r.burnedIn}; no pixels rule blanks it (burned_in: blank)`;
    }
  }
  return transferSyntax ? code!.transcodeSync(file, transferSyntax) : undefined;
}

/** The pixel layer's blanking and transcoding. */
interface PixelCode {
  blankSync: typeof import("../pixels/blank.ts").blankSync;
  transcodeSync: typeof import("../pixels/transcode.ts").transcodeSync;
}

let pixelCode: Promise<PixelCode> | undefined;

/**
 * The pixel layer's code, loaded by the first file whose pixels are blanked or transcoded: most
 * runs keep pixels as they are, and a worker that never loads it holds less.
 */
function loadPixelCode(): Promise<PixelCode> {
  pixelCode ??= Promise.all([import("../pixels/blank.ts"), import("../pixels/transcode.ts")]).then((
    [b, t],
  ) => ({ blankSync: b.blankSync, transcodeSync: t.transcodeSync }));
  return pixelCode;
}

function quarantined(job: FileJob, e: unknown): FileOutcome {
  if (e instanceof DicomError || e instanceof DeidError || e instanceof PixelError) {
    return { index: job.index, status: "quarantined", reason: e.message };
  }
  throw e;
}

/**
 * De-identify and write one file. Failures that concern the file (unreadable, hook errors)
 * quarantine it. One file is handled at a time, so the file system calls block (see
 * `readDicomFileSync`): the parallelism is the worker pool's.
 */
export async function processFile(job: FileJob, session: DeidSession): Promise<FileOutcome> {
  try {
    const code = session.config.blankPixels || job.transferSyntax ? await loadPixelCode() : undefined;
    const file = readDicomFileSync(job.path, { reuse: readBuffer });
    const r = session.deidentify(file);
    if (job.studyUID !== undefined && (r.original.studyUID ?? "") !== job.studyUID) {
      return { index: job.index, status: "quarantined", reason: changedReason("another study") };
    }
    if (r.quarantine) return { index: job.index, status: "quarantined", reason: r.quarantine };
    // The codecs were loaded when the worker (or the run) started: nothing here waits.
    const transcoded = pixelWork(file, r, session, code, job.transferSyntax);
    if (typeof transcoded === "string") {
      return { index: job.index, status: "quarantined", reason: transcoded };
    }
    let bytes: number;
    try {
      bytes = inDirSync(
        dirname(job.dest),
        () =>
          writeDicomFileSync(file, job.dest, { zeroPreamble: true, overwrite: true, destAbsent: job.fresh }),
      );
    } finally {
      transcoded?.close();
    }
    const fields = reportFields(file.dataset);
    return {
      index: job.index,
      status: "written",
      output: identityOf(job.dest),
      bytes,
      pseudoId: r.pseudoId,
      dayOffset: r.dayOffset,
      newStudyUID: fields.StudyInstanceUID,
      fields,
      counts: r.counts,
    };
  } catch (e) {
    return quarantined(job, e);
  }
}

/**
 * Sort only: the file as it is, copied or linked, under its new name (a temporary name first).
 * Made by the main thread (run.ts), from what the plan read: Deno asks for write access to a
 * link's target, which the workers never have on inputs, and a copy needs no reading here.
 */
// deno-lint-ignore require-await
export async function placeFile(job: FileJob): Promise<{ linkFellBack: boolean }> {
  return placeFileSync(job);
}

function placeFileSync(job: FileJob): { linkFellBack: boolean } {
  const tmp = tempNameFor(job.dest);
  let linkFellBack = false;
  try {
    inDirSync(dirname(job.dest), () => {
      if (job.mode === "symlink") {
        Deno.symlinkSync(job.path, tmp);
      } else if (job.mode === "hardlink") {
        try {
          Deno.linkSync(job.path, tmp);
        } catch (e) {
          // Another device (EXDEV 18), too many links (EMLINK 31), or links to others' files refused
          // (EPERM 1, fs.protected_hardlinks): a copy is the next best thing.
          if (!(e instanceof Deno.errors.NotSupported) && !/os error (1|18|31)\)/.test(String(e))) throw e;
          Deno.copyFileSync(job.path, tmp);
          linkFellBack = true;
        }
      } else {
        Deno.copyFileSync(job.path, tmp);
      }
    });
    Deno.renameSync(tmp, job.dest);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch { /* never made */ }
    throw e;
  }
  return { linkFellBack };
}
