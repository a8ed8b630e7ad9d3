/** Errors of a run that are the user's to fix, and file system failures told without paths. */

/**
 * A run refused because of the user's files or setup (an output root that is a file or cannot be
 * written, an output the run did not write in its way, a key file dcmtidy did not write): not a bug.
 * The command line prints the message and exits 2.
 */
export class RunRefusal extends Error {
  /** `message` says what is wrong and what to change; the command line prints it as it is. */
  constructor(message: string) {
    super(message);
    this.name = "RunRefusal";
  }
}

/**
 * Why a file system call failed, without the paths Deno puts in its messages (input paths can name
 * patients): "no such file", "permission denied", or the system's words with its error number.
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
