/// <reference lib="deno.worker" />
/**
 * A run's worker: created by the pool with Deno permissions that allow reading only the inputs
 * (and the protocol's own files) and writing only the output root. No network, environment,
 * subprocesses, FFI or system information: a protocol hook that tries any of them fails, and its
 * file is quarantined with the reason. The salt arrives as bytes from the main thread, and the
 * de-identification settings as data; only a protocol with hooks is loaded here (hooks are code).
 */
import type { DeidConfig } from "../deid/config.ts";
import { DeidSession } from "../deid/engine.ts";
import { Keys } from "../deid/keys.ts";
import { type FileJob, type FileOutcome, processFile } from "./process.ts";
import { processSeries, seriesFailed, type SeriesJob, type SeriesOutcome } from "./series.ts";
import { readDicomFileSync, ReusableBuffer } from "../dicom/io.ts";
import { compileTemplate } from "../protocol/template.ts";
import type { PlannedChange } from "../plan/changes.ts";
import {
  fileChanges,
  type PlanContext,
  type StageOptions,
  type Survey,
  surveyBatch,
  type SurveyJob,
} from "../plan/survey.ts";

/** What a plan's worker needs besides the settings: the output templates, as written. */
export interface PlanInit {
  readonly root: string;
  readonly folder: string;
  readonly file: string;
  readonly burnedIn: PlanContext["burnedIn"];
  /** Names of the protocol's hooks: the plan counts their elements as removed (hooks run in `run`). */
  readonly hooks: readonly string[];
  /** See `PlanContext.keepFields`. */
  readonly keepFields: boolean;
  /** Where and what to write ahead (see `surveyBatch`). */
  readonly stage?: StageOptions;
}

/** The dry-run diff of one file, or why it could not be made. */
export interface ChangesOf {
  readonly index: number;
  readonly changes?: PlannedChange[];
  readonly error?: string;
}

/** Messages the pool sends. */
export type ToWorker =
  /** Sort only (no settings), settings as data, or a protocol file to load (one with hooks). */
  | {
    type: "init";
    config?: DeidConfig;
    protocol?: string;
    input?: string;
    output?: string;
    salt?: Uint8Array;
    /** A plan's worker: surveys files and makes dry-run diffs (`survey`, `changes`). */
    plan?: PlanInit;
  }
  /** Files to survey for a plan: read, classify, de-identify the header, name the output. */
  | { type: "survey"; jobs: SurveyJob[] }
  /** Files whose dry-run diff the plan shows. */
  | { type: "changes"; jobs: { index: number; path: string }[] }
  /** Files to produce, in order. */
  | { type: "jobs"; jobs: FileJob[] }
  /** One series to convert to NIfTI (`output.format` nifti or both). */
  | { type: "series"; job: SeriesJob };

/** Messages the worker sends back. */
export type FromWorker =
  | { type: "ready" }
  | { type: "failed"; message: string }
  | { type: "done"; outcomes: FileOutcome[] }
  | { type: "series-done"; outcome: SeriesOutcome }
  | { type: "surveyed"; surveys: { index: number; survey: Survey }[] }
  | { type: "changed"; changes: ChangesOf[] };

let session: DeidSession | undefined;
let plan: PlanContext | undefined;
let stage: StageOptions | undefined;
const buffer = new ReusableBuffer();

/** A plan's context: pseudonym collisions are checked by the plan, in input order, over all workers. */
function planContext(msg: Extract<ToWorker, { type: "init" }>, init: PlanInit): PlanContext {
  let planSession: DeidSession | undefined;
  if (msg.config) {
    if (!msg.salt) throw new Error("no salt given to the worker");
    const hooks = Object.fromEntries(init.hooks.map((k) => [k, () => undefined]));
    planSession = new DeidSession({ ...msg.config, hooks }, new Keys(msg.salt), { checkPseudonyms: false });
  }
  return {
    session: planSession,
    config: msg.config,
    burnedIn: init.burnedIn,
    root: init.root,
    folder: compileTemplate(init.folder, "folder"),
    file: compileTemplate(init.file, "file"),
    keepFields: init.keepFields,
  };
}

/** The session of a protocol with hooks: loaded here, so its hooks run in this sandbox. */
async function sessionFromProtocol(
  msg: Extract<ToWorker, { type: "init" }>,
): Promise<DeidSession | undefined> {
  const { loadProtocol } = await import("../protocol/load.ts");
  const { configFromProtocol } = await import("../deid/config.ts");
  const { readLookupTable } = await import("../protocol/lookup.ts");
  const p = await loadProtocol(msg.protocol!, { input: msg.input, output: msg.output, skipSaltCheck: true });
  if (!p.deidentify) return undefined;
  if (!msg.salt) throw new Error("no salt given to the worker");
  const lookup = p.deidentify.lookupFile ? await readLookupTable(p.deidentify.lookupFile) : undefined;
  return new DeidSession(configFromProtocol(p, lookup), new Keys(msg.salt));
}

async function handle(msg: ToWorker): Promise<void> {
  if (msg.type === "init") {
    try {
      if (msg.plan) {
        plan = planContext(msg, msg.plan);
        stage = msg.plan.stage;
      } else if (msg.protocol) session = await sessionFromProtocol(msg);
      else if (msg.config) {
        if (!msg.salt) throw new Error("no salt given to the worker");
        session = new DeidSession(msg.config, new Keys(msg.salt));
      }
      self.postMessage({ type: "ready" } satisfies FromWorker);
    } catch (err) {
      self.postMessage({ type: "failed", message: (err as Error).message } satisfies FromWorker);
    }
    return;
  }
  if (msg.type === "survey") {
    self.postMessage(
      {
        type: "surveyed",
        surveys: surveyBatch(msg.jobs, plan, buffer, stage),
      } satisfies FromWorker,
    );
    return;
  }
  if (msg.type === "changes") {
    const changes = msg.jobs.map(({ index, path }): ChangesOf => {
      try {
        return {
          index,
          changes: fileChanges(readDicomFileSync(path, { headerOnly: true, reuse: buffer }), plan!),
        };
      } catch (e) {
        return { index, error: (e as Error).message };
      }
    });
    self.postMessage({ type: "changed", changes } satisfies FromWorker);
    return;
  }
  if (msg.type === "series") {
    let outcome: SeriesOutcome;
    try {
      outcome = await processSeries(msg.job, session);
    } catch (err) {
      outcome = seriesFailed(msg.job, (err as Error).message);
    }
    self.postMessage({ type: "series-done", outcome } satisfies FromWorker);
    return;
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
  self.postMessage({ type: "done", outcomes } satisfies FromWorker);
}

// One message at a time: a batch that arrives while another is being processed waits its turn.
let queue: Promise<void> = Promise.resolve();
self.onmessage = (e: MessageEvent<ToWorker>) => {
  queue = queue.then(() => handle(e.data));
};
