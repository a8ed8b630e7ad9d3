/**
 * The plan's model: what will happen to each input file and each output series, the warnings and
 * errors, and the options `makePlan` takes.
 *
 * @module
 */
import type { Device } from "../deid/pixel_rules.ts";
import type { Rect } from "../pixels/blank.ts";
import type { Protocol } from "../protocol/protocol.ts";
import type { Interner } from "../scan/intern.ts";
import type { Listed, ListedFiles } from "../scan/inputs.ts";
import type { ScannedFile } from "../scan/scan.ts";
import type { PlannedChange } from "./changes.ts";
import type { Survey } from "./survey.ts";
import type { FileRecords, PlanSpill } from "./file_records.ts";
import type { PlannedFiles } from "./planned_files.ts";

/** What will happen to one input file. */
export type Disposition = "write" | "skip" | "quarantine";

/** One input file in the plan. */
export interface PlannedFile {
  /** The file as scanned: its path, kind, size and header facts. */
  readonly input: ScannedFile;
  /** What happens to it; `reason` says why when it is not written. */
  readonly status: Disposition;
  /** Why it is skipped or quarantined, or a note on a written file (burned-in suspect). */
  readonly reason?: string;
  /** Destination relative to the output root, with `/` separators. */
  readonly dest?: string;
  /** Values of the output (de-identified when the protocol de-identifies, else the originals). */
  readonly pseudoId?: string;
  /** StudyInstanceUID of the output (remapped when de-identifying, unless `uids: keep`). */
  readonly studyUID?: string;
  /** SeriesInstanceUID of the output: with the folder, what groups files into `Plan.series`. */
  readonly seriesUID?: string;
  /** SeriesDescription of the output, as de-identification left it. */
  readonly seriesDescription?: string;
  /** Modality, e.g. "MR". */
  readonly modality?: string;
  /** Index of its output series in `Plan.series` (written files). */
  readonly series?: number;
  /** Elements touched, by action code, as the plan de-identified the header (written files). */
  readonly counts?: Readonly<Record<string, number>>;
  /** The report's columns, for a sort-only run (which does not read the file again). */
  readonly fields?: Readonly<Record<string, string>>;
  /** With `burned_in: blank`: the regions the run fills with black, and those it keeps. */
  readonly blank?: { readonly regions: readonly Rect[]; readonly keep: readonly Rect[] };
  /** A burned-in suspect: why, and its device (what pixel rules look at). */
  readonly suspect?: Suspect;
  /** With `pixels_detect: ocr`: boxes of text found in its first frame (words are never kept). */
  readonly text?: readonly Rect[];
}

/** Why a file may carry burned-in text, and what pixel rules would look at. */
export interface Suspect {
  readonly reason: string;
  readonly device?: Device;
}

/** One output series: a SeriesInstanceUID in one output folder. */
export interface PlannedSeries {
  /** Output folder relative to the output root (`.` for the root itself). */
  readonly folder: string;
  /** SeriesInstanceUID of the output (absent when the files have none). */
  readonly seriesUID?: string;
  /** StudyInstanceUID of the output, taken from the series' first file. */
  readonly studyUID?: string;
  /** The subject's pseudonym (the original PatientID for a protocol that does not de-identify). */
  readonly pseudoId?: string;
  /** Modality of the first file, e.g. "MR". */
  readonly modality?: string;
  /** SeriesDescription of the first file, as de-identification left it. */
  readonly description?: string;
  /** How many planned files are written into it. */
  files: number;
  /** Input bytes of its files. */
  bytes: number;
  /** Index in `Plan.files` of the file whose changes are shown (the first one written). */
  readonly representative: number;
  /** Tag changes of the representative file (empty when the protocol does not de-identify). */
  readonly changes: readonly PlannedChange[];
  /** Frames of its files (NumberOfFrames, 1 for single-frame files): at most this many NIfTI volumes. */
  frames: number;
  /**
   * With `output.format` nifti or both: where its NIfTI goes, relative to the output root and without
   * extension. The run writes `<nifti>.nii.gz` and `<nifti>.json`, or, when the series splits,
   * `<nifti>_1.nii.gz`, `<nifti>_1.json`, `<nifti>_2...` (see `niftiFamily`).
   */
  nifti?: string;
}

/** Kinds of plan warnings (documented in docs/plan-json.md). */
export type WarningKind =
  | "collision"
  | "template-na"
  | "burned-in"
  | "pixels"
  | "dicomdir"
  | "no-patient-id"
  | "lookup-miss"
  | "same-instance"
  | "deid";

