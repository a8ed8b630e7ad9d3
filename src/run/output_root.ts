/**
 * The output root before a run writes in it: where it cannot be (told from `stat` alone, for
 * `plan`), made and probed for writing (for `run`), and cleared of the temporary files a killed
 * run left beside its destinations.
 *
 * @module
 */
import { dirname, join, sep } from "node:path";
import { exists } from "../dicom/file_io.ts";
import { fsReason } from "../util/fs_errors.ts";
import { partialTarget } from "../util/temp.ts";
import { type Shard, shardName } from "../plan/mod.ts";
import { lstatOrUndefined, statOrUndefined } from "../util/file_identity.ts";
import { RunRefusal } from "./errors.ts";
import { JOURNAL_FILE, STATE_DIR } from "./state_dir.ts";

/**
 * Where the output root cannot be: told from `stat` alone, without writing anything (for `plan`).
 * Undefined when the root is a folder or can be made.
 */
export async function outputRootProblem(root: string): Promise<string | undefined> {
  const st = await Deno.stat(root).catch(() => undefined);
  if (st) return st.isDirectory ? undefined : `the output root ${root} exists and is not a folder`;
  for (let dir = dirname(root);; dir = dirname(dir)) {
    const up = await Deno.stat(dir).catch(() => undefined);
    if (up) {
      return up.isDirectory ? undefined : `the output root ${root} cannot be made: ${dir} is not a folder`;
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/** Whether this process may read `path` (its Deno permissions; the file system decides the rest). */
function mayRead(path: string): boolean {
  return Deno.permissions.querySync({ name: "read", path }).state === "granted";
}

/**
 * Make sure the output root is a folder this process can write in, before anything is planned or
 * written: make it (and its missing parents) if need be, and create and remove a probe file in it.
 * Returns the folders it made, outermost first (a run the user then declines removes them).
 * Throws `RunRefusal` naming the path otherwise.
 */
export async function prepareOutputRoot(root: string): Promise<string[]> {
  const problem = await outputRootProblem(root);
  if (problem) throw new RunRefusal(problem);
  const missing: string[] = [];
  // A folder above the root this process may not look at (it runs with the least permissions,
  // src/cli/narrow.ts) is taken as there: making the root then says whether it is.
  const there = (dir: string) => dir !== root && !mayRead(dir) ? Promise.resolve(true) : exists(dir);
  for (let dir = root; !(await there(dir)); dir = dirname(dir)) {
    missing.unshift(dir);
    if (dirname(dir) === dir) break;
  }
  for (const dir of missing) {
    try {
      await Deno.mkdir(dir);
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) continue;
      throw new RunRefusal(`the output root ${root} cannot be made: ${dirname(dir)}: ${fsReason(e)}`);
    }
  }
  const probe = join(root, `.dcmtidy-probe-${crypto.randomUUID().slice(0, 8)}`);
  try {
    await Deno.writeFile(probe, new Uint8Array(0), { createNew: true });
    await Deno.remove(probe);
  } catch (e) {
    throw new RunRefusal(`the output root ${root} is not writable: ${fsReason(e)}`);
  }
  return missing;
}

/**
 * Remove temporary files a killed run left behind (they never carry a final name) in `folders`.
 * Only the partials of this run's own destinations: another shard may be writing beside them right
 * now. `dests` gives this run's destinations (absolute paths); it is gone through only when a
 * folder holds a partial, so a run keeps no list of its destinations for this.
 */
export async function removePartials(
  folders: Iterable<string>,
  dests: () => Iterable<string>,
): Promise<void> {
  const found = new Map<string, string[]>();
  for (const dir of folders) {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch {
      continue;
    }
    for (const e of entries) {
      const target = partialTarget(e.name);
      if (!e.isFile || target === undefined) continue;
      const path = join(dir, target);
      found.set(path, [...(found.get(path) ?? []), join(dir, e.name)]);
    }
  }
  if (found.size === 0) return;
  for (const dest of dests()) {
    for (const partial of found.get(dest) ?? []) await Deno.remove(partial).catch(() => {});
    found.delete(dest);
  }
}

/**
 * Where a planned destination is written: `join(root, dest)` for an output root made absolute and
 * normal by the protocol's loader and a plan's destination, a relative path of sanitised segments
 * (never empty, `.` or `..`), made without `join`'s normalising (0.7 KB of garbage a call, sampled,
 * on the thread that moves every file into place).
 */
export function destPath(root: string, dest: string): string {
  return root.endsWith("/") ? root + dest : `${root}/${dest}`;
}

/**
 * Folders under the output root known to be absent (and so every path under them), each asked of
 * the file system once: a fresh output's files need no `lstat` each (which fails, and a failed
 * call costs an error object) to know nothing is in their way. The root itself is there (made
 * before), and nothing above it is asked (a narrowed process may not read it).
 */
export function absentFolders(root: string): (dir: string) => boolean {
  const known = new Map<string, boolean>();
  const absent = (dir: string): boolean => {
    let is = known.get(dir);
    if (is === undefined) {
      const parent = dirname(dir);
      is = parent !== dir && dir.startsWith(root + sep) &&
        (absent(parent) || lstatOrUndefined(dir) === undefined);
      known.set(dir, is);
    }
    return is;
  };
  return absent;
}

/**
 * Other runs' state in the output root, which is what an output "not written by dcmtidy" usually is:
 * a plain run's where a shard runs, shards (or shards of another count) where a plain run or a shard
 * runs. Their journals are their own; said so, with what to do.
 */
export function otherRuns(root: string, shard: Shard | undefined): string {
  let shards: string[] = [];
  try {
    shards = [...Deno.readDirSync(join(root, STATE_DIR, "shards"))].filter((e) => e.isDirectory).map((e) =>
      e.name
    )
      .filter((n) => !shard || n !== shardName(shard)).sort();
  } catch { /* none */ }
  const plain = shard !== undefined && statOrUndefined(join(root, STATE_DIR, JOURNAL_FILE)) !== undefined;
  if (!shards.length && !plain) return "";
  const what = [
    ...(plain ? ["a run without --shard"] : []),
    ...(shards.length ? [`shard${shards.length === 1 ? "" : "s"} ${shards.join(", ")}`] : []),
  ].join(" and ");
  return ` (it may be ${what} of an earlier run: this output root holds their state in ${STATE_DIR}/; ` +
    "write to another output root, or finish that run as it was started: its shards and merge, or a run " +
    "without --shard)";
}
