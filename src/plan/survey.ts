/**
 * Surveying one input file for the plan: what it is (the scan's classification) and, for a DICOM
 * file, what the plan makes of it: its header de-identified as the run will, its destination from
 * the output templates, the values the plan groups and names series by. One header read per file,
 * done where the plan runs it: in its workers (both cores), or in this thread (`surveyHere`).
 *
 * Everything a survey returns is plain data (it crosses from a worker in a message). Nothing of
 * the header outlives the survey, so each read lane reuses one buffer.
 */
import type { DeidConfig } from "../deid/config.ts";
import { DeidError } from "../deid/errors.ts";
import type { DeidResult, DeidSession } from "../deid/session.ts";
import type { ReusableBuffer } from "../dicom/reusable_buffer.ts";
import type { DicomFile } from "../dicom/model.ts";
import { tags } from "../standard/tags.ts";
import { type CompiledTemplate, valuesFromDataSet } from "../protocol/template.ts";
import { outputPath } from "../protocol/segments.ts";
import { Interner } from "../scan/intern.ts";
import {
  classifyHeader,
  compactScanned,
  type HeaderRead,
  inputRef,
  readHeaderSync,
  readInLanes,
  type ScannedFile,
} from "../scan/scan.ts";
import type { Listed, ListedFiles } from "../scan/inputs.ts";
import { flattenFile, planChanges, type PlannedChange } from "./changes.ts";
import { reportFields } from "./report_fields.ts";
import type { PlanWarning, Suspect } from "./types.ts";
import type { Rect } from "../pixels/blank.ts";

/** What planning a file needs besides the file: the session and the output templates. */
export interface PlanContext {
  /** The de-identification session (absent for a protocol that does not de-identify). */
  readonly session?: DeidSession;
  /** Its settings. */
  readonly config?: DeidConfig;
  /** The protocol's `burned_in` policy. */
  readonly burnedIn: "allow" | "warn" | "quarantine" | "blank";
  /** The output root (resolved). */
  readonly root: string;
  /** `output.path`, compiled. */
  readonly folder: CompiledTemplate;
  /** `output.file`, compiled. */
  readonly file: CompiledTemplate;
  /**
   * Keep each file's report columns (`FileFacts.fields`): a sort-only run then links or copies
   * the files without reading them again.
   */
  readonly keepFields?: boolean;
}

/**
 * What the plan makes of one DICOM file, before what depends on other files (series grouping,
 * collisions, duplicates, pseudonym collisions) is decided.
 */
export interface FileFacts {
  /** Why the file is quarantined (de-identification refused it, or no path could be made). */
  readonly quarantine?: string;
  /** Destination relative to the output root, `/` separators (before collisions rename it). */
  readonly dest?: string;
  /** PatientID of the output (the pseudonym, or the original for a sort-only protocol). */
  readonly pseudoId?: string;
  /** StudyInstanceUID of the output. */
  readonly studyUID?: string;
  /** SeriesInstanceUID of the output: with the folder, what groups files into series. */
  readonly seriesUID?: string;
  /** SeriesDescription of the output. */
  readonly description?: string;
  /** Modality, e.g. "CT". */
  readonly modality?: string;
  /** NumberOfFrames (1 for a single frame). */
  readonly frames: number;
  /** Elements touched, by action code. */
  readonly counts?: Readonly<Record<string, number>>;
  /** A note on a written file (burned-in text suspected, written with `burned_in: warn`). */
  readonly note?: string;
  /** Why the file may carry burned-in text, and its device (for `pixels_detect: ocr`). */
  readonly suspect?: Suspect;
  /** With `burned_in: blank`: the regions the run blanks, and what it keeps (for `plan --preview`). */
  readonly blank?: { readonly regions: readonly Rect[]; readonly keep: readonly Rect[] };
  /** Tags of the output templates the file has no value for (absent: none). */
  readonly na?: readonly number[];
  /**
   * The pseudonyms its de-identification gave, with their subjects (see `PseudonymRegistry`;
   * absent: none).
   */
  readonly pseudonyms?: readonly (readonly [string, string])[];
  /** The report's columns from the header (with `PlanContext.keepFields`). */
  readonly fields?: Readonly<Record<string, string>>;
  /** Warnings about the file, in the order the plan shows them (absent: none). */
  readonly warnings?: readonly PlanWarning[];
  /**
   * Problems that stop the run (an ID missing from the lookup table with `missing: error`; absent:
   * none).
   */
  readonly errors?: readonly string[];
}

