/**
 * The worker pool: as many sandboxed workers as cores (or `--jobs`). The main thread only
 * orchestrates: it hands out jobs in small batches, keeps two batches in flight per worker so a
 * worker never waits for the main thread, collects outcomes and keeps the journal.
 *
 * Workers get what they need as data: the resolved de-identification settings and the salt's
 * bytes. Only a TypeScript protocol with hooks is loaded again in the workers (its hooks are code,
 * and run only there, in the sandbox); everything else skips the protocol loader, which saves each
 * worker its start-up time and memory.
 */
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { configFromProtocol, type DeidConfig } from "../deid/config.ts";
import type { Protocol } from "../protocol/load.ts";
import { readLookupTable } from "../protocol/lookup.ts";
import type { FileJob, FileOutcome } from "./process.ts";
import type { ChangesOf, FromWorker, ToWorker } from "./worker.ts";
import type { Listed } from "../scan/scan.ts";
import type { StageOptions, Survey } from "../plan/survey.ts";
import type { SeriesJob, SeriesOutcome } from "./series.ts";

/** The read and write permissions a run's workers get, and nothing else. */
export function workerPermissions(
  p: Protocol,
  linkTargets: readonly string[] = [],
): Deno.PermissionOptionsObject {
  const d = p.deidentify;
  const read = [
    ...p.input.roots,
    p.file,
    p.output.root,
    // The code the worker (and a TypeScript protocol) imports.
    dirname(dirname(dirname(fileURLToPath(import.meta.url)))),
    ...(d?.lookupFile ? [d.lookupFile] : []),
  ];
  if (p.file.endsWith(".ts")) read.push(dirname(p.file));
  // Deno checks the resolved path: an input root reached through a symlink (macOS /tmp, a mount
  // link) is granted as itself and as what it points to. With follow_symlinks, links may also
  // lead out of the root; the folders they lead to are granted for reading only.
  for (const path of [...p.input.roots, p.output.root, ...linkTargets]) {
    try {
      const real = Deno.realPathSync(path);
      if (!read.includes(real)) read.push(real);
    } catch { /* not there yet (the output root) */ }
  }
  const write = [p.output.root];
  try {
    write.push(Deno.realPathSync(p.output.root));
  } catch { /* created later by the run, under its own name */ }
  return {
    read,
    write,
    net: false,
    // The yaml parser reads these two debug switches when it loads; nothing else is readable.
    env: ["LOG_TOKENS", "LOG_STREAM"],
    run: false,
    ffi: false,
    sys: false,
    import: false,
  };
}

/**
 * With follow_symlinks, the folders outside the input roots that input links lead to (granted for
 * reading, so a linked file can be read at all). Without it, none: the scan skipped links.
 */
export function linkTargetDirs(p: Protocol, paths: Iterable<string>): string[] {
  if (!p.input.followSymlinks) return [];
  const roots = p.input.roots.flatMap((r) => {
    try {
      return [Deno.realPathSync(r)];
    } catch {
      return [];
    }
  });
  const dirs = new Set<string>();
  for (const path of paths) {
    try {
      const real = Deno.realPathSync(path);
      if (!roots.some((r) => real === r || real.startsWith(r + "/"))) dirs.add(dirname(real));
    } catch { /* gone: the worker says so for that file */ }
  }
  return [...dirs];
}

/** Jobs per message: few enough that the last batches spread evenly over the workers. */
const MAX_BATCH = 8;
/** Batches a worker holds at once: it starts the next while the main thread records the last. */
const IN_FLIGHT = 2;

/** How the workers are initialised: with data when they can be, with the protocol file otherwise. */
async function initMessage(
  p: Protocol,
  init: { input?: string; output?: string; salt?: Uint8Array },
): Promise<ToWorker> {
  const d = p.deidentify;
  if (!d) return { type: "init" };
  if (!init.salt) throw new Error("sandboxed workers need the salt's bytes");
  if (Object.keys(d.hooks).length > 0) {
    return { type: "init", protocol: p.file, input: init.input, output: init.output, salt: init.salt };
  }
  const lookup = d.lookupFile ? await readLookupTable(d.lookupFile) : undefined;
  const config: DeidConfig = { ...configFromProtocol(p, lookup), hooks: {} };
  return { type: "init", config, salt: init.salt };
}

/**
 * Run every job through `jobs` sandboxed workers; `onDone` sees each outcome as it arrives, one
 * at a time. (Sort-only links are not made in workers: Deno asks for write access to a link's
 * target, which the workers never have on inputs; run.ts links them from what the plan read.)
 */
