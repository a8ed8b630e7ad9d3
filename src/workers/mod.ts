/**
 * The generic pool of sandboxed workers, below the plan and the run: open, map, stop, permissions,
 * and the worker side (`serveWorker`).
 *
 * @module
 */
export {
  type ControlReply,
  mapInPool,
  type MapOptions,
  mapRecorded,
  openPool,
  type Pool,
  recordInPool,
} from "./pool.ts";
export { linkTargetDirs, workerPermissions } from "./permissions.ts";
export { serveWorker, type WorkerHandlers } from "./serve.ts";
