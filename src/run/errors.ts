/** Errors of a run that are the user's to fix. */
import { DcmtidyError, EXIT } from "../util/errors.ts";

/**
 * A run refused because of the user's files or setup (an output root that is a file or cannot be
 * written, an output the run did not write in its way, a key file dcmtidy did not write): not a bug.
 * The command line prints the message and exits 2.
 */
export class RunRefusal extends DcmtidyError {
  /** `message` says what is wrong and what to change; the command line prints it as it is. */
  constructor(message: string) {
    super(message, EXIT.usage);
    this.name = "RunRefusal";
  }
}

/** Shard parts that cannot be merged: each problem names the shard(s) and what is wrong. Exit 2. */
export class MergeError extends DcmtidyError {
  /** `problems`: one line each, naming the shard(s) and what is wrong. */
  constructor(readonly problems: string[]) {
    super(problems.join("\n"), EXIT.usage);
    this.name = "MergeError";
  }

  /** The problems, one per line, under what could not be done. */
  override describe(): string {
    return `dcmtidy merge: cannot merge:\n${this.problems.map((p) => `  ${p}`).join("\n")}`;
  }
}
