/**
 * The generic pool of sandboxed workers: start N workers of one script with given permissions,
 * initialise them, feed them jobs in batches and collect the results, stop them. What the workers
 * do is their script's business (the plan's survey, the run's files and series); the pool knows
 * only the two control replies every script sends after its init message: "ready" or "failed".
 *
 * @module
 */
import { boundHeap } from "../util/heap.ts";

/** Results between two checks of the heap (see `boundHeap`). */
const HEAP_CHECK = 256;

/** The replies every worker script sends to its init message (see `serveWorker`). */
export type ControlReply = { type: "ready" } | { type: "failed"; message: string };

/** Started and initialised sandboxed workers (see `openPool`). */
export interface Pool<In, Out> {
  readonly workers: readonly Worker[];
  /** Send a message to one worker. */
  post(w: Worker, msg: In): void;
  /** Where a worker's messages go from now on. */
  listen(w: Worker, handle: (msg: Out) => void): void;
  /** Where a worker's failure (a crash, an uncaught error) goes from now on. */
  onFailure(fail: (e: Error) => void): void;
  /**
   * Stop every worker past the first `keep` (all of them for 0, none for Infinity): what is left for
   * them is work for fewer, and an idle worker holds its memory (tens of megabytes) until it is
   * stopped. Between maps only: a batch in flight on a stopped worker is never answered.
   */
  retire(keep: number): void;
  /** Stop every worker. */
  close(): void;
}

/**
 * Start `count` workers of `script` with `permissions` and send each `init`; resolves once every
 * one is ready. A worker that cannot start rejects, and every worker is stopped.
 *
 * @example
 * ```ts ignore
 * const pool = await openPool<ToPlanWorker, FromPlanWorker>(
 *   new URL("./_plan_worker.ts", import.meta.url), 2, { read: ["/data"], write: false }, init);
 * try {
 *   const results = await mapInPool(pool, jobs, (batch) => ({ type: "survey", jobs: batch }),
 *     (msg) => (msg.type === "surveyed" ? msg.surveys : undefined));
 * } finally {
 *   pool.close();
 * }
 * ```
 */
export async function openPool<In, Out extends { type: string }>(
  script: URL,
  count: number,
  permissions: Deno.PermissionOptionsObject,
  init: In,
): Promise<Pool<In, Out>> {
  const workers: Worker[] = [];
  const handlers = new Map<Worker, (msg: Out) => void>();
  let failure: Error | undefined;
  let onFailure: (e: Error) => void = () => {};
  const close = () => {
    for (const w of workers) w.terminate();
  };
  try {
    await Promise.all(Array.from({ length: count }, () =>
      new Promise<void>((resolve, reject) => {
        const w = new Worker(script, { type: "module", deno: { permissions } });
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
        w.onmessage = (e: MessageEvent<Out | ControlReply>) => {
          const msg = e.data as ControlReply;
          if (msg.type === "failed") return fail(new Error(`worker could not start: ${msg.message}`));
          if (!ready && msg.type === "ready") {
            ready = true;
            return resolve();
          }
          handlers.get(w)?.(e.data as Out);
        };
        w.postMessage(init);
      })));
  } catch (e) {
    close();
    throw e;
  }
  return {
    workers,
    post: (w, msg) => w.postMessage(msg),
    listen: (w, handle) => handlers.set(w, handle),
    onFailure: (fail) => {
      onFailure = fail;
      if (failure) fail(failure);
    },
    retire: (keep) => {
      for (const w of workers.splice(Number.isNaN(keep) ? workers.length : Math.max(0, keep))) {
        handlers.delete(w);
        w.terminate();
      }
    },
    close,
  };
}

/**
 * The jobs `mapInPool` sends, a batch at a time: an array, or what makes each batch when it is
 * sent (so that a long list of jobs need not be held whole).
 */
export interface JobList<J> {
  readonly length: number;
  slice(from: number, to: number): J[];
}

/** How `mapInPool` feeds the workers. */
export interface MapOptions<R> {
  /** Sees each result as it arrives; the map then keeps none (it resolves with an empty list). */
  readonly onResult?: (r: R) => void;
  /** Asked before each batch is sent: an error stops the map (it rejects with it). */
  readonly stop?: () => Error | undefined;
  /** Jobs per message at most (default 8: few enough that the last batches spread evenly). */
  readonly maxBatch?: number;
  /** Batches a worker holds at once (default 2: it starts the next while the main thread records). */
  readonly inFlight?: number;
}

