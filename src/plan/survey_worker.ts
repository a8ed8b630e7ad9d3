/**
 * What the plan's sandboxed workers are told and answer (the messages of `_plan_worker.ts`), and
 * the work they do on a message: survey a batch of files, make the dry-run diffs of a few. A
 * worker script that does more while it surveys (a run's writing ahead, `src/run/_run_worker.ts`)
 * answers the same messages with the same functions.
 *
 * @module
 */
import type { DeidConfig } from "../deid/config.ts";
import { type DeidSession, openSession } from "../deid/mod.ts";
import { DicomError } from "../dicom/errors.ts";
import { readDicomFile, readDicomFileSync } from "../dicom/read_file.ts";
import type { Rect } from "../pixels/blank.ts";
import { PixelError } from "../pixels/errors.ts";
import { type OcrBinaries, provideOcrBinaries } from "../pixels/ocr.ts";
import { provideCodecBinaries, type WasmCodec } from "../pixels/wasm.ts";
import type { ReusableBuffer } from "../dicom/reusable_buffer.ts";
import { compileTemplate } from "../protocol/template.ts";
import type { PlannedChange } from "./changes.ts";
import { fileChanges, type PlanContext, type Survey, type SurveyJob } from "./survey.ts";

/** What a plan's worker needs besides the settings: the output templates, as written. */
export interface PlanInit {
  readonly root: string;
  readonly folder: string;
  readonly file: string;
  readonly burnedIn: PlanContext["burnedIn"];
  /** See `PlanContext.keepFields`. */
  readonly keepFields: boolean;
}

/** The dry-run diff of one file, or why it could not be made. */
export interface ChangesOf {
  readonly index: number;
  readonly changes?: PlannedChange[];
  readonly error?: string;
}

/** Messages the plan sends its workers. */
export type ToPlanWorker =
  /** Settings as data (none for a protocol that does not de-identify), the salt, the templates. */
  | {
    type: "init";
    config?: DeidConfig;
    salt?: Uint8Array;
    plan: PlanInit;
    /** For a script that does more than survey (`SurveyAhead.init`). */
    ahead?: unknown;
    /** `pixels_detect: ocr`: the codecs' and the OCR engine's bytes (the worker may not read them). */
    pixels?: { codecs: Partial<Record<WasmCodec, Uint8Array>>; ocr: OcrBinaries };
  }
  /** Files to survey: read, classify, de-identify the header, name the output. */
  | { type: "survey"; jobs: SurveyJob[] }
  /** Files whose dry-run diff the plan shows. */
  | { type: "changes"; jobs: { index: number; path: string }[] }
  /** Burned-in suspects whose first frame is searched for text (`pixels_detect: ocr`). */
  | { type: "text"; jobs: { index: number; path: string }[] };

/** What the plan's workers answer (besides "ready" or "failed" to the init). */
export type FromPlanWorker =
  /** Each file's survey, and what a script that does more sends with it (`SurveyAhead.onExtra`). */
  | { type: "surveyed"; surveys: { index: number; survey: Survey; extra?: unknown }[] }
  | { type: "changed"; changes: ChangesOf[] }
  | { type: "texted"; text: TextOf[] };

/** The boxes of text found in one file, or why it could not be searched. */
export interface TextOf {
  readonly index: number;
  readonly boxes?: Rect[];
  readonly error?: string;
}

/** Search each file's first frame for text; what cannot be decoded says why (no path in it). */
export async function textOf(jobs: readonly { index: number; path: string }[]): Promise<TextOf[]> {
  // The decoders and the OCR engine's glue: loaded by the workers of plans that search pixels only.
  const { textBoxes } = await import("../pixels/detect.ts");
  const out: TextOf[] = [];
  for (const { index, path } of jobs) {
    try {
      out.push({ index, boxes: await textBoxes(await readDicomFile(path)) });
    } catch (e) {
      if (!(e instanceof PixelError || e instanceof DicomError)) throw e;
      out.push({ index, error: e.message });
    }
  }
  return out;
}

/** Hand a worker the bytes of the codecs and the OCR engine from its init message. */
export function providePixels(msg: Extract<ToPlanWorker, { type: "init" }>): void {
  if (!msg.pixels) return;
  provideCodecBinaries(msg.pixels.codecs);
  provideOcrBinaries(msg.pixels.ocr);
}

/**
 * A worker's plan context from its init message. Pseudonym collisions are checked by the plan, in
 * input order, over all workers; hooks run only in the run, so here they count as removed.
 */
export function planContextOf(msg: Extract<ToPlanWorker, { type: "init" }>): PlanContext {
  const init = msg.plan;
  let session: DeidSession | undefined;
  if (msg.config) {
    if (!msg.salt) throw new Error("no salt given to the worker");
    session = openSession(msg.config, msg.salt, { hooks: "stub", checkPseudonyms: false });
  }
  return {
    session,
    config: msg.config,
    burnedIn: init.burnedIn,
    root: init.root,
    folder: compileTemplate(init.folder, "folder"),
    file: compileTemplate(init.file, "file"),
    keepFields: init.keepFields,
  };
}

/** The dry-run diffs of these files, each read again (its header only) into `buffer`. */
export function changesOf(
  jobs: readonly { index: number; path: string }[],
  ctx: PlanContext,
  buffer?: ReusableBuffer,
): ChangesOf[] {
  return jobs.map(({ index, path }): ChangesOf => {
    try {
      return {
        index,
        changes: fileChanges(readDicomFileSync(path, { headerOnly: true, reuse: buffer }), ctx),
      };
    } catch (e) {
      return { index, error: (e as Error).message };
    }
  });
}