/** One surveyed file: the scan's view, and for DICOM files when planning, the plan's. */
export interface Survey {
  readonly scanned: ScannedFile;
  readonly facts?: FileFacts;
}

function firstValue(file: DicomFile, tag: number): string | undefined {
  const v = valuesFromDataSet(file.dataset, "").value(tag);
  return v === undefined || v === "" ? undefined : v;
}

/**
 * A survey as the plan keeps it until it is assembled, for every file: the values files share (UIDs,
 * pseudonym, modality, description, action counts, report columns) through `pool`, the path
 * strings of `listed` (see `compactScanned`). Where surveys arrive from workers, each goes through
 * here: a million of them are then held in hundreds of bytes each, not kilobytes.
 */
export function compactSurvey(survey: Survey, pool: Interner, listed?: Listed): Survey {
  const scanned = compactScanned(survey.scanned, pool, { listed });
  return survey.facts ? { scanned, facts: compactFacts(survey.facts, pool) } : { scanned };
}

/** A file's own facts, and its warnings and errors (they name it): not shared with other files. */
const OWN_FACTS: ReadonlySet<string> = new Set(["dest", "warnings", "errors"]);

/** Facts with their shared values through `pool` (see `compactSurvey`). */
function compactFacts(facts: FileFacts, pool: Interner): FileFacts {
  return pool.record(facts, OWN_FACTS);
}

/** Survey a listed file from its header read: classified, and planned when `ctx` is given. */
export function surveyRead(
  f: Listed,
  index: number,
  read: HeaderRead | undefined,
  ctx?: PlanContext,
): Survey {
  const scanned = classifyHeader(f, read);
  if (!ctx || scanned.kind !== "dicom" || !read || !("file" in read)) return { scanned };
  return { scanned, facts: planFacts(read.file, scanned.rel, index, ctx) };
}

/**
 * Survey listed files in this thread, several header reads in flight (the result in input order).
 * `indices`: each file's index in the whole listing, when `listed` is a share of it (as `inputRef`s
 * in warnings name files); by default its position.
 */
export function surveyHere(
  listed: ListedFiles,
  ctx: PlanContext | undefined,
  onProgress?: (done: number, total: number) => void,
  indices?: readonly number[],
): Promise<Survey[]> {
  const pool = new Interner();
  return readInLanes(
    listed,
    (f, read, i) => compactSurvey(surveyRead(f, indices?.[i] ?? i, read, ctx), pool, f),
    onProgress,
  );
}

/** One file of a worker's survey batch. */
export interface SurveyJob {
  readonly index: number;
  readonly listed: Listed;
  /** For a `SurveyAhead` script: what it was given for this file (`SurveyAhead.forJob`). */
  readonly ahead?: unknown;
}

/**
 * Survey a batch in a worker: one blocking read at a time into one buffer (see `readHeaderSync`).
 */
export function surveyBatch(
  jobs: readonly SurveyJob[],
  ctx: PlanContext | undefined,
  buffer: ReusableBuffer,
): { index: number; survey: Survey }[] {
  return jobs.map(({ index, listed }) => ({ index, survey: surveyListed(listed, index, ctx, buffer) }));
}

/** Survey one listed file from its header, read into `buffer`. */
export function surveyListed(
  listed: Listed,
  index: number,
  ctx: PlanContext | undefined,
  buffer: ReusableBuffer,
): Survey {
  const read = listed.notRegular ? undefined : readHeaderSync(listed, buffer);
  return surveyRead(listed, index, read, ctx);
}

/**
 * The tag changes de-identification makes to a file (the dry-run diff of its series): its
 * header read again, flattened before and after. Throws when it cannot be read or de-identified.
 */
