/**
 * File system failures told without the paths Deno puts in its messages: input paths can name
 * patients, so reasons in reports and on the terminal never carry them.
 *
 * @module
 */

/**
 * Why a file system call failed: "no such file", "permission denied", or the system's words with
 * its error number.
 */
export function fsReason(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "no such file";
  if (e instanceof Deno.errors.NotCapable) {
    // 'Requires write access to "/a", run again with the --allow-write flag': the flag, not the path.
    const flag = (e as Error).message.match(/--allow-\w+/)?.[0];
    return `a Deno permission is missing${
      flag ? ` (${flag}; dcmtidy permissions PROTOCOL prints them)` : ""
    }`;
  }
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.AlreadyExists) return "already exists";
  const message = e instanceof Error ? e.message : String(e);
  return withoutPaths(message);
}

/** A Deno file system message without the `: open '/a'` or `: copy '/a' -> '/b'` that ends it. */
export function withoutPaths(message: string): string {
  return message.replace(/( \(os error \d+\)): \w+ '.*?'(?: -> '.*?')?$/s, "$1");
}

/** Operating system errors that are the environment's fault, by number, in words. */
const FAULTS: Readonly<Record<number, string>> = {
  28: "the disk is full (no space left on device)",
  122: "the disk quota is exceeded",
  30: "the file system is read-only",
  13: "permission denied",
  1: "operation not permitted",
  5: "an input/output error (the disk, or a network share, failed)",
  24: "too many open files",
  23: "too many open files in the system",
  12: "out of memory",
  116: "a stale network file handle",
  112: "the host is down (network share)",
};

/**
 * What went wrong in words when `e` is a fault of the environment (a full disk, a read-only file
 * system, permissions, I/O): undefined for anything else (a bug).
 */
export function environmentFault(e: unknown): string | undefined {
  // A Deno permission dcmtidy was not given is not the environment's fault: the caller says which flag.
  if (e instanceof Deno.errors.NotCapable) return undefined;
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  const code = (e as { code?: unknown })?.code;
  const n = Number(String(e instanceof Error ? e.message : e).match(/\(os error (\d+)\)/)?.[1] ?? NaN);
  if (Number.isFinite(n) && FAULTS[n]) return FAULTS[n];
  if (code === "ENOSPC") return FAULTS[28];
  if (code === "EROFS") return FAULTS[30];
  if (code === "EIO") return FAULTS[5];
  return undefined;
}
