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
  if (e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable) {
    return "permission denied";
  }
  if (e instanceof Deno.errors.AlreadyExists) return "already exists";
  const message = e instanceof Error ? e.message : String(e);
  return withoutPaths(message);
}

/** A Deno file system message without the `: open '/a'` or `: copy '/a' -> '/b'` that ends it. */
export function withoutPaths(message: string): string {
  return message.replace(/( \(os error \d+\)): \w+ '.*?'(?: -> '.*?')?$/s, "$1");
}
