/**
 * The run's sandboxed workers (`_run_worker.ts`), on the generic pool: as many as cores (or
 * `--jobs`). The main thread only orchestrates: it hands out jobs in small batches, keeps two
 * batches in flight per worker so a worker never waits for the main thread, and records outcomes
 * (the journal) one at a time in arrival order.
 *
 * Workers get what they need as data: the resolved de-identification settings and the salt's
 * bytes. Only a TypeScript protocol with hooks is loaded again in the workers (its hooks are code,
 * and run only there, in the sandbox); everything else skips the protocol loader, which saves each
 * worker its start-up time and memory.
 *
 * @module
 */
import { type DeidConfig, loadDeidConfig } from "../deid/config.ts";
import { codecBinaries } from "../pixels/wasm.ts";
import type { Protocol } from "../protocol/protocol.ts";
import { linkTargetDirs, workerPermissions } from "../workers/permissions.ts";
import { mapRecorded, openPool, recordInPool } from "../workers/pool.ts";
import type { FileJob, FileOutcome } from "./process.ts";
import type { SeriesJob, SeriesOutcome } from "./series.ts";
import type { FromRunWorker, ToRunWorker } from "./_run_worker.ts";

const SCRIPT = new URL("./_run_worker.ts", import.meta.url);

/** How the workers are loaded: the salt, and the --input/--output the protocol was loaded with. */
export interface RunWorkerInit {
  readonly input?: string;
  readonly output?: string;
  readonly salt?: Uint8Array;
}

/** How the workers are initialised: with data when they can be, with the protocol file otherwise. */
async function initMessage(p: Protocol, init: RunWorkerInit): Promise<ToRunWorker> {
  const d = p.deidentify;
  // A sandboxed worker may not read the module cache: the codecs' WebAssembly comes as bytes.
  const pixels = needsCodecs(p) ? { codecs: await codecBinaries(), pixelWork: rewritesPixels(p) } : {};
  if (!d) return { type: "init", ...pixels };
  if (!init.salt) throw new Error("sandboxed workers need the salt's bytes");
  if (Object.keys(d.hooks).length > 0) {
    return {
      type: "init",
      protocol: p.file,
      input: init.input,
      output: init.output,
      salt: init.salt,
      ...pixels,
    };
  }
  const config: DeidConfig = { ...await loadDeidConfig(p), hooks: {} };
  return { type: "init", config, salt: init.salt, ...pixels };
}

/** Whether a run decodes pixels: NIfTI output, or DICOM files transcoded or blanked. */
export function needsCodecs(p: Protocol): boolean {
  return p.output.format !== "dicom" || rewritesPixels(p);
}

/** Whether DICOM files are written with new pixels: transcoded, or regions blanked. */
export function rewritesPixels(p: Protocol): boolean {
  return p.output.transferSyntax !== "keep" || p.deidentify?.burned_in === "blank";
}

/**
 * Open `count` run workers for `p` that may read the `paths` (and where their links lead: the paths
 * are gone through only where links are followed).
 */
async function openRunPool(p: Protocol, init: RunWorkerInit, count: number, paths: Iterable<string>) {
  const permissions = workerPermissions(p, linkTargetDirs(p, paths));
  return openPool<ToRunWorker, FromRunWorker>(SCRIPT, count, permissions, await initMessage(p, init));
}

/** A run's workers for files: open while the run hands them its files a chunk at a time. */
export interface RunWorkers {
  /**
   * Run these jobs through the workers; `record` sees each outcome as it arrives, one at a time,
   * and a failure to record stops the run. Resolves once every job is recorded.
   */
  run(jobs: readonly FileJob[], record: (o: FileOutcome) => Promise<void>): Promise<void>;
  /** Stop the workers. */
  close(): void;
}

/**
 * Start `count` sandboxed workers for the files a run writes itself, allowed to read the `paths`
 * (its inputs). (Sort-only links are not made in workers: Deno asks for write access to a link's
 * target, which the workers never have on inputs; the run links them from what the plan read.)
 */
export async function openRunWorkers(
  p: Protocol,
  init: RunWorkerInit,
  count: number,
  paths: Iterable<string>,
): Promise<RunWorkers> {
  const pool = await openRunPool(p, init, Math.max(1, count), paths);
  return {
    run: (jobs, record) =>
      recordInPool(
        pool,
        jobs,
        (batch): ToRunWorker => ({ type: "jobs", jobs: batch }),
        (msg) => (msg.type === "done" ? msg.outcomes : undefined),
        record,
      ),
    close: () => pool.close(),
  };
}

/**
 * Convert series to NIfTI in `workers` sandboxed workers (set up as for files), one series per
 * message and one at a time per worker: a series is read whole, so that bounds memory. `record`
 * sees each outcome as it arrives, one at a time.
 */
export function runSeriesInWorkers(
  p: Protocol,
  init: RunWorkerInit,
  jobs: SeriesJob[],
  workers: number,
  record: (o: SeriesOutcome) => Promise<void>,
): Promise<void> {
  const count = Math.max(1, Math.min(workers, jobs.length));
  return mapRecorded(
    () => openRunPool(p, init, count, jobs.flatMap((j) => j.files.map((f) => f.path))),
    jobs,
    ([job]): ToRunWorker => ({ type: "series", job }),
    (msg) => (msg.type === "series-done" ? [msg.outcome] : undefined),
    record,
    { maxBatch: 1, inFlight: 1 },
  );
}
