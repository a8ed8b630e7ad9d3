/**
 * The run's records: report.csv (one row per output series, dcm2dir's columns first), files.csv
 * (one row per input file: nothing unaccounted for; it holds input paths, so it lives in
 * `<output>/.dcmtidy/` with the journal, which is never part of the shared dataset), the key file
 * for the honest broker, and an audit record with no PHI and no salt. Each is written to a temporary name and renamed.
 */
import { stringify } from "csv-stringify/sync";
import { dirname, join, relative } from "node:path";
import type { Disposition } from "../plan/plan.ts";
import type { Protocol } from "../protocol/load.ts";
import { renderRefs } from "../scan/scan.ts";
import type { FileOutcome } from "./process.ts";

/**
 * What the reports need from a plan: a `Plan` has it, and so does a merge of shard parts (which
 * carries no loaded protocol).
 */
export interface ReportPlan {
  readonly protocol:
    & Pick<Protocol, "name" | "sha256" | "report" | "key">
    & {
      readonly output: { readonly root: string };
      readonly deidentify?: { readonly options: readonly string[] };
    };
  readonly files: readonly {
    readonly input: { readonly rel: string; readonly root: string };
    readonly status: Disposition;
    readonly reason?: string;
    readonly dest?: string;
  }[];
}

/** What the reports need from a run (or from the merged runs of every shard). */
export interface ReportRun {
  readonly written: number;
  readonly skipped: number;
  readonly quarantined: number;
  readonly resumed: number;
  readonly outcomes: ReadonlyMap<number, FileOutcome>;
  readonly durationMs: number;
}

/** Write text to a temporary name beside `path`, then rename: readers never see half a file. */
export async function writeAtomically(path: string, text: string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.partial`;
  await Deno.writeTextFile(tmp, text);
  await Deno.rename(tmp, path);
}

/** Write report.csv, files.csv, the key file (when declared) and audit.json. */
export async function writeReports(
  plan: ReportPlan,
  s: ReportRun,
  meta: { version: string; rules: string; statePath: string; shards?: number },
): Promise<void> {
  const p = plan.protocol;
  const fileRows: string[][] = [["Input", "Root", "Status", "Reason", "Output"]];
  const series = new Map<string, { row: string[]; files: number }>();
  const inputs = plan.files.map((f) => f.input);
  for (const [i, f] of plan.files.entries()) {
    const o = s.outcomes.get(i);
    const status = f.status === "write"
      ? (o?.status === "quarantined" ? "quarantined" : "written")
      : f.status === "skip"
      ? "skipped"
      : "quarantined";
    const reason = o?.status === "quarantined" ? o.reason ?? "" : f.reason ?? "";
    fileRows.push([
      f.input.rel,
      f.input.root,
      status,
      renderRefs(reason, inputs, true),
      status === "written" ? f.dest ?? "" : "",
    ]);
    if (status !== "written" || !f.dest) continue;
    const folder = f.dest.includes("/") ? f.dest.slice(0, f.dest.lastIndexOf("/")) : ".";
    const v = o?.fields ?? {};
    const key = `${v.SeriesInstanceUID ?? ""}\0${folder}`;
    const entry = series.get(key);
    if (entry) {
      entry.files++;
      continue;
    }
    series.set(key, {
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
      files: 1,
    });
  }
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
    ],
    ...[...series.values()].map(({ row, files }) => {
      row[8] = String(files);
      return row;
    }).sort((a, b) => (a[9] < b[9] ? -1 : a[9] > b[9] ? 1 : 0)),
  ];
  await writeAtomically(p.report, stringify(reportRows));
  // Input paths often name the patient: files.csv stays with the run's state, not in the dataset.
  await writeAtomically(join(meta.statePath, "files.csv"), stringify(fileRows));
  if (p.key && p.deidentify) {
    const keyRows = new Map<string, string[]>();
    for (const o of s.outcomes.values()) {
      if (o.status !== "written" || !o.originalPatientId) continue;
      keyRows.set(`${o.originalPatientId}\0${o.originalStudyUID}`, [
        o.originalPatientId,
        o.pseudoId ?? "",
        String(o.dayOffset ?? ""),
        o.originalStudyUID ?? "",
        o.newStudyUID ?? "",
      ]);
    }
    const rows = [
      ["OriginalPatientID", "Pseudonym", "DateOffsetDays", "OriginalStudyInstanceUID", "NewStudyInstanceUID"],
      ...[
        ...keyRows.values(),
      ].sort((a, b) => (a.join() < b.join() ? -1 : 1)),
    ];
    await writeAtomically(p.key, stringify(rows));
  }
  const audit = {
    tool: `dcmtidy ${meta.version}`,
    protocol: { name: p.name, sha256: p.sha256 },
    rules: meta.rules,
    options: p.deidentify?.options ?? [],
    deidentified: p.deidentify !== undefined,
    counts: {
      scanned: plan.files.length,
      written: s.written,
      skipped: s.skipped,
      quarantined: s.quarantined,
      resumed: s.resumed,
    },
    durationSeconds: Math.round(s.durationMs) / 1000,
    report: relative(p.output.root, p.report),
    ...(meta.shards ? { shards: meta.shards } : {}),
  };
  await writeAtomically(join(meta.statePath, "audit.json"), JSON.stringify(audit, null, 2) + "\n");
}
