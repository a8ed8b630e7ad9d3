/// <reference lib="deno.worker" />
/**
 * The worker side of the pool: a worker script hands `serveWorker` what to do with its init
 * message and with each job message. Messages are handled one at a time, in arrival order (a batch
 * that arrives while another is processed waits its turn); the init is answered "ready" or
 * "failed" with the reason, as `openPool` expects.
 *
 * @module
 */
import type { ControlReply } from "./pool.ts";
import { boundHeap } from "../util/heap.ts";

/** What a worker script does with its messages. */
export interface WorkerHandlers<In extends { type: string }, Out> {
  /** Set the worker up from its init message (the first one); a throw is reported as "failed". */
  init(msg: Extract<In, { type: "init" }>): void | Promise<void>;
  /** Answer one job message; the reply is posted back as it is. */
  handle(msg: Exclude<In, { type: "init" }>): Out | Promise<Out>;
}

/**
 * Serve the pool from this worker.
 *
 * @example
 * ```ts ignore
 * serveWorker<ToPlanWorker, FromPlanWorker>({
 *   init: (msg) => { context = contextOf(msg); },
 *   handle: (msg) => ({ type: "surveyed", surveys: surveyBatch(msg.jobs, context) }),
 * });
 * ```
 */
export function serveWorker<In extends { type: string }, Out>(handlers: WorkerHandlers<In, Out>): void {
  const step = async (msg: In) => {
    if (msg.type === "init") {
      try {
        await handlers.init(msg as Extract<In, { type: "init" }>);
        self.postMessage({ type: "ready" } satisfies ControlReply);
      } catch (err) {
        self.postMessage({ type: "failed", message: (err as Error).message } satisfies ControlReply);
      }
      return;
    }
    self.postMessage(await handlers.handle(msg as Exclude<In, { type: "init" }>));
    // A worker goes through every file of its share: its heap is kept near what is live.
    boundHeap();
  };
  let queue: Promise<void> = Promise.resolve();
  self.onmessage = (e: MessageEvent<In>) => {
    queue = queue.then(() => step(e.data));
  };
}
