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
import type { SeriesOutcome } from "./series.ts";
import { RunRefusal } from "./errors.ts";
import { parseCsv } from "../util/csv.ts";

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
  /** With NIfTI output: each series' outcome (by index in the plan's series). */
  readonly series?: ReadonlyMap<number, SeriesOutcome>;
  readonly durationMs: number;
}

/** Mode of the run's own records under `<output>/.dcmtidy/` and of the key file: the owner's only. */
export const PRIVATE_FILE = 0o600;
/** Mode of `<output>/.dcmtidy/` and the folders in it. */
export const PRIVATE_DIR = 0o700;

/** Set a mode where the platform has modes (Deno cannot on Windows: nothing to do there). */
export async function setMode(path: string, mode: number): Promise<void> {
  try {
    await Deno.chmod(path, mode);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotSupported) && Deno.build.os !== "windows") throw e;
  }
}

/**
 * Make a folder (its parents as usual) that only its owner can enter, and make an existing one so:
 * the run's state names input paths, original values never, but no one else needs to read it.
 */
export async function ensurePrivateDir(path: string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.mkdir(path, { mode: PRIVATE_DIR }).catch((e) => {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  });
  await setMode(path, PRIVATE_DIR);
}

/**
 * Write text to a temporary name beside `path`, then rename: readers never see half a file. With
 * `mode`, the file is created with it (before any byte is written). The temporary file is removed
 * when the write or the rename fails: it may hold what the key file holds.
 */
