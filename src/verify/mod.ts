/**
 * The public face of src/verify/: checking a finished run's output against its inputs.
 *
 * @module
 */

// The entry point, its options, its report and its error.
export { VerifyError } from "./errors.ts";
export { type VerifyOptions, verifyOutput, type VerifyReport } from "./verify.ts";
export type { Finding, FindingKind } from "./findings.ts";
// What a finished run left: the rows of files.csv.
export { type FileRow, readFileRows } from "./records.ts";
// A source's PHI: its elements flattened with their strings, and the values its output must not hold.
export { flattenFile, type PhiValue, phiValues, type TextElement } from "./phi.ts";
