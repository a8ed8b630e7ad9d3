/**
 * The least Deno permissions a command needs for a protocol: read the code, the module cache, the
 * protocol's own files, the inputs and the output; write the output root and the declared key,
 * report and quarantine places; the salt's environment variable (and two debugging switches the
 * YAML parser reads); no network, subprocess, FFI or system information. `dcmtidy permissions`
 * prints them; the CLI runs its commands under them (`narrow.ts`).
 *
 * @module
 */
import { basename, dirname, join, resolve, sep } from "node:path";
import type { Protocol } from "../protocol/protocol.ts";
import { isInside } from "../protocol/paths.ts";
import { codeRoot, moduleCache } from "../util/code_paths.ts";
import { UsageError } from "./errors.ts";
import { STATE_DIR } from "../run/state_dir.ts";

/** A command's permissions: paths to read and write, environment variables. */
export interface PermissionSet {
  readonly read: readonly string[];
  readonly write: readonly string[];
  readonly env: readonly string[];
  /**
   * Deno makes symlinks only with unscoped read and write (a link's target is resolved when it is
   * followed): a sort-only `mode: symlink` run cannot be narrowed to paths.
   */
  readonly unscoped?: boolean;
}

/** The commands that touch data (the others need nothing a protocol decides). */
export type DataCommand = "validate" | "plan" | "scan" | "run" | "verify";

/** Environment variables the YAML parser reads to switch on its debugging output (harmless). */
const LIBRARY_ENV = ["LOG_TOKENS", "LOG_STREAM"];

/** What `--shard-from-env` reads: the task of a Slurm job array, the index of a Kubernetes Indexed Job. */
const SCHEDULER_ENV = [
  "SLURM_ARRAY_TASK_ID",
  "SLURM_ARRAY_TASK_MIN",
  "SLURM_ARRAY_TASK_MAX",
  "SLURM_ARRAY_TASK_COUNT",
  "JOB_COMPLETION_INDEX",
];

/** Paths without those another one already covers, sorted. */
function minimal(paths: readonly (string | undefined)[]): string[] {
  const all = [...new Set(paths.filter((p): p is string => !!p).map((p) => resolve(p)))];
  // By the text: a path and what it resolves to are both kept (each is inside the other once resolved).
  return all.filter((p) => !all.some((o) => o !== p && (p.startsWith(o + sep) || o === sep))).sort();
}

/**
 * What `path` resolves to: through its nearest existing folder when it is not there yet (an output
 * root to be made under a symlinked folder); itself when nothing of it can be resolved.
 */
function realPathOf(path: string): string {
  const rest: string[] = [];
  for (let at = resolve(path);; at = dirname(at)) {
    try {
      return join(Deno.realPathSync(at), ...rest.reverse());
    } catch {
      if (dirname(at) === at) return path;
      rest.push(basename(at));
    }
  }
}

/**
 * Each path as given and as what it resolves to: the workers are granted a root reached through a
 * symlink (a mount link, macOS /tmp) both ways, and a worker may hold no more than this process.
 */
function resolved(paths: readonly (string | undefined)[]): string[] {
  return paths.flatMap((path) => (path ? [path, realPathOf(path)] : []));
}

/** What `command` needs for protocol `p` (already loaded with --input/--output applied). */
export function permissionSet(
  p: Protocol,
  command: DataCommand,
  extra: { write?: string[] } = {},
): PermissionSet {
  const d = p.deidentify;
  const root = p.output.root;
  const salt = d?.saltSource;
  const read = [
    codeRoot(),
    moduleCache(),
    dirname(p.file),
    ...p.input.roots,
    root,
    p.report,
    // The key file is renamed into place from a temporary name beside it: its folder.
    p.key ? dirname(p.key) : undefined,
    p.quarantine,
    d?.lookupFile,
    d?.tags_file ? resolve(dirname(p.file), d.tags_file) : undefined,
    salt && "file" in salt ? salt.file : undefined,
    ...(extra.write ?? []),
  ];
  // A split scan writes its part in the output root's state folder, and nothing else; a plan of
  // many files keeps its records in a temporary file there (see `planSpill`).
  const writes = command === "scan"
    ? [root]
    : command === "plan"
    ? [join(root, STATE_DIR)]
    : command === "run"
    ? [
      root,
      // Deno asks for write access to a link's target: sort-only hardlink and symlink runs link to
      // the inputs (dcmtidy never writes to them; the run's code makes the links in the main thread).
      ...(p.output.mode === "copy" ? [] : p.input.roots),
      isInside(p.report, root) ? undefined : dirname(p.report),
      // The key file is written to a temporary name beside it, then renamed: its folder.
      p.key ? dirname(p.key) : undefined,
      p.quarantine,
    ]
    : [];
  const reach = [...p.input.roots, root];
  return {
    read: minimal(resolved([...read, ...reach])),
    write: minimal(resolved([...writes, ...(extra.write ?? [])])),
    env: [
      ...(salt && "env" in salt ? [salt.env] : []),
      ...LIBRARY_ENV,
      ...(command === "plan" || command === "scan" || command === "run" ? SCHEDULER_ENV : []),
    ],
    unscoped: command === "run" && p.output.mode === "symlink",
  };
}

