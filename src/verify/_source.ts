/**
 * A row's source, read again and de-identified in memory as the run did it: what its output must
 * not hold. Private to src/verify/.
 */
import { join } from "node:path";
import { DeidError } from "../deid/errors.ts";
import type { PixelMatch } from "../deid/pixel_rules.ts";
import type { DeidResult } from "../deid/session.ts";
import { DicomError } from "../dicom/errors.ts";
import { readDicomFile } from "../dicom/read_file.ts";
import type { DicomFile } from "../dicom/model.ts";
import { buildMeta } from "../dicom/writer.ts";
import { type Context, inputRef } from "./_context.ts";
import { flattenFile, type PhiValue, phiValues, type TextElement } from "./phi.ts";

/** What reading a row's source again gave. */
export interface SourceRead {
  /** Its elements before de-identification, flattened. */
  readonly before: TextElement[];
  /** The PHI values the output must not hold. */
  readonly phi: PhiValue[];
  /** With `burned_in: blank`: the pixel rules that hold for it and their regions. */
  readonly pixels?: PixelMatch;
  /** Why it may carry burned-in text, if it may. */
  readonly burnedIn?: string;
  /** Its path. */
  readonly path: string;
}

/**
 * Read a row's source again and de-identify it in memory as the run did: its flattened elements
 * before, and the PHI values the output must not hold (remembered for the row's NIfTI checks).
 * A source that is gone, no longer reads or no longer de-identifies is reported through
 * `unverifiable` and gives undefined.
 */
export async function sourcePhi(
  ctx: Context,
  row: number,
  unverifiable: (detail: string) => void,
): Promise<SourceRead | undefined> {
  const r = ctx.rows[row];
  const ref = inputRef(ctx, row);
  const give = (result: SourceRead | undefined) => {
    ctx.phiOf.set(row, result?.phi);
    return result;
  };
  let source: DicomFile;
  try {
    source = await readDicomFile(join(r.root, r.input));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) unverifiable(`its source ${ref} is gone`);
    else if (e instanceof DicomError) unverifiable(`its source ${ref} no longer reads: ${e.message}`);
    else throw e;
    return give(undefined);
  }
  const before = flattenFile(source);
  let res: DeidResult;
  try {
    res = ctx.session!.deidentify(source);
    if (res.quarantine) {
      unverifiable(`its source ${ref} would be quarantined now: ${res.quarantine}`);
      return give(undefined);
    }
  } catch (e) {
    if (!(e instanceof DeidError)) throw e;
    unverifiable(`its source ${ref} no longer de-identifies: ${e.message}`);
    return give(undefined);
  }
  const after = flattenFile(source, buildMeta(source));
  return give({
    before,
    phi: phiValues(before, after, ctx.hooked),
    pixels: res.pixels,
    burnedIn: res.burnedIn,
    path: join(r.root, r.input),
  });
}
