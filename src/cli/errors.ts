/** How the command line turns failures into one clear line and an exit code. */
import { DicomError } from "../dicom/errors.ts";

/** A mistake in how the command was called: exit code 2, no stack trace. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Exit codes shared by every command. */
export const EXIT = { ok: 0, internal: 1, usage: 2 } as const;

/** One line for an error: typed errors say file and offset; file system errors say which path. */
export function describeError(e: unknown, path?: string): string {
  if (e instanceof DicomError) {
    if (!e.file && path) e.file = path;
    return e.toString();
  }
  if (e instanceof Deno.errors.NotFound) return `${path ?? ""}: no such file`.replace(/^: /, "");
  if (e instanceof Deno.errors.PermissionDenied) return `${path ? path + ": " : ""}permission denied`;
  if (e instanceof Error) return `${path ? path + ": " : ""}${e.message}`;
  return String(e);
}