/**
 * What `merge` needs for the output root `root`: read the code, the module cache and the root (the
 * shards' parts and state), write the root (files.csv, audit.json, a DICOMDIR) and the folder of
 * `report` (report.csv, named by the parts; inside the root, nothing more). No environment.
 */
export function mergePermissionSet(root: string, report?: string): PermissionSet {
  const reportDir = report && !isInside(report, root) ? dirname(report) : undefined;
  return {
    read: minimal(resolved([codeRoot(), moduleCache(), root, reportDir])),
    write: minimal(resolved([root, reportDir])),
    env: [],
  };
}

/** The `deno run` flags for a permission set: nothing is allowed that the set does not name. */
export function permissionFlags(set: PermissionSet): string[] {
  if (set.unscoped) return ["--allow-read", "--allow-write", `--allow-env=${set.env.join(",")}`];
  const flags = [`--allow-read=${set.read.join(",")}`];
  if (set.write.length) flags.push(`--allow-write=${set.write.join(",")}`);
  if (set.env.length) flags.push(`--allow-env=${set.env.join(",")}`);
  return flags;
}

/**
 * What `plan --out FILE` and `plan --preview DIR` write besides the protocol's paths (the `extra`
 * of `permissionSet`).
 */
export function planWrites(opts: { readonly out?: string; readonly preview?: string }): { write: string[] } {
  return {
    write: [
      opts.out ? dirname(resolve(opts.out)) : undefined,
      opts.preview ? resolve(opts.preview) : undefined,
    ]
      .filter((w): w is string => w !== undefined),
  };
}

/** Options of `dcmtidy permissions`. */
export interface PermissionsCommandOptions {
  readonly command?: string;
  readonly input?: string;
  readonly output?: string;
  /** `plan --out FILE`: its folder is written. */
  readonly out?: string;
  /** `plan --preview DIR`: written. */
  readonly preview?: string;
}

/**
 * `dcmtidy permissions PROTOCOL`: the flags a command needs, and the `deno run` line that runs it
 * under exactly those (a cautious user can run it by hand).
 */
export async function permissionsCommand(file: string, opts: PermissionsCommandOptions): Promise<number> {
  const command = (opts.command ?? "run") as DataCommand;
  if (!["validate", "plan", "scan", "run", "verify"].includes(command)) {
    throw new UsageError(`--command ${command}: one of validate, plan, scan, run, verify`);
  }
  const { loadProtocol } = await import("../protocol/load.ts");
  // The salt is not read here: only where it comes from matters.
  const p = await loadProtocol(file, {
    input: opts.input,
    output: opts.output,
    env: () => "salt-not-needed-to-list-permissions",
  });
  const flags = permissionFlags(permissionSet(p, command, planWrites(opts)));
  const roots = [
    opts.input ? `--input ${opts.input}` : "",
    opts.output ? `--output ${opts.output}` : "",
    opts.out ? `--out ${opts.out}` : "",
    opts.preview ? `--preview ${opts.preview}` : "",
  ].filter(Boolean);
  console.log(flags.join(" "));
  console.log(
    `# deno run ${flags.join(" ")} ${codeRoot()}/cli.ts ${command}${command === "run" ? " --yes" : ""} ${
      [...roots, resolve(file)].join(" ")
    }`,
  );
  return 0;
}
