/// <reference lib="deno.worker" />
/**
 * A run's worker: created by the pool with Deno permissions that allow reading only the inputs
 * (and the protocol's own files) and writing only the output root. No network, environment,
 * subprocesses, FFI or system information: a protocol hook that tries any of them fails, and its
 * file is quarantined with the reason. The salt arrives as bytes from the main thread, and the
 * de-identification settings as data; only a protocol with hooks is loaded here (hooks are code).
 *
 * The same script serves a run's plan when it writes ahead (`stage.ts`): it then answers the
 * plan's messages, writing each output into the staging folder as it surveys its file.
 *
 * @module
 */
import { type DeidConfig, loadDeidConfig } from "../deid/config.ts";
import { type DeidSession, openSession } from "../deid/mod.ts";
import { ReusableBuffer } from "../dicom/reusable_buffer.ts";
// The plan's worker side from its own files (its mod.ts would load the whole plan layer here).
import { type PlanContext, surveyListed } from "../plan/survey.ts";
import {
  changesOf,
  type FromPlanWorker,
  planContextOf,
  textOf,
  type ToPlanWorker,
} from "../plan/survey_worker.ts";
import { provideCodecBinaries, type WasmCodec } from "../pixels/wasm.ts";
import { serveWorker } from "../workers/serve.ts";
import { type FileJob, type FileOutcome, processFile } from "./process.ts";
import type { SeriesJob, SeriesOutcome } from "./series.ts";
import { type StageInit, surveyAndStage } from "./stage.ts";
import type { FinishedOutput } from "./journal_index.ts";

/** Messages the run sends (and, when it writes ahead, its plan: `ToPlanWorker`). */
export type ToRunWorker =
  /** Sort only (no settings), settings as data, or a protocol file to load (one with hooks). */
  | {
    type: "init";
    config?: DeidConfig;
    protocol?: string;
    input?: string;
    output?: string;
    salt?: Uint8Array;
    /** The codecs' WebAssembly (the worker may not read the module cache). */
    codecs?: Partial<Record<WasmCodec, Uint8Array>>;
    /** Files are transcoded or blanked: every codec is loaded before the first file. */
    pixelWork?: boolean;
  }
  /** Files to produce, in order. */
  | { type: "jobs"; jobs: FileJob[] }
  /** One series to convert to NIfTI (`output.format` nifti or both). */
  | { type: "series"; job: SeriesJob };

/** Messages the worker sends back. */
export type FromRunWorker =
  | { type: "done"; outcomes: FileOutcome[] }
  | { type: "series-done"; outcome: SeriesOutcome };

let session: DeidSession | undefined;
let plan: PlanContext | undefined;
let stage: StageInit | undefined;
const buffer = new ReusableBuffer();

/** The session of a protocol with hooks: loaded here, so its hooks run in this sandbox. */
async function sessionFromProtocol(
  msg: Extract<ToRunWorker, { type: "init" }>,
): Promise<DeidSession | undefined> {
  const { loadProtocol } = await import("../protocol/load.ts");

  const p = await loadProtocol(msg.protocol!, { input: msg.input, output: msg.output, skipSaltCheck: true });
  if (!p.deidentify) return undefined;
  if (!msg.salt) throw new Error("no salt given to the worker");
  return openSession(await loadDeidConfig(p), msg.salt, { hooks: "run" });
}

async function init(msg: Extract<ToRunWorker | ToPlanWorker, { type: "init" }>): Promise<void> {
  if ("codecs" in msg && msg.codecs) provideCodecBinaries(msg.codecs);
  if ("pixelWork" in msg && msg.pixelWork) {
    // Once: no file's work waits on it. Loaded only here: most runs keep their pixels as they are.
    const { preparePixelWork } = await import("../pixels/transcode.ts");
    await preparePixelWork();
  }
  if ("plan" in msg && msg.plan) {
    plan = planContextOf(msg);
    stage = msg.ahead as StageInit | undefined;
  } else if ("protocol" in msg && msg.protocol) session = await sessionFromProtocol(msg);
  else if (msg.config) {
    if (!msg.salt) throw new Error("no salt given to the worker");
    session = openSession(msg.config, msg.salt, { hooks: "run" });
  }
}

async function handle(
  msg: Exclude<ToRunWorker | ToPlanWorker, { type: "init" }>,
): Promise<FromRunWorker | FromPlanWorker> {
  if (msg.type === "survey") {
    const surveys = msg.jobs.map(({ index, listed, ahead }) => {
      const staged = stage && plan
        ? surveyAndStage(listed, index, plan, stage, buffer, ahead as FinishedOutput[] | undefined)
        : undefined;
      return staged
        ? { index, survey: staged.survey, extra: staged.extra }
        : { index, survey: surveyListed(listed, index, plan, buffer) };
    });
    return { type: "surveyed", surveys };
  }
  if (msg.type === "changes") return { type: "changed", changes: changesOf(msg.jobs, plan!, buffer) };
  if (msg.type === "text") return { type: "texted", text: await textOf(msg.jobs) };
  if (msg.type === "series") {
    // NIfTI's code is loaded by the workers of runs that convert series only.
    const { processSeries, seriesFailed } = await import("./series.ts");
    let outcome: SeriesOutcome;
    try {
      outcome = await processSeries(msg.job, session);
    } catch (err) {
      outcome = seriesFailed(msg.job, (err as Error).message);
    }
    return { type: "series-done", outcome };
  }
  const outcomes: FileOutcome[] = [];
  for (const job of msg.jobs) {
    try {
      // Only de-identifying runs send files (a sort-only run copies and links in the main thread).
      if (!session) throw new Error("a worker got files to write without de-identification settings");
      outcomes.push(await processFile(job, session));
    } catch (err) {
      // Whatever the file or a hook did (a refused permission included), the run goes on.
      outcomes.push({ index: job.index, status: "quarantined", reason: (err as Error).message });
    }
  }
  return { type: "done", outcomes };
}

serveWorker<ToRunWorker | ToPlanWorker, FromRunWorker | FromPlanWorker>({ init, handle });
