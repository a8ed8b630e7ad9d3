/**
 * The protocol folder's errors, all derived from {@link DcmtidyError} (exit code 2, a usage error:
 * the protocol must change first): {@link ProtocolError} lists every problem of a protocol with the
 * file, line and column it points at; {@link TemplateError} and {@link SelectorError} are a template
 * or a tag selector that does not parse (the loader turns them into protocol issues).
 *
 * @module
 */
import { DcmtidyError, EXIT } from "../util/errors.ts";

/** One problem found in a protocol. */
export interface ProtocolIssue {
  /** The file the problem is in (the protocol, or a file it names), as the user gave it. */
  readonly file: string;
  /** 1-based; absent for TypeScript protocols and whole-file problems. */
  readonly line?: number;
  /** 1-based column on `line`; `formatIssue` shows column 1 when it is absent. */
  readonly col?: number;
  /** What is wrong and, where it can tell, what was meant ("did you mean ..."). */
  readonly message: string;
}

/** Format an issue as `file:line:col: message`. */
export function formatIssue(issue: ProtocolIssue): string {
  const where = issue.line === undefined ? issue.file : `${issue.file}:${issue.line}:${issue.col ?? 1}`;
  return `${where}: ${issue.message}`;
}

/** Every problem found in a protocol: nothing runs until there are none. Exit code 2. */
export class ProtocolError extends DcmtidyError {
  /** Every problem, in the order found; the message lists them, one per line. */
  readonly issues: readonly ProtocolIssue[];
  /** Takes every problem found, so that the user can fix them all in one go. */
  constructor(issues: ProtocolIssue[]) {
    super(issues.map(formatIssue).join("\n"), EXIT.usage);
    this.name = "ProtocolError";
    this.issues = issues;
  }

  /** The issues, one `file:line:col: message` a line, without the `dcmtidy: ` prefix. */
  override describe(): string {
    return this.message;
  }
}

/** A template that does not compile; `column` is 1-based (in characters of the template). */
export class TemplateError extends DcmtidyError {
  /** Where in the template the problem is, 1-based, in characters. */
  readonly column: number;
  /** `message` says what is wrong and where; `column` is the same place as a number. */
  constructor(message: string, column: number) {
    super(message, EXIT.usage);
    this.name = "TemplateError";
    this.column = column;
  }
}

/** A selector that does not parse; the message says why and suggests a keyword when it can. */
export class SelectorError extends DcmtidyError {
  /** `message` names the selector as written and what is wrong with it. */
  constructor(message: string) {
    super(message, EXIT.usage);
    this.name = "SelectorError";
  }
}
