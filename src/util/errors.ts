/**
 * The base of every error dcmtidy throws on purpose, and the exit codes the command line returns.
 * Each layer's `errors.ts` derives its own errors from `DcmtidyError`; the command line prints
 * `describe()` and exits with `exitCode`, without a stack trace. Anything else is a bug ("internal
 * error", exit 1).
 *
 * @module
 */

/** Exit codes shared by every command. */
export const EXIT = {
  /** Done, nothing to report. */
  ok: 0,
  /** A bug, or an error of the environment the tool did not expect. */
  internal: 1,
  /** The command, the protocol or the user's files must change first (nothing was done). */
  usage: 2,
} as const;

/**
 * An error dcmtidy raises on purpose: the message says what is wrong and what to change.
 *
 * @example Deriving a layer's error
 * ```ts
 * import { DcmtidyError, EXIT } from "./errors.ts";
 * class ShardError extends DcmtidyError {
 *   constructor(message: string) {
 *     super(message, EXIT.usage);
 *     this.name = "ShardError";
 *   }
 * }
 * ```
 */
export class DcmtidyError extends Error {
  /** The process exit code when this error ends a command. */
  readonly exitCode: number;

  /** `exitCode`: what the command line returns (a usage error unless said otherwise). */
  constructor(message: string, exitCode: number = EXIT.usage) {
    super(message);
    this.name = "DcmtidyError";
    this.exitCode = exitCode;
  }

  /** What the command line prints for it: one line, or a few for an error that lists problems. */
  describe(): string {
    return `dcmtidy: ${this.message}`;
  }
}

/**
 * A fault of the environment (a full disk, a read-only file system, permissions, I/O) that ended a
 * command: said in words with what to do, never as an internal error. Exit code 1.
 */
export class EnvironmentError extends DcmtidyError {
  constructor(message: string) {
    super(message, EXIT.internal);
    this.name = "EnvironmentError";
  }
}
