/**
 * The de-identification folder's error, derived from {@link DcmtidyError}.
 *
 * @module
 */
import { DcmtidyError, EXIT } from "../util/errors.ts";

/**
 * A de-identification problem that stops the file (a lookup miss with `missing: error`, a hook
 * that throws, two patients given one pseudonym). The plan and the run catch it and quarantine the
 * file with its message as the reason; should it end a command, that is a usage error (exit 2):
 * the protocol, its lookup table or its hooks must change first.
 */
export class DeidError extends DcmtidyError {
  /** `message` is what the plan and the reports give as the file's reason. */
  constructor(message: string) {
    super(message, EXIT.usage);
    this.name = "DeidError";
  }
}
