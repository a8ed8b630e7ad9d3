/** Protocol problems, each with the file, line and column it points at. */

/** One problem found in a protocol. */
export interface ProtocolIssue {
  readonly file: string;
  /** 1-based; absent for TypeScript protocols and whole-file problems. */
  readonly line?: number;
  readonly col?: number;
  readonly message: string;
}

/** Format an issue as `file:line:col: message`. */
export function formatIssue(issue: ProtocolIssue): string {
  const where = issue.line === undefined ? issue.file : `${issue.file}:${issue.line}:${issue.col ?? 1}`;
  return `${where}: ${issue.message}`;
}

/** Every problem found in a protocol: nothing runs until there are none. Exit code 2. */
export class ProtocolError extends Error {
  readonly issues: readonly ProtocolIssue[];
  constructor(issues: ProtocolIssue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.name = "ProtocolError";
    this.issues = issues;
  }
}
