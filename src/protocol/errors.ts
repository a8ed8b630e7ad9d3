/** Protocol problems, each with the file, line and column it points at. */

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
export class ProtocolError extends Error {
  /** Every problem, in the order found; the message lists them, one per line. */
  readonly issues: readonly ProtocolIssue[];
  /** Takes every problem found, so that the user can fix them all in one go. */
  constructor(issues: ProtocolIssue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.name = "ProtocolError";
    this.issues = issues;
  }
}
