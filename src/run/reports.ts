/**
 * The run's records: report.csv (one row per output series, dcm2dir's columns first), files.csv
 * (one row per input file: nothing unaccounted for; it holds input paths, so it lives in
 * `<output>/.dcmtidy/` with the journal, which is never part of the shared dataset), the key file
 * for the honest broker, and an audit record with no PHI and no salt. Each is written to a temporary name and renamed.
 */
import { permissionsInForce } from "../util/permissions_in_force.ts";
import { join, relative } from "node:path";
import type { Disposition, FileList } from "../plan/mod.ts";
import { PRIVATE_FILE, writeAtomically } from "../util/atomic.ts";
import type { Protocol } from "../protocol/protocol.ts";
import { renderRefs } from "../scan/scan.ts";
import type { FileOutcome } from "./process.ts";
import type { SeriesOutcome } from "./series.ts";
import { toCsv } from "../util/csv.ts";

/** files.csv is made and written this many rows at a time (a million rows are not held at once). */
const ROWS_PER_WRITE = 4096;

/**
 * What the reports need from a plan: a `Plan` has it, and so does a merge of shard parts (which
 * carries no loaded protocol).
 */
export interface ReportPlan {
  readonly protocol:
    & Pick<Protocol, "name" | "sha256" | "report" | "key">
    & {
      /** `format` as in `output.format` (dicom when absent). */
      readonly output: { readonly root: string; readonly format?: "dicom" | "nifti" | "both" };
      readonly deidentify?: { readonly options: readonly string[] };
    };
  readonly files: FileList<ReportFile>;
}

/** What the reports need from a planned file. */
export interface ReportFile {
  readonly input: { readonly rel: string; readonly root: string };
  readonly status: Disposition;
  readonly reason?: string;
  readonly dest?: string;
}

/** What the reports need from a run (or from the merged runs of every shard). */
export interface ReportRun {
  readonly written: number;
  readonly skipped: number;
  readonly quarantined: number;
  readonly resumed: number;
  readonly outcomes: ReadonlyMap<number, FileOutcome>;
  /** With NIfTI output: each series' outcome (by index in the plan's series). */
  readonly series?: ReadonlyMap<number, SeriesOutcome>;
  readonly durationMs: number;
}

/**
 * Write report.csv, files.csv and audit.json (the key file is `mergeKeyFile`'s: its rows come from
 * the plan's original headers, which a merge of shard parts does not have).
 */
