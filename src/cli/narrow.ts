/**
 * The process narrows itself before it touches data: a command started with wide permissions (as
 * `deno task dcmtidy` starts it) loads the protocol, works out the least permissions the command
 * needs (`permissions.ts`), and runs itself again under exactly those, passing its arguments on.
 * Where it may (`--allow-ffi`, as the task gives it, on Linux or macOS) it becomes the narrowed
 * process (`replace_process.ts`: the same process id, nothing left waiting); elsewhere it starts
 * it as a child and returns the child's exit code. `cli.ts` does this before it loads the command's
 * own module, and this module loads the protocol's code only when it narrows, so a waiting process
 * holds no more code than loading a protocol takes. Deno cannot drop permissions in a running process
 * to an allow-list (revoking read revokes it all), so a new program it is; the cost is measured in
 * bench/README.md. A process already narrowed, one that may not start Deno, or a compiled binary
 * (whose own path is not `deno`) goes on as it is.
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import type { LoadOptions } from "../protocol/load.ts";
import { NARROWED_FLAGS } from "../util/permissions_in_force.ts";
import type { DataCommand } from "./permissions.ts";
import { replaceProcess } from "./replace_process.ts";
import { exitCodeOf, onStop } from "./stop_signals.ts";

let commandLine: readonly string[] = [];

/** The narrowed child's V8 flags (the bench profiles a run under the same). */
export const V8_FLAGS = "--v8-flags=--max-semi-space-size=2,--expose-gc";

/** The arguments `main` was given (what the narrowed child is run with). */
export function setCommandLine(args: readonly string[]): void {
  commandLine = args;
}

/** Set in the narrowed child (to its flags, for the audit record), so that it does not narrow again. */
const NARROWED = NARROWED_FLAGS;

/**
 * Set in a narrowed child that a waiting process started (where it could not become the child
 * itself): the child stops when that process is gone (`exitWithParent`).
 */
const WAITED_FOR = "DCMTIDY_PARENT_WAITS";

/** DCMTIDY_NARROW=0 keeps the permissions the process was started with (for debugging). */
const OPT_OUT = "DCMTIDY_NARROW";

/** Whether this process would run itself again narrowed. */
function mayNarrow(): boolean {
  // A compiled binary runs under the flags it was compiled with (its own path is not `deno`).
  if (!Deno.mainModule.startsWith("file:") || !/cli\.ts$/.test(Deno.mainModule)) return false;
  if (Deno.mainModule.includes("/deno-compile-")) return false;
  if (
    Deno.permissions.querySync({ name: "env", variable: OPT_OUT }).state === "granted" &&
    Deno.env.get(OPT_OUT) === "0"
  ) {
    return false;
  }
  const env = Deno.permissions.querySync({ name: "env", variable: NARROWED });
  if (env.state === "granted" && Deno.env.get(NARROWED)) return false; // already narrowed
  // Only a process with wide permissions narrows: one started with a narrow set (by hand, with the
  // flags `dcmtidy permissions` prints) already is.
  const wide = Deno.permissions.querySync({ name: "read" }).state === "granted" &&
    Deno.permissions.querySync({ name: "env" }).state === "granted";
  return wide && denoCommand() !== undefined;
}

/** How this process may start Deno again: by its own path, or as `deno` (`--allow-run=deno`). */
function denoCommand(): string | undefined {
  for (const command of [Deno.execPath(), "deno"]) {
    if (Deno.permissions.querySync({ name: "run", command }).state === "granted") return command;
  }
  return undefined;
}

/**
 * When this process may narrow itself: load the protocol at `file` and run the command line again
 * under the least permissions `command` needs (`extra`: folders it writes besides the protocol's):
 * as this process where it can (it does not return), else as a child whose exit code it returns.
 * Otherwise undefined, FFI given up: the command goes on in this process (the narrowed one, or one
 * that may not narrow), which loads the protocol itself.
 *
 * @example Before a command's module is loaded
 * ```ts ignore
 * const code = await narrowFirst("study.yaml", {}, "plan") ??
 *   await (await import("./run_commands.ts")).planCommand("study.yaml", {});
 * ```
 */
export async function narrowFirst(
  file: string,
  opts: LoadOptions,
  command: DataCommand,
  extra: { write?: string[] } = {},
): Promise<number | undefined> {
  if (!mayNarrow()) {
    dropFfi();
    return undefined;
  }
  const { loadProtocol } = await import("../protocol/load.ts");
  const protocol = await loadProtocol(file, opts);
  const { permissionFlags, permissionSet } = await import("./permissions.ts");
  return await narrowed(permissionFlags(permissionSet(protocol, command, extra)));
}