export async function runInWorkers(
  p: Protocol,
  init: { input?: string; output?: string; salt?: Uint8Array },
  jobs: FileJob[],
  workers: number,
  onDone: (o: FileOutcome) => Promise<void>,
): Promise<void> {
  const count = Math.max(1, Math.min(workers, jobs.length));
  const initMsg = await initMessage(p, init);
  const permissions = workerPermissions(p, linkTargetDirs(p, jobs.map((j) => j.path)));
  // Outcomes are recorded in arrival order, one after another, whichever worker sent them; the
  // workers go on meanwhile. A failure to record (the journal's disk full) stops the run as soon
  // as it happens.
  let recorded: Promise<void> = Promise.resolve();
  let recordFailed: { error: unknown } | undefined;
  const pool = await openPool(count, permissions, initMsg);
  try {
    await mapInPool(
      pool,
      jobs,
      (batch) => ({ type: "jobs", jobs: batch }),
      (msg) => (msg.type === "done" ? msg.outcomes : undefined),
      (o) => {
        recorded = recorded.then(() => onDone(o));
        recorded.catch((error) => (recordFailed ??= { error }));
      },
      () => recordFailed?.error as Error | undefined,
    );
    await recorded;
  } finally {
    pool.close();
  }
}

/** A plan's workers: they survey files and make dry-run diffs (see `src/plan/survey.ts`). */
export interface PlanWorkers {
  /** Survey the listed files; the result is in the order of `listed`. */
  survey(listed: readonly Listed[], onProgress?: (done: number, total: number) => void): Promise<Survey[]>;
  /** The dry-run diffs of these files (in no particular order). */
  changes(files: readonly { index: number; path: string }[]): Promise<ChangesOf[]>;
  /** Stop the workers. */
  close(): void;
}

/**
 * Start up to `workers` sandboxed workers for a plan: they may read the inputs and write nothing
 * (or only into `stage`, where a run's plan writes outputs ahead), and get the de-identification
 * settings (hooks by name only: the plan counts what a hook returns as removed) and the salt as
 * data.
 */
export async function openPlanWorkers(
  p: Protocol,
  config: DeidConfig | undefined,
  salt: Uint8Array | undefined,
  listed: readonly Listed[],
  workers: number,
  stage?: StageOptions,
): Promise<PlanWorkers> {
  if (config && !salt) throw new Error("sandboxed workers need the salt's bytes");
  const init: ToWorker = {
    type: "init",
    config: config && { ...config, hooks: {} },
    salt,
    plan: {
      root: p.output.root,
      folder: p.output.folder.source,
      file: p.output.file.source,
      burnedIn: p.deidentify?.burned_in ?? "warn",
      hooks: Object.keys(config?.hooks ?? {}),
      keepFields: !p.deidentify,
      stage,
    },
  };
  const linked = linkTargetDirs(p, listed.filter((f) => !f.notRegular).map((f) => f.path));
  // They write nothing, or (a run's plan that writes ahead) only into the staging folder.
  const permissions = { ...workerPermissions(p, linked), write: stage ? [stage.dir] : false };
  const pool = await openPool(Math.max(1, Math.min(workers, listed.length)), permissions, init);
  return {
    survey: async (files, onProgress) => {
      const out: Survey[] = new Array(files.length);
      let done = 0;
      await mapInPool(
        pool,
        files.map((f, index) => ({ index, listed: f })),
        (jobs) => ({ type: "survey", jobs }),
        (msg) => (msg.type === "surveyed" ? msg.surveys : undefined),
        (r) => {
          out[r.index] = r.survey;
          onProgress?.(++done, files.length);
        },
      );
      return out;
    },
    changes: (files) =>
      mapInPool(
        pool,
        files,
        (jobs) => ({ type: "changes", jobs: [...jobs] }),
        (msg) => (msg.type === "changed" ? msg.changes : undefined),
      ),
    close: pool.close,
  };
}

/**
 * Convert series to NIfTI in `workers` sandboxed workers (set up as for files), one series per
 * message: a series is read whole, so one at a time per worker bounds memory. `onDone` sees each
 * outcome as it arrives, one at a time.
 */
export async function runSeriesInWorkers(
  p: Protocol,
  init: { input?: string; output?: string; salt?: Uint8Array },
  jobs: SeriesJob[],
  workers: number,
  onDone: (o: SeriesOutcome) => Promise<void>,
): Promise<void> {
  const count = Math.max(1, Math.min(workers, jobs.length));
  const initMsg = await initMessage(p, init);
  const permissions = workerPermissions(
    p,
    linkTargetDirs(p, jobs.flatMap((j) => j.files.map((f) => f.path))),
  );
  let next = 0;
  let recorded: Promise<void> = Promise.resolve();
  await drive(count, permissions, initMsg, (w, resolve, fail) => {
    const send = () => {
      if (next < jobs.length) w.postMessage({ type: "series", job: jobs[next++] } satisfies ToWorker);
      else recorded.then(() => resolve(), fail);
    };
    return (msg) => {
      if (msg.type === "series-done") {
        const o = msg.outcome;
        recorded = recorded.then(() => onDone(o));
      }
      if (msg.type === "ready" || msg.type === "series-done") send();
    };
  });
}

