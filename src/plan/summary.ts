/**
 * The plan as text for a terminal: totals, the output tree, the dry-run diff of one file per
 * series, the action counts, what is not written, warnings and errors.
 *
 * Nothing identifying is shown unless `showPhi` (--show-phi): input files appear as `input #N`
 * (their row in `.dcmtidy/files.csv` and in `plan --out`), original values as `D***^J***`, and for
 * a protocol that does not de-identify, output names (made from the original headers) as `***`.
 */
import { textLines } from "./text_summary.ts";
import { syntaxLabel } from "../pixels/syntaxes.ts";
import { inputRef } from "../scan/scan.ts";
import { showValue } from "./changes.ts";
import { maskPath, planGroups, renderPlanText } from "./render.ts";
import type { Disposition, Plan, PlannedFile, PlannedSeries, WarningKind } from "./types.ts";
import { boundHeap } from "../util/heap.ts";

/** How to render a plan. */
export interface SummaryOptions {
  /** Show input paths and original values (--show-phi). */
  readonly showPhi?: boolean;
  /** ANSI colors (a terminal without NO_COLOR). */
  readonly color?: boolean;
  /** Every folder, series diff, patient and warning, not only the first ones (--all). */
  readonly all?: boolean;
}

/** Without --all: series whose changes are shown; tree folders; patients; warnings of one kind. */
export const LIMITS = { series: 20, folders: 100, patients: 20, warningsPerKind: 10 } as const;

const WARNING_TITLES: Readonly<Record<WarningKind, string>> = {
  "collision": "name collisions",
  "template-na": "template parts that are na",
  "burned-in": "burned-in text suspects",
  "pixels": "pixel regions blanked (burned_in: blank)",
  "dicomdir": "DICOMDIRs",
  "no-patient-id": "files without PatientID",
  "lookup-miss": "lookup misses",
  "same-instance": "instances found twice with other bytes",
  "deid": "de-identification warnings",
};

