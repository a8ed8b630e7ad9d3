/**
 * Typed errors for reading and writing DICOM. Every read failure names the file, the byte offset
 * and what was expected, so a user with 100,000 files can find the bad one without a stack trace.
 * They derive from `DcmtidyError`: a `PathError` (a path the user wrote) is a usage error (exit
 * code 2); any other `DicomError` that ends a command is an internal one (exit code 1).
 *
 * @module
 */
import { DcmtidyError, EXIT } from "../util/errors.ts";

/** What went wrong, as a stable code that reports and tests can match on. */
export type DicomErrorCode =
  | "truncated" // a value or header runs past the end of the data
  | "not-dicom" // no recognisable DICOM encoding at the start
  | "bad-structure" // items, delimiters or lengths that contradict each other
  | "too-deep" // sequences nested deeper than we accept
  | "bad-value" // a value that cannot be encoded for its VR
  | "unsupported"; // a valid encoding we do not handle (yet)

/** The base of every error the DICOM engine throws on purpose. */
export class DicomError extends DcmtidyError {
  /** A stable code for reports and tests. */
  readonly code: DicomErrorCode;
  /** The file concerned, when known. */
  file?: string;
  /** Byte offset in the file (or in the inflated stream of a deflated file) where it went wrong. */
  readonly offset?: number;

  /**
   * `opts`: the file and byte offset, when known (`readDicomFile` fills in a missing `file`), and
   * the exit code when this error ends a command (default 1, internal).
   */
  constructor(
    code: DicomErrorCode,
    message: string,
    opts: { file?: string; offset?: number; exitCode?: number } = {},
  ) {
    super(message, opts.exitCode ?? EXIT.internal);
    this.name = "DicomError";
    this.code = code;
    this.file = opts.file;
    this.offset = opts.offset;
  }

  /** One line for a terminal or a report: `file: at byte N: message`. */
  override toString(): string {
    const where = this.offset === undefined ? "" : `at byte ${this.offset}: `;
    return `${this.file ? this.file + ": " : ""}${where}${this.message}`;
  }

  /** What the command line prints when it ends a command: `dcmtidy: internal error: ` and `toString()`. */
  override describe(): string {
    return `dcmtidy: internal error: ${this.toString()}`;
  }
}

/** Raised while parsing: the file and offset say where, the message says what was expected. */
export class DicomReadError extends DicomError {
  /** `opts.offset`: where the unexpected bytes are (in the inflated stream for deflated files). */
  constructor(code: DicomErrorCode, message: string, opts: { file?: string; offset?: number } = {}) {
    super(code, message, opts);
    this.name = "DicomReadError";
  }
}

/** Raised while encoding or writing: a value that does not fit its VR, a length that overflows. */
export class DicomWriteError extends DicomError {
  /** "bad-value" for a value that does not fit its VR, "unsupported" for what the writer cannot write. */
  constructor(code: DicomErrorCode, message: string, opts: { file?: string; offset?: number } = {}) {
    super(code, message, opts);
    this.name = "DicomWriteError";
  }
}

/** A path (`Seq[0].Keyword`, `(gggg,eeee)`) that does not parse or does not resolve: a usage error (exit code 2). */
export class PathError extends DicomError {
  /** Thrown with code "bad-value"; `message` names the path and what is wrong with it. */
  constructor(message: string) {
    super("bad-value", message, { exitCode: EXIT.usage });
    this.name = "PathError";
  }

  /** What the command line prints: `dcmtidy: ` and the message. */
  override describe(): string {
    return `dcmtidy: ${this.message}`;
  }
}
