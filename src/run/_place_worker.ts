/// <reference lib="deno.worker" />
/**
 * The placer's worker (see `placer.ts`): created by the pool with Deno permissions that allow
 * reading only its code, the input roots and the output root, and writing only the output root. It
 * checks inputs and moves staged outputs into place, as the main thread asks.
 *
 * @module
 */
import { serveWorker } from "../workers/serve.ts";
import { moveStaged, type StagedMove } from "./placer.ts";

/** Messages the run sends. */
export type ToPlacer = { type: "init" } | { type: "move"; moves: StagedMove[] };

/** What the placer sends back for each message but the init: whether each file was moved. */
export type FromPlacer = { type: "moved"; moved: Uint8Array };

serveWorker<ToPlacer, FromPlacer>({
  init: () => {},
  handle: (msg) => {
    return { type: "moved", moved: Uint8Array.from(msg.moves, (m) => moveStaged(m) ? 1 : 0) };
  },
});