/** Bytes as MB (10^6), or kB for small amounts. */
export function formatBytes(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`;
}

const PLURALS: Readonly<Record<string, string>> = { study: "studies", series: "series" };
const plural = (n: number, word: string) => `${n} ${n === 1 ? word : PLURALS[word] ?? `${word}s`}`;
/** Longest value shown in the summary (the JSON has them whole). */
const MAX_VALUE = 100;

/** A value made safe for one terminal line: control characters escaped, long values cut. */
function printable(text: string): string {
  // deno-lint-ignore no-control-regex
  const safe = text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return safe.length > MAX_VALUE ? `${safe.slice(0, MAX_VALUE - 3)}...` : safe;
}

/** The text `dcmtidy plan` prints (and `dcmtidy run` before asking). */
export function planSummary(plan: Plan, opts: SummaryOptions = {}): string {
  const showPhi = opts.showPhi ?? false;
  const all = opts.all ?? false;
  const paint = (code: string) => (s: string) => opts.color ? `\x1b[${code}m${s}\x1b[0m` : s;
  const [red, green, yellow, dim, bold] = ["31", "32", "33", "2", "1"].map(paint);
  const deidentified = plan.protocol.deidentify !== undefined;
  // Output names and IDs come from the original headers when nothing is de-identified.
  const name = (s: string) => (deidentified || showPhi ? s : maskPath(s));
  const id = (s: string) => (deidentified || showPhi ? s : "***");
  const ref = (i: number) => dim(inputRef(i));

  // Totals, files per output folder, and the files not written. Only those are read (past the
  // memory bound, from disk): a file's disposition and series are at hand (`PlannedFiles`), and a
  // file to write is in its series' folder (the folder of its destination).
  const t: Record<Disposition, number> = { write: 0, skip: 0, quarantine: 0 };
  const folders = new Map<string, number>();
  const others: { f: PlannedFile; i: number }[] = [];
  const files = plan.files;
  for (let i = 0; i < files.length; i++) {
    if (i % 1024 === 1023) boundHeap(); // as a pass that reads the files back does
    const status = files.status(i)!;
    t[status]++;
    if (status !== "write") {
      others.push({ f: files.get(i), i });
      continue;
    }
    const s = files.seriesOf(i);
    const dest = s === undefined ? files.get(i).dest : undefined;
    const folder = s !== undefined
      ? plan.series[s].folder
      : dest === undefined
      ? undefined
      : dest.includes("/")
      ? dest.slice(0, dest.lastIndexOf("/"))
      : ".";
    if (folder !== undefined) folders.set(folder, (folders.get(folder) ?? 0) + 1);
  }
  const groups = planGroups(plan);
  const bytes = plan.series.reduce((n, s) => n + s.bytes, 0);
  const lines = [
    bold(
      `plan for ${plan.protocol.name}: ${plan.files.length} files scanned: ${t.write} to write, ${t.skip} skipped, ${t.quarantine} quarantined`,
    ),
    `output: ${plan.protocol.output.root}`,
  ];
  const format = plan.protocol.output.format;
  if (format === "nifti") {
    lines.push(
      `format: nifti: one .nii.gz and its .json sidecar per series (_1, _2... when a series splits); ` +
        `the files are read, not written as DICOM`,
    );
  } else if (format === "both") {
    lines.push(`format: both: the DICOM files, and one .nii.gz and its .json sidecar per series beside them`);
  }
  const ts = plan.protocol.output.transferSyntax;
  if (ts !== "keep" && format !== "nifti") {
    lines.push(
      `transfer syntax: DICOM files are written as ${
        syntaxLabel(ts)
      } (lossless; lossy sources keep their history)`,
    );
  }
  if (t.write) {
    lines.push(
      `  ${plural(groups.patients.length, "patient")}, ${plural(groups.studies.length, "study")}, ${
        plural(plan.series.length, "series")
      }, ${plural(t.write, "file")}, ${formatBytes(bytes)}`,
    );
  }
  if (!deidentified && !showPhi && t.write) {
    lines.push(
      dim("  (no de-identification: output names come from the original headers; --show-phi shows them)"),
    );
  }

  const patients = all ? groups.patients : groups.patients.slice(0, LIMITS.patients);
  if (patients.length) lines.push(deidentified ? "patients (by pseudonym):" : "patients:");
  for (const p of patients) {
    lines.push(
      `  ${id(p.id)}: ${plural(p.studies, "study")}, ${plural(p.series, "series")}, ${
        plural(p.files, "file")
      }, ${formatBytes(p.bytes)}`,
    );
  }
  more(lines, groups.patients.length - patients.length, "patients", dim);

  const niftiIn = new Map<string, string[]>();
  for (const s of plan.series) {
    if (s.nifti === undefined) continue;
    const base = `${s.nifti.slice(s.nifti.lastIndexOf("/") + 1)}.nii.gz`;
    niftiIn.set(s.folder, [...(niftiIn.get(s.folder) ?? []), deidentified || showPhi ? base : "***"]);
  }
  const tree = [...folders].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  if (tree.length) lines.push("tree:");
  for (const [folder, n] of all ? tree : tree.slice(0, LIMITS.folders)) {
    const nii = niftiIn.get(folder) ?? [];
    const shown = nii.length > 3 ? [...nii.slice(0, 3), `${nii.length - 3} more`] : nii;
    lines.push(
      `  ${name(folder)}/  (${plural(n, "file")}${nii.length ? `; NIfTI: ${shown.join(", ")}` : ""})`,
    );
  }
  if (!all) more(lines, tree.length - LIMITS.folders, "folders", dim);

  if (plan.series.length && plan.diffs === false) {
    lines.push(
      "changes: not shown (the plan was assembled from a split scan's parts, without reading a file; " +
        "dcmtidy plan shows them)",
    );
  } else if (plan.series.length) {
    lines.push(
      deidentified
        ? `changes (one file per series${
          showPhi ? "" : "; identifying values masked, --show-phi shows them"
        }):`
        : "changes: none (the protocol does not de-identify: files are copied as they are)",
    );
  }
  if (deidentified && plan.diffs !== false) {
    const shown = all ? plan.series : plan.series.slice(0, LIMITS.series);
    // Series of one acquisition mostly change the same elements: list those once, unless --all.
    const firstWith = new Map<string, PlannedSeries>();
    for (const s of shown) {
      const shape = s.changes.map((c) => `${c.path}\u0001${c.before === undefined}${c.after === undefined}`)
        .join("\n");
      const same = all || s.changes.length === 0 ? undefined : firstWith.get(shape);
      if (!firstWith.has(shape)) firstWith.set(shape, s);
      lines.push(...seriesLines(plan, s, showPhi, { red, green, dim }, same));
    }
    more(lines, plan.series.length - shown.length, "series", dim);
    const actions = Object.entries(plan.actions).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    if (actions.length) lines.push(`actions: ${actions.map(([code, n]) => `${code} ${n}`).join(", ")}`);
  }

  if (others.length) lines.push("not written:");
  for (const { f, i } of others) {
    lines.push(`  ${f.status.padEnd(10)} ${ref(i)}: ${f.reason ?? f.input.kind}`);
  }

  lines.push(...textLines(plan));
  const kinds = new Map<WarningKind, string[]>();
  for (const w of plan.warnings) kinds.set(w.kind, [...(kinds.get(w.kind) ?? []), w.message]);
  if (kinds.has("pixels")) kinds.set("pixels", grouped(kinds.get("pixels")!));
  for (const [kind, messages] of kinds) {
    const list = all ? messages : messages.slice(0, LIMITS.warningsPerKind);
    for (const m of list) lines.push(yellow(`warning: ${m.replace(/\{\{input:\d+\}\}/g, (r) => dim(r))}`));
    more(lines, messages.length - list.length, WARNING_TITLES[kind], (s) => yellow(s));
  }
  for (const e of plan.errors) lines.push(red(`error: ${e}`));
  return renderPlanText(plan, lines.join("\n"), showPhi);
}

/**
 * Messages that say the same of several inputs ("{{input:3}}: pixels blanked by ...") as one line
 * naming them all: the regions of a rule are the same for a whole device, so one line says it.
 */
function grouped(messages: readonly string[]): string[] {
  const byText = new Map<string, string[]>();
  for (const m of messages) {
    const at = m.indexOf(": ");
    const [who, what] = at > 0 ? [m.slice(0, at), m.slice(at + 2)] : ["", m];
    byText.set(what, [...(byText.get(what) ?? []), who]);
  }
  return [...byText].map(([what, who]) => {
    const refs = who.length > 3 ? `${who.slice(0, 3).join(", ")} and ${who.length - 3} more` : who.join(", ");
    return `${refs}${who.length > 1 ? ` (${who.length} files)` : ""}: ${what}`;
  });
}

function more(lines: string[], n: number, what: string, style: (s: string) => string): void {
  if (n > 0) lines.push(style(`  ... ${n} more ${what} (--all shows them; --json has everything)`));
}

/** A series header and its `-`/`+` lines, or a pointer to an earlier series that changes the same elements. */
function seriesLines(
  plan: Plan,
  s: PlannedSeries,
  showPhi: boolean,
  style: Record<"red" | "green" | "dim", (s: string) => string>,
  sameAs?: PlannedSeries,
): string[] {
  const rep = plan.files.get(s.representative);
  const where = `input #${s.representative + 1}${showPhi ? ` (${rep.input.rel})` : ""}`;
  const head = `  ${s.folder}/  ${s.modality ? `${s.modality}, ` : ""}${
    plural(s.files, "file")
  }, changes of ${style.dim(where)}`;
  if (s.changes.length === 0) return [head, "    (no changes)"];
  if (sameAs) {
    return [
      head,
      style.dim(
        `    the same ${s.changes.length} elements changed as in ${sameAs.folder}/ (--all shows the values)`,
      ),
    ];
  }
  const width = Math.min(40, Math.max(...s.changes.map((c) => c.path.length)));
  const out = [head];
  const shown = (text: string, vr: string, masked: boolean) =>
    text === "" ? "(empty)" : printable(showValue(text, vr, masked && !showPhi));
  for (const c of s.changes) {
    const key = c.path.padEnd(width);
    if (c.before !== undefined) out.push(style.red(`    - ${key}  ${shown(c.before, c.vr, c.maskBefore)}`));
    if (c.after !== undefined) out.push(style.green(`    + ${key}  ${shown(c.after, c.vr, c.maskAfter)}`));
  }
  return out;
}
