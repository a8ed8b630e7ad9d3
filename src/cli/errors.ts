/** How the command line turns failures into one clear line and an exit code. */
import { DicomError } from "../dicom/errors.ts";
import { DcmtidyError, EXIT } from "../util/errors.ts";

/** A mistake in how the command was called: exit code 2, no stack trace. */
export class UsageError extends DcmtidyError {
  /** `message` says what is wrong with the command line and what to give instead. */
  constructor(message: string) {
    super(message, EXIT.usage);
    this.name = "UsageError";
  }
}

/** One line for an error: typed errors say file and offset; file system errors say which path. */
export function describeError(e: unknown, path?: string): string {
  if (e instanceof DicomError) {
    if (!e.file && path) e.file = path;
    return e.toString();
  }
  if (e instanceof Deno.errors.NotFound) return `${path ?? ""}: no such file`.replace(/^: /, "");
  if (e instanceof Deno.errors.PermissionDenied) return `${path ? path + ": " : ""}permission denied`;
  if (e instanceof Deno.errors.IsADirectory || /os error 21\)/.test(String(e))) {
    return `${path ? path + ": " : ""}is a folder: give its files (for example ${path ?? "folder"}/*)`;
  }
  if (e instanceof Error) return `${path ? path + ": " : ""}${e.message}`;
  return String(e);
}
