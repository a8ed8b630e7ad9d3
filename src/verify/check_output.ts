/**
 * One written DICOM output: it is there, it parses, and then the checks that apply to it, in this
 * order: sort only, `check_placed`; de-identified, `check_marks`, then its source read again
 * (`unverifiable` when it cannot be), `check_phi`, and with `burned_in: blank`, `check_pixels`. It gives the facts `check_uids` needs.
 */
import { join } from "node:path";
import { DicomError } from "../dicom/errors.ts";
import { readDicomFile } from "../dicom/read_file.ts";
import type { DicomFile } from "../dicom/model.ts";
import { type Context, inputRef } from "./_context.ts";
import { sourcePhi } from "./_source.ts";
import { checkMarks } from "./check_marks.ts";
import { checkPhi } from "./check_phi.ts";
import { checkPixels, checkText } from "./check_pixels.ts";
import { checkPlaced } from "./check_placed.ts";
import { type OutputFacts, outputFacts } from "./check_uids.ts";
import type { Finding, FindingKind } from "./findings.ts";
import { flattenFile } from "./phi.ts";

/** What checking one output gave besides its findings. */
export interface OutputResult {
  /** Whether the output was there to read back. */
  readonly checked: boolean;
  /** Distinct PHI values of its source looked for. */
  readonly phi: number;
  /** For the UID checks across outputs (de-identified outputs whose source was read again). */
  readonly facts?: OutputFacts;
}

/**
 * Check the output of `row` (an index into files.csv's rows; files.csv says written); `inTree`
 * is what the output tree holds. Findings go to `out`.
 */
export async function checkOutput(
  ctx: Context,
  row: number,
  inTree: ReadonlySet<string>,
  out: Finding[],
): Promise<OutputResult> {
  const r = ctx.rows[row];
  const input = row + 1;
  const find = (kind: FindingKind, detail: string) => out.push({ kind, output: r.output, input, detail });
  if (!inTree.has(r.output)) {
    find("missing", "files.csv says written; not there");
    return { checked: false, phi: 0 };
  }
  const dest = join(ctx.protocol.output.root, r.output);
  let actual: DicomFile;
  try {
    actual = await readDicomFile(dest);
  } catch (e) {
    if (!(e instanceof DicomError)) throw e;
    find("unreadable", e.toString().replace(`${dest}: `, ""));
    return { checked: true, phi: 0 };
  }
  if (!ctx.session) {
    await checkPlaced(dest, join(r.root, r.input), inputRef(ctx, row), find);
    return { checked: true, phi: 0 };
  }
  const actualFlat = flattenFile(actual);
  checkMarks(actualFlat, find);
  const worked = await sourcePhi(ctx, row, (detail) => find("unverifiable", detail));
  if (!worked) return { checked: true, phi: 0 };
  await checkPhi(ctx, row, dest, actual, actualFlat, worked.phi, find);
  if (ctx.session.config.blankPixels) await checkPixels(worked, actual, actualFlat, find);
  if (ctx.session.config.detectText) await checkText(worked, actual, find);
  return {
    checked: true,
    phi: worked.phi.length,
    facts: outputFacts(input, r.output, worked.before, actualFlat),
  };
}
