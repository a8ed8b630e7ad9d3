/**
 * The worker pool: as many sandboxed workers as cores (or `--jobs`), each fed one file at a time.
 * The main thread only orchestrates: it hands out jobs, collects outcomes and keeps the journal.
 */
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Protocol } from "../protocol/load.ts";
import type { FileJob, FileOutcome } from "./process.ts";
import type { FromWorker, ToWorker } from "./worker.ts";

/** The read and write permissions a run's workers get, and nothing else. */
export function workerPermissions(p: Protocol): Deno.PermissionOptionsObject {
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
  return {
    read,
    write: [p.output.root],
    net: false,
    // The yaml parser reads these two debug switches when it loads; nothing else is readable.
    env: ["LOG_TOKENS", "LOG_STREAM"],
    run: false,
    ffi: false,
    sys: false,
    import: false,
  };
}

/** Run every job through `jobs` sandboxed workers; `onDone` sees each outcome as it arrives. */
export async function runInWorkers(
  p: Protocol,
  init: { input?: string; output?: string; salt?: Uint8Array },
  jobs: FileJob[],
  workers: number,
  onDone: (o: FileOutcome) => Promise<void>,
): Promise<void> {
  const count = Math.max(1, Math.min(workers, jobs.length));
  const pool: Worker[] = [];
  let next = 0;
  try {
    await Promise.all(Array.from({ length: count }, async () => {
      const w = new Worker(new URL("./worker.ts", import.meta.url), {
        type: "module",
        deno: { permissions: workerPermissions(p) },
      });
      pool.push(w);
      const reply = (msg: ToWorker) =>
        new Promise<FromWorker>((resolve, reject) => {
          w.onmessage = (e: MessageEvent<FromWorker>) => resolve(e.data);
          w.onerror = (e) => {
            e.preventDefault();
            reject(new Error(`worker failed: ${e.message}`));
          };
          w.postMessage(msg);
        });
      const ready = await reply({ type: "init", protocol: p.file, ...init });
      if (ready.type === "failed") throw new Error(`worker could not start: ${ready.message}`);
      while (next < jobs.length) {
        const job = jobs[next++];
        const done = await reply({ type: "job", job });
        if (done.type !== "done") throw new Error("worker answered out of turn");
        await onDone(done.outcome);
      }
    }));
  } finally {
    for (const w of pool) w.terminate();
  }
}
