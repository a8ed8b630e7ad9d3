/**
 * Every file accounted for: each file of the output tree was written by a row of files.csv
 * (`unaccounted` otherwise), and each input file under the protocol's globs has a row
 * (`unlisted-input` otherwise).
 */
import type { Protocol } from "../protocol/protocol.ts";
import { listFiles } from "../scan/inputs.ts";
import type { Finding } from "./findings.ts";
import type { FileRow } from "./records.ts";

/** Files of the output tree (relative paths) that no row of files.csv wrote (`claimed`). */
export function unaccountedFiles(tree: readonly string[], claimed: ReadonlySet<string>): Finding[] {
  return tree.filter((t) => !claimed.has(t)).map((t) => ({
    kind: "unaccounted" as const,
    output: t,
    detail: "in the output tree, but no row of files.csv wrote it",
  }));
}

/** Input files under the protocol's globs that files.csv does not list (added after the run?). */
export async function unlistedInputs(
  protocol: Protocol,
  rows: readonly FileRow[],
  showPhi: boolean,
): Promise<Finding[]> {
  const listed = new Set(rows.map((r) => `${r.root}\0${r.input}`));
  let found: Awaited<ReturnType<typeof listFiles>>;
  try {
    found = await listFiles({ ...protocol.input });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return []; // the input is gone: each output says so
    throw e;
  }
  return found.filter((f) => !listed.has(`${f.root}\0${f.rel}`)).map((f) => ({
    kind: "unlisted-input" as const,
    detail: `${showPhi ? f.rel : "an input file"} is not in files.csv (added after the run?)` +
      (showPhi ? "" : "; --show-phi shows its path"),
  }));
}
