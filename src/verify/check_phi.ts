/**
 * No PHI of its source in a de-identified output: not in any element value (`phi-element`), not in
 * its path (`phi-path`), not in its raw bytes (`phi-bytes`). Values are matched as tokens
 * (`_tokens.ts`), and each finding names the rule it matched by.
 */
import type { DicomFile } from "../dicom/model.ts";
import { type Context, inputRef, shown } from "./_context.ts";
import { findInBytes } from "./_phi_bytes.ts";
import type { FindingKind } from "./findings.ts";
import { findInElements, type PhiValue, type TextElement, withoutParts } from "./phi.ts";
import { findToken, needleOf } from "./_tokens.ts";

/**
 * Look for the source's `phi` in the output of `row`: the file at `dest`, read as `actual`, whose
 * elements are `actualFlat`. A value found in an element is not reported again for the bytes.
 */
export async function checkPhi(
  ctx: Context,
  row: number,
  dest: string,
  actual: DicomFile,
  actualFlat: readonly TextElement[],
  phi: readonly PhiValue[],
  find: (kind: FindingKind, detail: string) => void,
): Promise<void> {
  const ref = inputRef(ctx, row);
  const inElements = findInElements(phi, actualFlat);
  for (const h of withoutParts(inElements)) {
    const more = h.paths.length > 3 ? ` and ${h.paths.length - 3} more` : "";
    find(
      "phi-element",
      `${h.paths.slice(0, 3).join(", ")}${more} hold${h.paths.length === 1 ? "s" : ""} ${
        shown(ctx, h.phi)
      }, ` +
        `the source's ${h.phi.source} (${ref}) [${h.rule}]`,
    );
  }
  // Folder and file names are sanitised ("Doe^John" becomes "Doe_John"): the token rules read "_"
  // and "/" as separators. Names, dates, UIDs and IDs only: descriptions legitimately shape folder
  // names, and a removed ProtocolName may share its words with the kept SeriesDescription.
  const identifying = (p: PhiValue) =>
    ["PN", "DA", "DT", "UI"].includes(p.vr) || /(ID|IDs|Number)(\[|$)/.test(p.source.split(".").pop() ?? "");
  const path = ctx.rows[row].output;
  const inPath = phi.flatMap((p) => {
    const n = identifying(p) ? needleOf(p) : undefined;
    const hit = n && findToken(n, path);
    return hit ? [{ phi: p, paths: ["path"], rule: hit.rule }] : [];
  });
  for (const h of withoutParts(inPath)) {
    find(
      "phi-path",
      `its path holds ${shown(ctx, h.phi)}, the source's ${h.phi.source} (${ref}) [${h.rule}]`,
    );
  }
  const foundAlready = new Set(inElements.map((h) => h.phi));
  for (const h of await findInBytes(dest, actual, phi.filter((p) => !foundAlready.has(p)))) {
    find(
      "phi-bytes",
      `${shown(ctx, h.phi)}, the source's ${h.phi.source} (${ref}), is in the ${h.where} [${h.rule}]`,
    );
  }
}
