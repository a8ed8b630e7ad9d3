/**
 * The Deno permissions a protocol's sandboxed workers get: read the inputs, the protocol's own
 * files and the code; write only where the caller says (the output root for a run's workers,
 * nothing or a staging folder for a plan's); no network, environment (but the YAML parser's two
 * debug switches), subprocesses, FFI or system information.
 *
 * @module
 */
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Protocol } from "../protocol/protocol.ts";

/** The folder of the code a worker imports (a TypeScript protocol's imports included). */
export const CODE_ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

/**
 * Each path, followed by what it resolves to where that differs: Deno checks a permission against
 * the resolved path (a root reached through a symlink, macOS /tmp). A path not there yet (an output
 * root the run makes later, under its own name) is given as it is.
 */
export function withResolved(paths: readonly string[]): string[] {
  return paths.flatMap((path) => {
    try {
      const real = Deno.realPathSync(path);
      return real !== path ? [path, real] : [path];
    } catch {
      return [path];
    }
  });
}

/** The read and write permissions a run's workers get, and nothing else. */
export function workerPermissions(
  p: Protocol,
  linkTargets: readonly string[] = [],
): Deno.PermissionOptionsObject {
  const d = p.deidentify;
  const read = [
    ...p.input.roots,
    p.file,
    p.output.root,
    CODE_ROOT,
    ...(d?.lookupFile ? [d.lookupFile] : []),
  ];
  if (p.file.endsWith(".ts")) read.push(dirname(p.file));
  // Deno checks the resolved path: an input root reached through a symlink (macOS /tmp, a mount
  // link) is granted as itself and as what it points to. With follow_symlinks, links may also
  // lead out of the root; the folders they lead to are granted for reading only.
  for (const path of [...p.input.roots, p.output.root, ...linkTargets]) {
    try {
      const real = Deno.realPathSync(path);
      if (!read.includes(real)) read.push(real);
    } catch { /* not there yet (the output root) */ }
  }
  return {
    read,
    write: withResolved([p.output.root]),
    net: false,
    // The yaml parser reads these two debug switches when it loads; nothing else is readable.
    env: ["LOG_TOKENS", "LOG_STREAM"],
    run: false,
    ffi: false,
    sys: false,
    import: false,
  };
}

/**
 * With follow_symlinks, the folders outside the input roots that input links lead to (granted for
 * reading, so a linked file can be read at all). Without it, none: the scan skipped links.
 */
export function linkTargetDirs(p: Protocol, paths: Iterable<string>): string[] {
  if (!p.input.followSymlinks) return [];
  const roots = p.input.roots.flatMap((r) => {
    try {
      return [Deno.realPathSync(r)];
    } catch {
      return [];
    }
  });
  const dirs = new Set<string>();
  for (const path of paths) {
    try {
      const real = Deno.realPathSync(path);
      if (!roots.some((r) => real === r || real.startsWith(r + "/"))) dirs.add(dirname(real));
    } catch { /* gone: the worker says so for that file */ }
  }
  return [...dirs];
}
