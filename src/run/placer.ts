/**
 * The placer: a small worker that moves a run's staged outputs into place when the plan wrote ahead
 * (`stage.ts`): for each chunk of files whose inputs are unchanged, the staged file's identity is
 * checked, its folder made and it is renamed, while the main thread checks the next chunk's inputs
 * and claims its files, and records the chunk before (see `write_files.ts`). The phase was these
 * calls and that bookkeeping one after the other, on one core while the other was idle
 * (bench/README.md, "The run's serial phases").
 *
 * It may read and write the output root (the staging folder is in it) and read its own code:
 * nothing else, no input; it loads no protocol, settings or salt.
 *
 * @module
 */
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Protocol } from "../protocol/protocol.ts";
import { hasIdentity, type OutputIdentity } from "../util/file_identity.ts";
import { openPool, type Pool } from "../workers/pool.ts";
import type { FromPlacer, ToPlacer } from "./_place_worker.ts";

const SCRIPT = new URL("./_place_worker.ts", import.meta.url);

/** A staged output to move: from its staging path, if it still has `identity`, to `dest`. */
export interface StagedMove {
  readonly from: string;
  readonly identity: OutputIdentity;
  readonly dest: string;
}

/**
 * Rename the staged file `from` to `dest` (making its folder) if it still has `identity`; false
 * when it does not, or cannot be moved (the run then writes that file itself).
 */
export function moveStaged({ from, identity, dest }: StagedMove): boolean {
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
 * The placer's permissions: read and write the output root (as given and as it resolves: Deno checks
 * the resolved path), read the code it loads; nothing else.
 */
export function placerPermissions(p: Protocol): Deno.PermissionOptionsObject {
  const roots = [p.output.root];
  try {
    const real = Deno.realPathSync(p.output.root);
    if (real !== p.output.root) roots.push(real);
  } catch { /* made later by the run, under its own name */ }
  const code = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
  return {
    read: [code, ...roots],
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