/**
 * `narrowFirst` for `merge`, which has no protocol: its permissions come from the output root and
 * the report the shards' parts name (`mergePermissionSet`).
 */
export async function narrowMergeFirst(output: string): Promise<number | undefined> {
  if (!mayNarrow()) {
    dropFfi();
    return undefined;
  }
  const { mergeReport } = await import("../run/shards.ts");
  const { mergePermissionSet, permissionFlags } = await import("./permissions.ts");
  const root = resolve(output);
  return await narrowed(permissionFlags(mergePermissionSet(root, await mergeReport(root))));
}

/**
 * glibc's `malloc` gives threads arenas of their own, each keeping what was freed in it, and Deno
 * runs file system calls on a pool of threads: with one arena the narrowed process held a run of
 * 30,000 files in 193.7 MB against 200.8 MB (4 alternating rounds), of 300,000 files in 284 against
 * 295 MB, in the same time (bench/README.md, "Fewer idle workers"). The variable is glibc's (read as
 * the new program starts; other C libraries ignore it). A value set outside is kept.
 */
function oneMallocArena(): void {
  try {
    if (Deno.env.get(MALLOC_ARENAS) === undefined) Deno.env.set(MALLOC_ARENAS, "1");
  } catch { /* the environment is not ours to change: left as it is */ }
}

/** glibc's variable for the most `malloc` arenas a process makes. */
const MALLOC_ARENAS = "MALLOC_ARENA_MAX";

/** Run this command line again under the permissions `flags` (the least the command needs). */
async function narrowed(flags: string[]): Promise<number> {
  const envFlag = flags.findIndex((f) => f.startsWith("--allow-env="));
  const ours = `${NARROWED},${WAITED_FOR}`;
  if (envFlag < 0) flags.push(`--allow-env=${ours}`);
  else flags[envFlag] = `${flags[envFlag]},${ours}`;
  const args = [
    "run",
    "--no-prompt",
    // V8's young generation grows to 3 x 16 MiB per isolate (the main one and each worker), and its
    // pages count in memory: 4 MiB took a plan of 30,000 files from 370 to 260 MB at no measured CPU
    // cost (bench/README.md, "Where the memory goes"); 2 MiB a plan of 300,000 from 213 to 203 MB
    // and a run from 233 to 224 MB, at the same CPU ("Buffers that die young"). 1 MiB promotes more.
    V8_FLAGS,
    "--config",
    `${dirname(fromFileUrl(Deno.mainModule))}/deno.json`,
    ...flags,
    fromFileUrl(Deno.mainModule),
    ...commandLine,
  ];
  // The narrowed process finds its flags in its environment (for the audit record); a parent to
  // watch is said only to a child (a variable of that name from outside is not ours to pass on).
  Deno.env.set(NARROWED, flags.join(" "));
  Deno.env.delete(WAITED_FOR);
  oneMallocArena();
  // This process becomes the narrowed one where it can (`--allow-ffi`, Linux or macOS): one process,
  // not one more that waits (bench/README.md, "One process"). It does not return when it does.
  const deno = Deno.execPath();
  replaceProcess(deno, [deno, ...args]);
  dropFfi();
  const child = new Deno.Command(denoCommand()!, {
    args,
    env: { [WAITED_FOR]: "1" },
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  // An interrupt or a termination is passed on (Ctrl-C in a terminal reaches both; a kill of this
  // process alone reaches only it): the child stops cleanly, keeping what is finished; this one waits.
  const stopListening = onStop((signal) => {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  });
  try {
    const status = await child.status;
    return status.signal ? exitCodeOf(status.signal) : status.code;
  } finally {
    stopListening();
  }
}

/**
 * Give up FFI (`--allow-ffi`, which only replacing this process with its narrowed self needs): a
 * process that does not narrow, or no longer can, works without it, and so do its workers.
 */
export function dropFfi(): void {
  if (Deno.permissions.querySync({ name: "ffi" }).state === "granted") {
    Deno.permissions.revokeSync({ name: "ffi" });
  }
}

/**
 * In a narrowed child that a waiting process started: when that process is gone (killed, even with
 * SIGKILL, which it cannot pass on), stop as a killed process would, at once: the next run resumes. A
 * process that replaced the one that narrowed has no such parent: whoever started it waits for it.
 */
export function exitWithParent(): void {
  if (Deno.permissions.querySync({ name: "env", variable: WAITED_FOR }).state !== "granted") return;
  if (Deno.env.get(WAITED_FOR) !== "1") return;
  const parent = Deno.ppid;
  const timer = setInterval(() => {
    if (Deno.ppid !== parent) Deno.exit(137);
  }, 100);
  Deno.unrefTimer(timer);
}