/** A warning: something the run will do that the user may not expect. */
export interface PlanWarning {
  /** What it is about (the kinds are in docs/plan-json.md): for filtering, and in `plan --json`. */
  readonly kind: WarningKind;
  /** The text; input files appear as references (see `renderRefs`). */
  readonly message: string;
}

/** A compiled plan. */
export interface Plan {
  /** The protocol the plan was made from; the run takes its output settings from it. */
  readonly protocol: Protocol;
  /**
   * Every scanned file, in scan order; an index here is the file's `inputRef` in reasons and
   * warnings. Past a bound they are read from a temporary file (`PlanOptions.spill`); what every
   * pass asks of each (its disposition, series, size) is at hand without it (see `PlannedFiles`).
   */
  readonly files: PlannedFiles;
  /** Output series, in the order of their first file. */
  readonly series: PlannedSeries[];
  /** Elements touched by de-identification over every written file, by action code. */
  readonly actions: Readonly<Record<string, number>>;
  /** Shown by `dcmtidy plan`; they do not stop a run. */
  readonly warnings: PlanWarning[];
  /** Problems that stop the run (a missing input root, a collision with `on_collision: error`, ...). */
  readonly errors: string[];
  /**
   * False when the plan was assembled from surveys made elsewhere (a split scan's parts): no file
   * was read for it, so its series have no dry-run diffs (and its suspects no text boxes).
   */
  readonly diffs?: false;
}

/**
 * Phases `makePlan` reports progress for: "scan" reads and plans every file's header ("stage"
 * when it also writes each output ahead, see `PlanOptions.stage`; "parts" when the surveys come
 * from a split scan's parts instead); "plan" makes the dry-run diffs (one file per output series).
 */
export type PlanPhase = "scan" | "stage" | "parts" | "plan" | "text";

/** Options for `makePlan`. */
/**
 * Work a caller adds to the plan's survey workers, which read every file anyway: a run that
 * writes each output ahead (see `src/run/stage.ts`). The plan knows nothing of that work; it starts
 * the given worker script instead of its own, and hands on what the script sends with each survey.
 */
export interface SurveyAhead {
  /**
   * A worker script that answers the plan's worker messages (`ToPlanWorker`, see
   * `survey_worker.ts`) and may send an `extra` with each file's survey.
   */
  readonly script: URL;
  /** Given to the script with its init message (`ToPlanWorker` "init", field `ahead`). */
  readonly init: unknown;
  /** Folders the script's workers may write (the plan's own write nothing). */
  readonly write: readonly string[];
  /** Sees what the script sent with a file's survey, by index in `Plan.files`. */
  readonly onExtra: (index: number, extra: unknown) => void;
  /** Told how many files the survey goes through, before the first (the listing is done by then). */
  readonly onSurvey?: (files: number) => void;
  /**
   * Asked as each file's survey job is made: what the script needs to know of that file alone,
   * given with the job (`SurveyJob.ahead`) when not undefined.
   */
  readonly forJob?: (listed: Listed) => unknown;
  /**
   * The table the surveys' shared values are kept in (one copy each): the caller's own, so that what
   * it keeps of the extra work (a series' pseudonym, UIDs, counts) is the same copy, in one table.
   */
  readonly shared?: Interner;
}

/** Options for `makePlan`. */
export interface PlanOptions {
  /**
   * Sandboxed workers that survey the files (read and de-identify each header, name its output);
   * 0 (the default) surveys in this thread. The plan is the same either way.
   */
  readonly workers?: number;
  /** The salt's bytes, for the workers (with `workers` above 0 and a de-identifying protocol). */
  readonly salt?: Uint8Array;
  /** Extra work for the survey workers (with `workers` above 0; see `SurveyAhead`). */
  readonly ahead?: SurveyAhead;
  /**
   * Make the dry-run diffs of the first this many output series only (each re-reads and
   * de-identifies a file): what a summary without `--all` shows. All of them by default.
   */
  readonly diffs?: number;
  /**
   * Where the plan's files go past a bound (see `FileRecords`): without it, every file stays in
   * memory. The CLI gives the output's state folder.
   */
  readonly spill?: PlanSpill;
  /** Stops the plan: its workers are stopped; `makePlan` rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /**
   * Every listed file's survey, made elsewhere (the parts of a split scan, see `readScanParts`): the
   * plan reads no header, makes no dry-run diff and searches no pixels for text. It rejects when
   * the surveys do not fit the listing.
   */
  readonly surveyed?: (
    listed: ListedFiles,
    onProgress?: (done: number, total: number) => void,
    spill?: PlanSpill,
  ) => Promise<FileRecords<Survey>>;
}