/**
 * Send `jobs` to the pool's workers in batches and resolve with every result (in arrival order)
 * once all are back; with `opts.onResult`, each result goes to it instead and none is kept (a
 * plan's surveys and a run's outcomes, one per input file, are then held once, by whoever records
 * them). `message` makes a worker's message of a batch; `results` picks a reply's results out of a
 * worker's message (undefined for a message that is not a reply). The first worker failure rejects.
 */
export function mapInPool<In, Out, J, R>(
  pool: Pool<In, Out>,
  jobs: JobList<J>,
  message: (batch: J[]) => In,
  results: (msg: Out) => readonly R[] | undefined,
  opts: MapOptions<R> = {},
): Promise<R[]> {
  const maxBatch = opts.maxBatch ?? 8;
  const inFlightMax = opts.inFlight ?? 2;
  return new Promise((resolve, reject) => {
    if (!pool.workers.length) {
      return jobs.length ? reject(new Error("the pool's workers are stopped")) : resolve([]);
    }
    const out: R[] = [];
    let next = 0;
    let pending = 0;
    const count = pool.workers.length;
    const batchSize = () => Math.max(1, Math.min(maxBatch, Math.floor((jobs.length - next) / (count * 4))));
    const inFlightOf = new Map<Worker, number>();
    const send = (w: Worker) => {
      const stopped = opts.stop?.();
      if (stopped) return reject(stopped);
      let inFlight = inFlightOf.get(w) ?? 0;
      while (inFlight < inFlightMax && next < jobs.length) {
        const batch = jobs.slice(next, next + batchSize());
        next += batch.length;
        inFlight++;
        pending++;
        pool.post(w, message(batch));
      }
      inFlightOf.set(w, inFlight);
      if (pending === 0 && next >= jobs.length) resolve(out);
    };
    pool.onFailure(reject);
    let received = 0;
    for (const w of pool.workers) {
      pool.listen(w, (msg) => {
        const got = results(msg);
        if (!got) return;
        inFlightOf.set(w, inFlightOf.get(w)! - 1);
        pending--;
        for (const r of got) {
          if (opts.onResult) opts.onResult(r);
          else out.push(r);
        }
        send(w);
        // What the replies leave behind (their copies, what the caller compacts them into).
        if ((received += got.length) >= HEAP_CHECK) {
          received = 0;
          boundHeap();
        }
      });
    }
    for (const w of pool.workers) send(w);
  });
}

/**
 * Run `jobs` through `pool`, recording each result with `record`, one at a time in arrival order
 * (the workers go on meanwhile). A failure to record (the journal's disk full) stops the map as
 * soon as it happens, and rejects. The pool stays open: the caller may map more jobs, and closes it.
 */
export async function recordInPool<In, Out, J, R>(
  pool: Pool<In, Out>,
  jobs: JobList<J>,
  message: (batch: J[]) => In,
  results: (msg: Out) => readonly R[] | undefined,
  record: (r: R) => Promise<void>,
  opts: Pick<MapOptions<R>, "maxBatch" | "inFlight"> = {},
): Promise<void> {
  let recorded: Promise<void> = Promise.resolve();
  let recordFailed: { error: unknown } | undefined;
  await mapInPool(pool, jobs, message, results, {
    ...opts,
    onResult: (r) => {
      recorded = recorded.then(() => record(r));
      recorded.catch((error) => (recordFailed ??= { error }));
    },
    stop: () => recordFailed?.error as Error | undefined,
  });
  await recorded;
}

/** `recordInPool` through a pool opened for `jobs` and closed after. */
export async function mapRecorded<In, Out, J, R>(
  open: () => Promise<Pool<In, Out>>,
  jobs: readonly J[],
  message: (batch: J[]) => In,
  results: (msg: Out) => readonly R[] | undefined,
  record: (r: R) => Promise<void>,
  opts: Pick<MapOptions<R>, "maxBatch" | "inFlight"> = {},
): Promise<void> {
  const pool = await open();
  try {
    await recordInPool(pool, jobs, message, results, record, opts);
  } finally {
    pool.close();
  }
}
