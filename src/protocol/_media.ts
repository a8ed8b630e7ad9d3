/**
 * `output.dicomdir: true` asks for media file IDs (PS3.10 8.2, PS3.11 STD-GEN): every folder and
 * file name 1 to 8 characters from A-Z, 0-9 and _, at most 8 levels, no extension. A template that
 * cannot make them is refused here, at its line and column, with one that can; the names a template
 * renders from values (an ID, a missing value's `na`) are checked again by the plan, file by file.
 *
 * @module
 */
import { fileIdProblem } from "../dicom/dicomdir.ts";
import { lookupTag } from "../standard/dictionary.ts";
import type { ProtocolIssue } from "./errors.ts";
import type { ProtocolData } from "./schema.ts";
import type { ProtocolSource } from "./source.ts";
import type { CompiledTemplate } from "./template.ts";

/** A template that makes media file IDs, shown when one does not. */
export const MEDIA_TEMPLATE_HINT = 'path: "{pseudo_id}/SE{SeriesNumber:04}", file: "IM{InstanceNumber:04}"';

const NUMBER_VRS = new Set(["IS", "US", "UL", "SS", "SL", "UV", "SV"]);

/** A value like the ones an element gives in a name, or undefined for free text (never media-friendly). */
function sample(tag: number): string | undefined {
  const e = lookupTag(tag);
  const vr = e?.vrs?.[0] ?? "UN";
  if (NUMBER_VRS.has(vr)) return "1";
  if (vr === "DA") return "20240101";
  if (vr === "CS") return "MR";
  if ((vr === "SH" || vr === "LO") && /(ID|Number)$/.test(e?.keyword ?? "")) return "ID1";
  return undefined;
}

/** Add an issue for each output template that cannot make media file IDs when `output.dicomdir` is true. */
export function checkMediaTemplates(
  source: ProtocolSource,
  data: ProtocolData,
  templates: Partial<Record<"path" | "file", CompiledTemplate>>,
  issues: ProtocolIssue[],
): void {
  if (!data.output.dicomdir) return;
  if (data.output.format !== "dicom") {
    issues.push(
      source.issueAt(["output", "dicomdir"], "a DICOMDIR lists DICOM files only: use it with format: dicom"),
    );
    return;
  }
  const d = data.deidentify;
  const pid = d && typeof d.patient_id === "object" && "hash" in d.patient_id ? d.patient_id.hash : undefined;
  const pseudo = pid ? pid.prefix + "A".repeat(pid.length) : "ID1";
  const output = (source.data as { output?: unknown }).output;
  let levels = 0;
  for (const kind of ["path", "file"] as const) {
    const t = templates[kind];
    if (!t) continue;
    // A template left at its default has no line of its own: the issue goes to `dicomdir`.
    const written = output !== null && typeof output === "object" && kind in output;
    const at = written ? ["output", kind] : ["output", "dicomdir"];
    const what = `${written ? "" : "the default "}output.${kind} "${t.source}"`;
    const hint = `; with output.dicomdir, try ${MEDIA_TEMPLATE_HINT}`;
    const free = t.tags.filter((tag) => sample(tag) === undefined);
    if (free.length) {
      const names = free.map((tag) => lookupTag(tag)?.keyword ?? tag.toString(16)).join(", ");
      issues.push(
        source.issueAt(at, `${what} uses ${names}, which may hold any text: no media file ID${hint}`),
      );
      continue;
    }
    const parts = t.render({ value: (tag) => sample(tag), inputPath: "X/X", pseudoId: pseudo });
    levels += parts.length;
    const problem = fileIdProblem(parts);
    if (problem) {
      issues.push(source.issueAt(at, `${what} renders names like ${parts.join("/")}: ${problem}${hint}`));
    }
  }
  if (levels > 8) {
    issues.push(
      source.issueAt(["output", "path"], `${levels} levels of folders and file: a DICOMDIR allows 8`),
    );
  }
}
