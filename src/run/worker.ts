/// <reference lib="deno.worker" />
/**
 * A run's worker: created by the pool with Deno permissions that allow reading only the inputs
 * (and the protocol's own files) and writing only the output root. No network, environment,
 * subprocesses, FFI or system information: a protocol hook that tries any of them fails, and its
 * file is quarantined with the reason. The salt arrives as bytes from the main thread.
 */
import { configFromProtocol } from "../deid/config.ts";
import { DeidSession } from "../deid/engine.ts";
import { Keys } from "../deid/keys.ts";
import { loadProtocol } from "../protocol/load.ts";
import { readLookupTable } from "../protocol/lookup.ts";
import { type FileJob, type FileOutcome, processFile } from "./process.ts";

/** Messages the pool sends. */
export type ToWorker =
  | { type: "init"; protocol: string; input?: string; output?: string; salt?: Uint8Array }
  | { type: "job"; job: FileJob };

/** Messages the worker sends back. */
export type FromWorker =
  | { type: "ready" }
  | { type: "failed"; message: string }
  | { type: "done"; outcome: FileOutcome };

let session: DeidSession | undefined;

self.onmessage = async (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  if (msg.type === "init") {
    try {
      const p = await loadProtocol(msg.protocol, {
        input: msg.input,
        output: msg.output,
        skipSaltCheck: true,
      });
      if (p.deidentify) {
        if (!msg.salt) throw new Error("no salt given to the worker");
        const lookup = p.deidentify.lookupFile ? await readLookupTable(p.deidentify.lookupFile) : undefined;
        session = new DeidSession(configFromProtocol(p, lookup), new Keys(msg.salt));
      }
      self.postMessage({ type: "ready" } satisfies FromWorker);
    } catch (err) {
      self.postMessage({ type: "failed", message: (err as Error).message } satisfies FromWorker);
    }
    return;
  }
  let outcome: FileOutcome;
  try {
    outcome = await processFile(msg.job, session);
  } catch (err) {
    // Whatever the file or a hook did (a refused permission included), the run goes on.
    outcome = { index: msg.job.index, status: "quarantined", reason: (err as Error).message };
  }
  self.postMessage({ type: "done", outcome } satisfies FromWorker);
};