export function fileChanges(file: DicomFile, ctx: PlanContext): PlannedChange[] {
  if (!ctx.session) return [];
  const before = flattenFile(file);
  ctx.session.deidentify(file);
  return planChanges(before, flattenFile(file), ctx.config!);
}

/** What the plan makes of one DICOM file's header (see `FileFacts`). */
export function planFacts(file: DicomFile, rel: string, index: number, ctx: PlanContext): FileFacts {
  return planFile(file, rel, index, ctx).facts;
}

/**
 * `planFacts`, with the de-identification's result (when the file was de-identified): what a
 * caller that writes the file at once (a run's writing ahead) needs besides the facts.
 */
export function planFile(
  file: DicomFile,
  rel: string,
  index: number,
  ctx: PlanContext,
): { facts: FileFacts; result?: DeidResult } {
  const warnings: PlanWarning[] = [];
  const errors: string[] = [];
  const ref = inputRef(index);
  let result: DeidResult | undefined;
  let note: string | undefined;
  if (ctx.session) {
    const outcome = deidentifyHeader(ctx, file, ref, warnings, errors);
    if ("quarantine" in outcome) {
      const facts = { frames: 1, quarantine: outcome.quarantine, suspect: outcome.suspect };
      return { facts: definedOnly({ ...facts, warnings, errors }) };
    }
    result = outcome.result;
    note = outcome.note;
  } else if (firstValue(file, tags.PatientID) === undefined) {
    warnings.push({ kind: "no-patient-id", message: `${ref}: no PatientID` });
  }
  const pseudoId = result?.pseudoId;
  const values = valuesFromDataSet(file.dataset, rel, pseudoId);
  const facts: FileFacts = {
    na: [...ctx.folder.tags, ...ctx.file.tags].filter((t) => values.value(t) === undefined),
    pseudonyms: result?.original.pseudonyms,
    warnings,
    errors,
    pseudoId: pseudoId ?? values.value(tags.PatientID),
    studyUID: values.value(tags.StudyInstanceUID),
    seriesUID: values.value(tags.SeriesInstanceUID),
    description: values.value(tags.SeriesDescription),
    modality: values.value(tags.Modality),
    frames: Math.max(1, Number(values.value(tags.NumberOfFrames) ?? 1) || 1),
    counts: result?.counts,
    note,
    suspect: result && suspectOf(result),
    blank: ctx.burnedIn === "blank" && result?.pixels?.regions.length
      ? { regions: result.pixels.regions, keep: result.pixels.keep }
      : undefined,
    fields: ctx.keepFields ? reportFields(file.dataset) : undefined,
  };
  try {
    const abs = outputPath(ctx.root, ctx.folder, ctx.file, values);
    const dest = abs.slice(ctx.root.length + 1).split("\\").join("/");
    return { facts: definedOnly({ ...facts, dest }), result };
  } catch (e) {
    return { facts: definedOnly({ ...facts, quarantine: (e as Error).message }) };
  }
}

/**
 * Facts without their absent parts: no undefined field, no empty list. A survey crosses from a
 * worker by structured clone, which copies every field it finds, an empty list as a new array; the
 * plan holds them for every file until it is assembled.
 */
function definedOnly(facts: FileFacts): FileFacts {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(facts)) {
    if (v !== undefined && !(Array.isArray(v) && v.length === 0)) out[k] = v;
  }
  return out as unknown as FileFacts;
}

/**
 * De-identify one header as the run will, turning what the engine reports into the plan's
 * warnings and errors. Returns the result, or why the file is quarantined.
 */
