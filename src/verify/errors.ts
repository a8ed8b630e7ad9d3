/**
 * The errors of `verify`. A problem with the outputs is a finding, never an error; an error is a
 * verify that cannot start.
 *
 * @module
 */
import { DcmtidyError, EXIT } from "../util/errors.ts";

/**
 * A verify that cannot start: no finished run, a files.csv we cannot read, another input. A usage
 * error (exit 2): the user must run first or name the run's input.
 */
export class VerifyError extends DcmtidyError {
  /** One line for the user, naming the folder or file and what to do. */
  constructor(message: string) {
    super(message, EXIT.usage);
    this.name = "VerifyError";
  }
}