/** Started and initialised sandboxed workers (see `openPool`). */
export interface Pool {
  readonly workers: readonly Worker[];
  /** Where a worker's messages go from now on. */
  listen(w: Worker, handle: (msg: FromWorker) => void): void;
  /** Where a worker's failure (a crash, an uncaught error) goes from now on. */
  onFailure(fail: (e: Error) => void): void;
  /** Stop every worker. */
  close(): void;
}

/**
 * Start `count` sandboxed workers and initialise them; resolves once every one is ready. A
 * worker that cannot start rejects, and every worker is stopped.
 */
export async function openPool(
  count: number,
  permissions: Deno.PermissionOptionsObject,
  initMsg: ToWorker,
): Promise<Pool> {
  const workers: Worker[] = [];
  const handlers = new Map<Worker, (msg: FromWorker) => void>();
  let failure: Error | undefined;
  let onFailure: (e: Error) => void = () => {};
  const close = () => {
    for (const w of workers) w.terminate();
  };
  try {
    await Promise.all(Array.from({ length: count }, () =>
      new Promise<void>((resolve, reject) => {
        const w = new Worker(new URL("./worker.ts", import.meta.url), {
          type: "module",
          deno: { permissions },
        });
        workers.push(w);
        let ready = false;
        const fail = (e: Error) => {
          if (!ready) return reject(e);
          failure ??= e;
          onFailure(e);
        };
        w.onerror = (e) => {
          e.preventDefault();
          fail(new Error(`worker failed: ${e.message}`));
        };
        w.onmessage = (e: MessageEvent<FromWorker>) => {
          if (e.data.type === "failed") return fail(new Error(`worker could not start: ${e.data.message}`));
          if (!ready && e.data.type === "ready") {
            ready = true;
            return resolve();
          }
          handlers.get(w)?.(e.data);
        };
        w.postMessage(initMsg);
      })));
  } catch (e) {
    close();
    throw e;
  }
  return {
    workers,
    listen: (w, handle) => handlers.set(w, handle),
    onFailure: (fail) => {
      onFailure = fail;
      if (failure) fail(failure);
    },
    close,
  };
}

/**
 * Send `jobs` to the pool's workers in batches, `IN_FLIGHT` batches per worker, and resolve with
 * every result (in arrival order) once all are back. `results` picks a reply's results out of a
 * worker's message; the first worker failure rejects, as does `stop` when it returns an error
 * (asked before each batch is sent).
 */
export function mapInPool<J, R>(
  pool: Pool,
  jobs: readonly J[],
  message: (batch: J[]) => ToWorker,
  results: (msg: FromWorker) => readonly R[] | undefined,
  onResult?: (r: R) => void,
  stop?: () => Error | undefined,
): Promise<R[]> {
  return new Promise((resolve, reject) => {
    const out: R[] = [];
    let next = 0;
    let pending = 0;
    const count = pool.workers.length;
    const batchSize = () => Math.max(1, Math.min(MAX_BATCH, Math.floor((jobs.length - next) / (count * 4))));
    const send = (w: Worker) => {
      const stopped = stop?.();
      if (stopped) return reject(stopped);
      let inFlight = inFlightOf.get(w) ?? 0;
      while (inFlight < IN_FLIGHT && next < jobs.length) {
        const batch = jobs.slice(next, next + batchSize());
        next += batch.length;
        inFlight++;
        pending++;
        w.postMessage(message(batch));
      }
      inFlightOf.set(w, inFlight);
      if (pending === 0 && next >= jobs.length) resolve(out);
    };
    const inFlightOf = new Map<Worker, number>();
    pool.onFailure(reject);
    for (const w of pool.workers) {
      pool.listen(w, (msg) => {
        const got = results(msg);
        if (!got) return;
        inFlightOf.set(w, inFlightOf.get(w)! - 1);
        pending--;
        for (const r of got) {
          out.push(r);
          onResult?.(r);
        }
        send(w);
      });
    }
    for (const w of pool.workers) send(w);
  });
}

/**
 * Start `count` sandboxed workers and initialise them; `start` sets each one up and returns what
 * to do with its messages (it is first told "ready"). Resolves when every worker called its
 * `resolve`; the first failure (a worker that cannot start or crashes, or `fail`) rejects. All
 * workers are stopped either way.
 */
async function drive(
  count: number,
  permissions: Deno.PermissionOptionsObject,
  initMsg: ToWorker,
  start: (w: Worker, resolve: () => void, fail: (e: Error) => void) => (msg: FromWorker) => void,
): Promise<void> {
  const pool = await openPool(count, permissions, initMsg);
  try {
    await new Promise<void>((resolve, reject) => {
      const finished = new Set<Worker>();
      let failed = false;
      const fail = (e: Error) => {
        failed = true;
        reject(e);
      };
      pool.onFailure(fail);
      for (const w of pool.workers) {
        const handle = start(w, () => {
          finished.add(w);
          if (finished.size === pool.workers.length) resolve();
        }, fail);
        pool.listen(w, (msg) => {
          if (!failed) handle(msg);
        });
        handle({ type: "ready" });
      }
    });
  } finally {
    pool.close();
  }
}