export async function writeAtomically(
  path: string,
  text: string,
  opts: { mode?: number } = {},
): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.partial`;
  try {
    await Deno.writeTextFile(tmp, "", {
      createNew: true,
      ...(opts.mode === undefined ? {} : { mode: opts.mode }),
    });
    if (opts.mode !== undefined) await setMode(tmp, opts.mode); // whatever the umask
    await Deno.writeTextFile(tmp, text);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
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
  const fileRows: string[][] = [["Input", "Root", "Status", "Reason", "Output", ...(nifti ? ["Nifti"] : [])]];
  const series = new Map<string, { row: string[]; files: number; outcomes: Set<SeriesOutcome> }>();
  const inputs = plan.files.map((f) => f.input);
  // Each file's series outcome (its NIfTI fate) and the volumes that hold its instance(s).
  const niftiOf = new Map<number, { series: SeriesOutcome; file: FileOutcome; volumes: string[] }>();
  for (const o of s.series?.values() ?? []) {
    for (const file of o.files) niftiOf.set(file.index, { series: o, file, volumes: [] });
    for (const v of o.volumes) for (const i of v.files) niftiOf.get(i)?.volumes.push(v.nifti);
  }
  for (const [i, f] of plan.files.entries()) {
    const o = s.outcomes.get(i);
    const status = f.status === "write"
      ? (o?.status === "quarantined" ? "quarantined" : "written")
      : f.status === "skip"
      ? "skipped"
      : "quarantined";
    const n = niftiOf.get(i);
    let reason = o?.status === "quarantined" ? o.reason ?? "" : f.reason ?? "";
    // Written as DICOM (both), but in no volume: the reason goes with it.
    if (format === "both" && status === "written" && n?.file.status === "quarantined") {
      reason = [reason, `NIfTI ${n.file.reason}`].filter(Boolean).join("; ");
    }
    const volumes = n?.volumes.join(";") ?? "";
    fileRows.push([
      f.input.rel,
      f.input.root,
      status,
      renderRefs(reason, inputs, true),
      status !== "written" ? "" : format === "nifti" ? volumes : f.dest ?? "",
      ...(nifti ? [status === "written" ? volumes : ""] : []),
    ]);
    // A series row: its written files; with NIfTI only, also a series in no volume (with its reason).
    const counted = status === "written" || (format === "nifti" && n?.file.fields !== undefined);
    if (!counted || !f.dest) continue;
    const folder = f.dest.includes("/") ? f.dest.slice(0, f.dest.lastIndexOf("/")) : ".";
    const v = (format === "nifti" ? n?.file.fields : o?.fields) ?? {};
    const key = `${v.SeriesInstanceUID ?? ""}\0${folder}`;
    const one = status === "written" ? 1 : 0;
    const entry = series.get(key);
    if (entry) {
      entry.files += one;
      if (n) entry.outcomes.add(n.series);
      continue;
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
      ...(nifti ? ["Format", "NiftiPath", "Note"] : []),
    ],
    ...[...series.values()].map(({ row, files, outcomes }) => {
      row[8] = String(files);
      return nifti ? [...row, ...niftiColumns(format, [...outcomes])] : row;
    }).sort((a, b) => (a[9] < b[9] ? -1 : a[9] > b[9] ? 1 : 0)),
  ];
  await writeAtomically(p.report, stringify(reportRows));
  // Input paths often name the patient: files.csv stays with the run's state, not in the dataset.
  await writeAtomically(join(meta.statePath, "files.csv"), stringify(fileRows), { mode: PRIVATE_FILE });
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

/** The key file's columns, in order: a file with other columns is not a key file dcmtidy wrote. */
export const KEY_HEADER: readonly string[] = [
  "OriginalPatientID",
  "Pseudonym",
  "DateOffsetDays",
  "OriginalStudyInstanceUID",
  "NewStudyInstanceUID",
];

/** One key file row, in `KEY_HEADER`'s order. */
export type KeyRow = readonly string[];

/** A lock older than this was left by a killed run (holding it takes a moment): it is taken over. */
const STALE_LOCK_MS = 120_000;
/** How long a run waits for another one (a shard) to finish writing the key file. */
const LOCK_WAIT_MS = 600_000;

/**
 * The rows of an existing key file, [] when there is none (or it is empty). Throws `RunRefusal`
 * when the file is not a key file dcmtidy wrote: it is not ours to replace.
 */
export async function readKeyFile(path: string): Promise<string[][]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    if (e instanceof Deno.errors.IsADirectory) {
      throw new RunRefusal(`the key file ${path} is a folder: name a file`);
    }
    throw e;
  }
  if (!text.trim()) return [];
  let parsed: string[][] = [];
  try {
    // Blank lines (an editor's last line) are no rows.
    parsed = parseCsv(text.replace(/^\uFEFF/, "")).filter((r) => r.length > 1 || r[0] !== "");
  } catch { /* not CSV: refused below */ }
  const [header = [], ...rows] = parsed;
  if (header.join(",") !== KEY_HEADER.join(",") || rows.some((r) => r.length !== KEY_HEADER.length)) {
    throw new RunRefusal(
      `the key file ${path} exists and is not a key file dcmtidy wrote (columns ${KEY_HEADER.join(",")}): ` +
        "refusing to replace it; move it away or name another key path",
    );
  }
  return rows;
}

/**
 * Add rows to the key file: the rows already in it are kept (another site, an earlier run), the same
 * row is listed once, and rows are sorted, so the file does not depend on which run or shard wrote
 * what first. The file is its owner's only (0600). Runs that share a key file (shards) take turns
 * through a lock file beside it.
 */
export async function mergeKeyFile(path: string, rows: readonly KeyRow[]): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  await withLock(`${path}.lock`, async () => {
    const all = new Map<string, KeyRow>();
    for (const r of [...(await readKeyFile(path)), ...rows]) all.set(JSON.stringify(r), r);
    const sorted = [...all.values()].sort(compareRows);
    await writeAtomically(path, stringify([KEY_HEADER, ...sorted]), { mode: PRIVATE_FILE });
  });
}

function compareRows(a: KeyRow, b: KeyRow): number {
  const x = a.join("\0");
  const y = b.join("\0");
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Run `work` holding `lock` (a file made with createNew); a lock left by a killed run is taken over. */
async function withLock<T>(lock: string, work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      (await Deno.open(lock, { write: true, createNew: true, mode: PRIVATE_FILE })).close();
      break;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    const since = await Deno.stat(lock).then(
      (st) => Date.now() - (st.mtime?.getTime() ?? Date.now()),
      () => 0,
    );
    if (since > STALE_LOCK_MS) {
      await Deno.remove(lock).catch(() => {});
      continue;
    }
    if (Date.now() > deadline) {
      throw new RunRefusal(`${lock} is held by another run (or left by one): remove it if no dcmtidy runs`);
    }
    await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
  }
  try {
    return await work();
  } finally {
    await Deno.remove(lock).catch(() => {});
  }
}