export async function writeReports(
  plan: ReportPlan,
  s: ReportRun,
  meta: { version: string; rules: string; statePath: string; shards?: number },
): Promise<void> {
  const p = plan.protocol;
  const format = p.output.format ?? "dicom";
  const nifti = format !== "dicom";
  const fileHeader = ["Input", "Root", "Status", "Reason", "Output", ...(nifti ? ["Nifti"] : [])];
  const series = new Map<string, { row: string[]; files: number; outcomes: Set<SeriesOutcome> }>();
  const inputs = { at: (i: number) => plan.files.at(i)?.input };
  // Each file's series outcome (its NIfTI fate) and the volumes that hold its instance(s).
  const niftiOf = new Map<number, { series: SeriesOutcome; file: FileOutcome; volumes: string[] }>();
  for (const o of s.series?.values() ?? []) {
    for (const file of o.files) niftiOf.set(file.index, { series: o, file, volumes: [] });
    for (const v of o.volumes) for (const i of v.files) niftiOf.get(i)?.volumes.push(v.nifti);
  }
  const statusOf = (i: number, f: ReportFile) => {
    const o = s.outcomes.get(i);
    const status = f.status === "write"
      ? (o?.status === "quarantined" ? "quarantined" : "written")
      : f.status === "skip"
      ? "skipped"
      : "quarantined";
    return { o, status, n: niftiOf.get(i) };
  };
  /** A file's row of files.csv. */
  const fileRow = (f: ReportFile, { o, status, n }: ReturnType<typeof statusOf>): string[] => {
    let reason = o?.status === "quarantined" ? o.reason ?? "" : f.reason ?? "";
    // Written as DICOM (both), but in no volume: the reason goes with it.
    if (format === "both" && status === "written" && n?.file.status === "quarantined") {
      reason = [reason, `NIfTI ${n.file.reason}`].filter(Boolean).join("; ");
    }
    const volumes = n?.volumes.join(";") ?? "";
    return [
      f.input.rel,
      f.input.root,
      status,
      renderRefs(reason, inputs, true),
      status !== "written" ? "" : format === "nifti" ? volumes : f.dest ?? "",
      ...(nifti ? [status === "written" ? volumes : ""] : []),
    ];
  };
  /** Count a file in its series' row of report.csv. */
  const addToSeries = (f: ReportFile, { o, status, n }: ReturnType<typeof statusOf>): void => {
    // A series row: its written files; with NIfTI only, also a series in no volume (with its reason).
    const counted = status === "written" || (format === "nifti" && n?.file.fields !== undefined);
    if (!counted || !f.dest) return;
    const folder = f.dest.includes("/") ? f.dest.slice(0, f.dest.lastIndexOf("/")) : ".";
    const v = (format === "nifti" ? n?.file.fields : o?.fields) ?? {};
    const key = `${v.SeriesInstanceUID ?? ""}\0${folder}`;
    const one = status === "written" ? 1 : 0;
    const entry = series.get(key);
    if (entry) {
      entry.files += one;
      if (n) entry.outcomes.add(n.series);
      return;
    }
    series.set(key, {
      outcomes: new Set(n ? [n.series] : []),
      row: [
        v.PatientID ?? "",
        v.StudyDate ?? "",
        v.StudyID ?? "",
        v.SeriesNumber ?? "",
        v.SeriesDescription ?? "",
        v.Modality ?? "",
        v.StudyInstanceUID ?? "",
        v.SeriesInstanceUID ?? "",
        "",
        folder,
      ],
      files: one,
    });
  };
  // Input paths often name the patient: files.csv stays with the run's state, not in the dataset.
  // One row per input file, written as CSV a slice of rows at a time, never all of them at once; the
  // same pass (the files and outcomes may be read back from disk) counts the series of report.csv.
  function* fileCsv(): Generator<string> {
    yield toCsv([fileHeader]);
    let rows: string[][] = [];
    for (const [i, f] of plan.files.entries()) {
      const status = statusOf(i, f);
      addToSeries(f, status);
      rows.push(fileRow(f, status));
      if (rows.length === ROWS_PER_WRITE) {
        yield toCsv(rows);
        rows = [];
      }
    }
    if (rows.length) yield toCsv(rows);
  }
  await writeAtomically(join(meta.statePath, "files.csv"), fileCsv(), { mode: PRIVATE_FILE });
  const reportRows = [
    [
      "SubjectID",
      "ExamDate",
      "ExamID",
      "SeriesID",
      "SeriesDescription",
      "Modality",
      "StudyInstanceUID",
      "SeriesInstanceUID",
      "Files",
      "OutputFolder",
      ...(nifti ? ["Format", "NiftiPath", "Note"] : []),
    ],
    ...[...series.values()].map(({ row, files, outcomes }) => {
      row[8] = String(files);
      return nifti ? [...row, ...niftiColumns(format, [...outcomes])] : row;
    }).sort((a, b) => (a[9] < b[9] ? -1 : a[9] > b[9] ? 1 : 0)),
  ];
  await writeAtomically(p.report, toCsv(reportRows));
  const audit = {
    tool: `dcmtidy ${meta.version}`,
    protocol: { name: p.name, sha256: p.sha256 },
    rules: meta.rules,
    options: p.deidentify?.options ?? [],
    deidentified: p.deidentify !== undefined,
    ...(nifti ? { format } : {}),
    counts: {
      scanned: plan.files.length,
      written: s.written,
      skipped: s.skipped,
      quarantined: s.quarantined,
      resumed: s.resumed,
      ...(nifti ? { volumes: [...s.series?.values() ?? []].reduce((n, o) => n + o.volumes.length, 0) } : {}),
    },
    durationSeconds: Math.round(s.durationMs) / 1000,
    // Which Deno permissions the run had: the narrowed flags, or each permission as a whole.
    permissions: permissionsInForce(),
    report: relative(p.output.root, p.report),
    ...(meta.shards ? { shards: meta.shards } : {}),
  };
  await writeAtomically(join(meta.statePath, "audit.json"), JSON.stringify(audit, null, 2) + "\n", {
    mode: PRIVATE_FILE,
  });
}

/**
 * A report row's Format, NiftiPath and Note: what its series became (dicom, nifti, dicom+nifti,
 * or not converted), its volumes (`;`-separated when it split), and why it, or part of it, was
 * not converted.
 */
function niftiColumns(format: "nifti" | "both", outcomes: readonly SeriesOutcome[]): string[] {
  const volumes = outcomes.flatMap((o) => o.volumes.map((v) => v.nifti));
  const reasons = outcomes.flatMap((o) => (o.notConverted ? [o.notConverted] : []));
  const converted = volumes.length > 0;
  const kind = format === "nifti"
    ? (converted ? "nifti" : "not converted")
    : (converted ? "dicom+nifti" : "dicom");
  const note = reasons.join("; ");
  return [
    kind,
    volumes.join(";"),
    format === "both" && !converted && note ? `NIfTI not converted: ${note}` : note,
  ];
}