function deidentifyHeader(
  ctx: PlanContext,
  file: DicomFile,
  ref: string,
  warnings: PlanWarning[],
  errors: string[],
): { result: DeidResult; note?: string } | { quarantine: string; suspect?: Suspect } {
  const config = ctx.config!;
  const hasPatientId = firstValue(file, tags.PatientID) !== undefined;
  const policy = lookupPolicy(config);
  let result: DeidResult;
  try {
    result = ctx.session!.deidentify(file);
  } catch (e) {
    if (!(e instanceof DeidError)) throw e;
    const missing = e.message.includes("not in the lookup table");
    // Without a PatientID the engine looks the study up instead, which the table cannot know.
    const reason = policy && missing && !hasPatientId
      ? `no PatientID, so the lookup table cannot name its subject (missing: ${policy})`
      : e.message;
    // `missing: error` means the run must not start while an ID is missing from the table.
    if (policy === "error" && missing) errors.push(`${ref}: ${reason}`);
    return { quarantine: reason };
  }
  const miss = lookupMiss(config, result);
  if (result.quarantine) {
    if (miss) warnings.push({ kind: "lookup-miss", message: `${ref}: ${miss}` });
    return { quarantine: result.quarantine };
  }
  for (const w of result.warnings) {
    warnings.push({ kind: w.startsWith("no PatientID") ? "no-patient-id" : "deid", message: `${ref}: ${w}` });
  }
  if (miss) warnings.push({ kind: "lookup-miss", message: `${ref}: ${miss}` });
  if (ctx.burnedIn === "blank") return blankOrQuarantine(result, ref, warnings);
  if (!result.burnedIn || ctx.burnedIn === "allow") return { result };
  const why = `burned-in text suspected: ${result.burnedIn}`;
  if (ctx.burnedIn === "quarantine") return { quarantine: why, suspect: suspectOf(result) };
  warnings.push({ kind: "burned-in", message: `${ref}: ${why} (written: burned_in: warn)` });
  return { result, note: why };
}

/**
 * `burned_in: blank`: a file a pixel rule matches is written with its regions blanked (whether or
 * not it is a suspect: the rule asks for it); a suspect no rule matches is quarantined.
 */
function blankOrQuarantine(
  result: DeidResult,
  ref: string,
  warnings: PlanWarning[],
): { result: DeidResult; note?: string } | { quarantine: string; suspect?: Suspect } {
  const m = result.pixels;
  if (m && m.regions.length > 0) {
    const regions = m.regions.map((r) => `[${r.x}, ${r.y}, ${r.width}, ${r.height}]`).join(", ");
    const keep = m.keep.length ? `, keeping ${m.keep.length} ultrasound region(s)` : "";
    const how = `pixels blanked by ${m.rules.join(", ")}: ${regions}${keep}`;
    warnings.push({ kind: "pixels", message: `${ref}: ${how}` });
    for (const o of m.outside) warnings.push({ kind: "pixels", message: `${ref}: ${o}` });
    return { result, note: how };
  }
  if (!result.burnedIn) return { result };
  const why = m
    ? `every region of ${m.rules.join(", ")} lies outside the image (${m.outside.join("; ")})`
    : `no pixels rule matches (${result.device?.label})`;
  return {
    quarantine: `burned-in text suspected: ${result.burnedIn}; ${why}: quarantined (burned_in: blank)`,
    suspect: suspectOf(result),
  };
}

/** A burned-in suspect's reason and device (for `pixels_detect: ocr`). */
function suspectOf(result: DeidResult): Suspect | undefined {
  return result.burnedIn ? { reason: result.burnedIn, device: result.device } : undefined;
}

/** The `missing:` policy of a lookup table, if PatientIDs are looked up. */
function lookupPolicy(config: DeidConfig): "error" | "hash" | "keep" | "quarantine" | undefined {
  const p = config.patientId;
  return p !== "keep" && "lookup" in p ? p.lookup.missing : undefined;
}

/** How a PatientID missing from the lookup table was treated, when it was. */
function lookupMiss(config: DeidConfig, r: DeidResult): string | undefined {
  const id = r.original.patientId;
  const policy = lookupPolicy(config);
  if (!policy || !id || config.lookup?.has(id)) return undefined;
  const what =
    { keep: "kept as it is", hash: "given a hashed pseudonym", quarantine: "quarantined", error: "" }[
      policy
    ];
  return `PatientID not in the lookup table${what ? `: ${what}` : ""} (missing: ${policy})`;
}
