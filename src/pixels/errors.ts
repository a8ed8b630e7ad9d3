/**
 * The error of the pixel layer: a frame that cannot be decoded or encoded, with the reason in
 * words (the transfer syntax, the codec, what it said). Callers turn it into a quarantine reason,
 * a `notConverted` reason or a command's message.
 *
 * @module
 */
import { DcmtidyError, EXIT } from "../util/errors.ts";

/** Why pixels could not be decoded or encoded; the message is shown to the user as is. */
export class PixelError extends DcmtidyError {
  /** `exitCode`: when this error ends a command (default 1: the data, not the user's words). */
  constructor(message: string, exitCode: number = EXIT.internal) {
    super(message, exitCode);
    this.name = "PixelError";
  }
}
