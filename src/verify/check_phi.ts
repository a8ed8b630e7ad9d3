/**
 * No PHI of its source in a de-identified output: not in any element value (`phi-element`), not in
 * its path (`phi-path`), not in its raw bytes (`phi-bytes`).
 */
import type { DicomFile } from "../dicom/model.ts";
import { type Context, inputRef, shown } from "./_context.ts";
import { findInBytes } from "./_phi_bytes.ts";
import type { FindingKind } from "./findings.ts";
import { findInElements, type PhiValue, type TextElement, withoutParts } from "./phi.ts";

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
        `the source's ${h.phi.source} (${ref})`,
    );
  }
  // Folder and file names are sanitised ("Doe^John" becomes "Doe_John"): compare words.
  const words = (text: string) => ` ${text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, " ").trim()} `;
  const pathWords = words(ctx.rows[row].output);
  // Names, dates, UIDs and IDs only: descriptions legitimately shape folder names, and a removed
  // ProtocolName may share its words with the kept SeriesDescription.
  const identifying = (p: PhiValue) =>
    ["PN", "DA", "DT", "UI"].includes(p.vr) || /(ID|IDs|Number)(\[|$)/.test(p.source.split(".").pop() ?? "");
  const inPath = phi.filter((p) =>
    identifying(p) && words(p.value).trim().length >= 3 && pathWords.includes(words(p.value))
  );
  for (const p of withoutPartsOf(inPath)) {
    find("phi-path", `its path holds ${shown(ctx, p)}, the source's ${p.source} (${ref})`);
  }
  const foundAlready = new Set(inElements.map((h) => h.phi));
  for (const h of await findInBytes(dest, actual, phi.filter((p) => !foundAlready.has(p)))) {
    find("phi-bytes", `${shown(ctx, h.phi)}, the source's ${h.phi.source} (${ref}), is in the ${h.where}`);
  }
}

/** Values another (longer) value in the list contains: a surname inside the whole name. */
function withoutPartsOf(values: readonly PhiValue[]): PhiValue[] {
  return values.filter((v) =>
    !values.some((o) =>
      o !== v && o.value.length > v.value.length && o.value.toLowerCase().includes(v.value.toLowerCase())
    )
  );
}
