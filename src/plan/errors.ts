/** Errors of the plan layer. */
import { DcmtidyError, EXIT } from "../util/errors.ts";

/** A shard argument or environment that does not make sense: a usage error (exit 2). */
export class ShardError extends DcmtidyError {
  /** `message` names the argument or variable and what it must be. */
  constructor(message: string) {
    super(message, EXIT.usage);
    this.name = "ShardError";
  }
}
