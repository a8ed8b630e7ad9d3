/**
 * The placer: a small worker that moves a run's staged outputs into place when the plan wrote ahead
 * (`stage.ts`): for each chunk of files, each input is checked to be as it was when it was read (its
 * stamp), the staged file's identity is checked, its folder made and it is renamed, while the main
 * thread claims the next chunk's files and records the chunk before (see `write_files.ts`). The
 * phase was these calls and that bookkeeping one after the other, on one core while the other was
 * idle (bench/README.md, "The run's serial phases"); the inputs' stat was then the main thread's
 * largest cost in it (issue 18, twentieth round).
 *
 * It may read and write the output root (the staging folder is in it), read its own code, and read
 * the input roots (for the stat of each input; it opens none): nothing else; it loads no protocol,
 * settings or salt.
 *
 * @module
 */
import { dirname } from "node:path";
import type { Protocol } from "../protocol/protocol.ts";
import {
  hasIdentity,
  type InputStamp,
  type OutputIdentity,
  sameStamp,
  stampOf,
  statOrUndefined,
} from "../util/file_identity.ts";
import { openPool, type Pool } from "../workers/pool.ts";
import { CODE_ROOT, withResolved } from "../workers/permissions.ts";
import type { FromPlacer, ToPlacer } from "./_place_worker.ts";

const SCRIPT = new URL("./_place_worker.ts", import.meta.url);

/**
 * A staged output to move: from its staging path, if it still has `identity`, to `dest`; with
 * `input`, only if the input at `path` still has `stamp` (the one it had when it was read).
 */
export interface StagedMove {
  readonly from: string;
  readonly identity: OutputIdentity;
  readonly dest: string;
  readonly input?: { readonly path: string; readonly stamp: InputStamp };
}

/**
 * Rename the staged file `from` to `dest` (making its folder) if it still has `identity` (and its
 * input its stamp); false when it does not, or cannot be moved (the run then writes that file
 * itself).
 */
export function moveStaged({ from, identity, dest, input }: StagedMove): boolean {
  if (input) {
    const st = statOrUndefined(input.path);
    if (!st || !sameStamp(input.stamp, stampOf(st))) return false;
  }
  if (!hasIdentity(from, identity)) return false;
  try {
    try {
      Deno.renameSync(from, dest);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound) || !hasIdentity(from, identity)) throw e;
      Deno.mkdirSync(dirname(dest), { recursive: true });
      Deno.renameSync(from, dest);
    }
    return true;
  } catch {
    return false;
  }
}

/** The main thread's side of the placer: each request is answered in the order it was made. */
export interface Placer {
  /** Move these staged outputs; for each, whether it was moved (see `moveStaged`). */
  move(moves: readonly StagedMove[]): Promise<Uint8Array>;
  /** Stop the worker (a request unanswered by then is rejected). */
  close(): void;
}

/**
 * The placer's permissions: read and write the output root, read the input roots (each as given and
 * as it resolves: Deno checks the resolved path) and the code it loads; nothing else. Where links are
 * followed, inputs may lie elsewhere: the run checks those itself (`write_files.ts`).
 */
export function placerPermissions(p: Protocol): Deno.PermissionOptionsObject {
  const roots = withResolved([p.output.root]);
  return {
    read: [CODE_ROOT, ...roots, ...withResolved(p.input.roots).filter((r) => !roots.includes(r))],
    write: roots,
    net: false,
    env: false,
    run: false,
    ffi: false,
    sys: false,
    import: false,
  };
}

/** Start the placer for a run of `p`. */
export async function openPlacer(p: Protocol): Promise<Placer> {
  const pool: Pool<ToPlacer, FromPlacer> = await openPool(SCRIPT, 1, placerPermissions(p), { type: "init" });
  const [worker] = pool.workers;
  const waiting: { resolve: (msg: FromPlacer) => void; reject: (e: Error) => void }[] = [];
  let failed: Error | undefined;
  const fail = (e: Error) => {
    failed ??= e;
    for (const w of waiting.splice(0)) w.reject(e);
  };
  pool.onFailure(fail);
  pool.listen(worker, (msg) => waiting.shift()?.resolve(msg));
  const ask = (msg: ToPlacer): Promise<FromPlacer> =>
    failed ? Promise.reject(failed) : new Promise((resolve, reject) => {
      pool.post(worker, msg);
      waiting.push({ resolve, reject });
    });
  return {
    move: async (moves) => (await ask({ type: "move", moves: [...moves] })).moved,
    close: () => {
      pool.close();
      fail(new Error("the placer is stopped"));
    },
  };
}
