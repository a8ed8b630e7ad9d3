/**
 * CSV as dcmtidy writes and reads it (the report, files.csv, the key file): RFC 4180, written by
 * csv-stringify and read back by csv-parse, the two halves of one library.
 *
 * @module
 */
import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";

/**
 * Parse CSV text into rows of fields (quoted fields, doubled quotes, CRLF or LF; rows may differ
 * in length). Throws on malformed CSV (a quote left open).
 *
 * @example
 * ```ts
 * import { parseCsv } from "./csv.ts";
 * parseCsv('a,"b ""c"""\n1,2\n'); // [["a", 'b "c"'], ["1", "2"]]
 * ```
 */
export function parseCsv(text: string): string[][] {
  return parse(text, { relax_column_count: true, skip_empty_lines: false }) as string[][];
}

/** Rows of fields as CSV text, one line each (LF), quoting only where a field needs it. */
export function toCsv(rows: readonly (readonly string[])[]): string {
  return stringify(rows as string[][]);
}
