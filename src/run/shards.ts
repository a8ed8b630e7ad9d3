/**
 * Shard parts and their merge. A shard run leaves `<output>/.dcmtidy/shards/K-of-N/part.jsonl`: a
 * first line with what every shard must agree on (tool, rules, protocol, fingerprints of the whole
 * plan and of the salt), a line for each of its files (its fate and outcome), a line for each
 * series it converted, and a last line that says it is complete. `mergeShards` checks that every
 * shard finished with the same tool, rules, protocol, salt and plan, then writes the same
 * report.csv, files.csv and audit.json a single run would. Both go through a part a line at a time,
 * and the merge holds the files and outcomes as a run does (past a bound, in a temporary file): a
 * shard of a million files is never one string or one array. Parts hold no original identities:
 * each shard adds its rows to the key file itself (outside the output root), so the merged key
 * file is the single run's.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { isAbsolute, join, relative, resolve } from "node:path";
import { FileRecords, type Plan, type Shard, shardName } from "../plan/mod.ts";
import { MergeError } from "./errors.ts";
import { type FileOutcome, outcomeCodec } from "./process.ts";
import type { SeriesOutcome } from "./series.ts";
import { type ReportFile, type ReportPlan, writeReports } from "./reports.ts";
import { removeOurDicomDir, writeDicomDir } from "./dicomdir.ts";
import { PRIVATE_FILE, writeAtomically } from "../util/atomic.ts";
import { boundHeap } from "../util/heap.ts";
import { readLines } from "../util/lines.ts";
import { SpillMap } from "../util/spill_map.ts";
import { planSpill, shardStatePath, STATE_DIR } from "./state_dir.ts";

const PART_FILE = "part.jsonl";
/** What dcmtidy before part format 3 left (one JSON document). */
const OLDER_PART_FILE = "part.json";
/** Version 3: a line a file (version 2 was one JSON document), outcomes without original identities. */
const PART_FORMAT = "dcmtidy-shard-part/3";

/** A part's first line: what every shard must have in common. */
export interface ShardPartHead {
  readonly format: typeof PART_FORMAT;
  readonly tool: string;
  readonly rules: string;
  readonly shard: Shard;
  readonly protocol: {
    readonly name: string;
    readonly sha256: string;
    /** Relative to the output root when inside it (shards may mount the output at other paths). */
    readonly report: string;
    readonly key?: string;
    readonly deidentify?: { readonly options: readonly string[] };
    /** `output.format` (dicom when absent). */
    readonly format?: "dicom" | "nifti" | "both";
    /** `output.dicomdir`: merge writes the DICOMDIR once every shard's files are there. */
    readonly dicomdir?: boolean;
  };
  /** `Keys.fingerprint` of the run's salt; absent when the protocol does not de-identify. */
  readonly salt?: string;
  /** The whole plan's size and fingerprint: every shard must have planned the same thing. */
  readonly plan: { readonly files: number; readonly sha256: string };
}

/**
 * A part's other lines: one of its files (by its index in the whole plan) with its outcome when it
 * has one; a series it converted (NIfTI output: a series lives in one shard); the last line.
 */
export type ShardPartLine =
  | { readonly file: ReportFile & { readonly index: number }; readonly outcome?: FileOutcome }
  | { readonly series: SeriesOutcome }
  | { readonly end: { readonly files: number; readonly resumed: number; readonly durationMs: number } };

/**
 * A fingerprint of a plan that does not depend on where the input and output are mounted: the
 * file list (relative paths, root positions), every fate, reason and destination.
 */
export function planFingerprint(plan: Plan): string {
  const roots = plan.protocol.input.roots;
  const h = createHash("sha256");
  for (const f of plan.files) {
    h.update(
      JSON.stringify([roots.indexOf(f.input.root), f.input.rel, f.status, f.reason ?? "", f.dest ?? ""]),
    );
    h.update("\n");
  }
  return h.digest("hex");
}

const underRoot = (root: string, path: string) => {
  const rel = relative(root, path);
  return rel.startsWith("..") || isAbsolute(rel) ? path : rel;
};

/** Write a shard's part (last thing a shard run does: its presence means "finished"). */
export async function writeShardPart(
  plan: Plan,
  shard: Shard,
  mine: readonly number[],
  run: {
    outcomes: ReadonlyMap<number, FileOutcome>;
    series?: ReadonlyMap<number, SeriesOutcome>;
    resumed: number;
    durationMs: number;
  },
  meta: { version: string; rules: string; salt?: string },
): Promise<void> {
  const p = plan.protocol;
  const head: ShardPartHead = {
    format: PART_FORMAT,
    tool: meta.version,
    rules: meta.rules,
    shard,
    protocol: {
      name: p.name,
      sha256: p.sha256,
      report: underRoot(p.output.root, p.report),
      key: p.key ? underRoot(p.output.root, p.key) : undefined,
      deidentify: p.deidentify ? { options: p.deidentify.options ?? [] } : undefined,
      format: p.output.format,
      dicomdir: p.output.dicomdir,
    },
    ...(meta.salt ? { salt: meta.salt } : {}),
    plan: { files: plan.files.length, sha256: planFingerprint(plan) },
  };
  const line = (l: ShardPartLine) => JSON.stringify(l) + "\n";
  // Pieces of about 64 KB, each written before the next is made.
  function* pieces(): Generator<string> {
    let piece = JSON.stringify(head) + "\n";
    for (const index of mine) {
      const f = plan.files.get(index);
      const outcome = run.outcomes.get(index);
      const file = {
        index,
        input: { rel: f.input.rel, root: f.input.root },
        status: f.status,
        reason: f.reason,
        dest: f.dest,
      };
      piece += line(outcome ? { file, outcome } : { file });
      if (piece.length >= 65536) {
        yield piece;
        piece = "";
      }
    }
    for (const series of run.series?.values() ?? []) piece += line({ series });
    yield piece + line({ end: { files: mine.length, resumed: run.resumed, durationMs: run.durationMs } });
  }
  await writeAtomically(join(shardStatePath(p.output.root, shard), PART_FILE), pieces(), {
    mode: PRIVATE_FILE,
  });
}

/** Forget a shard's part before it runs again, so a shard killed on its re-run is not taken as finished. */
export async function clearShardPart(outputRoot: string, shard: Shard): Promise<void> {
  await Deno.remove(join(shardStatePath(outputRoot, shard), PART_FILE)).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

/** What a merge combined. */
export interface MergeSummary {
  /** How many shards' parts were merged. */
  readonly shards: number;
  /** Files in the plan (every shard plans them all). */
  readonly scanned: number;
  /** Over all shards, as in `RunSummary.written`. */
  readonly written: number;
  /** Over all shards, as in `RunSummary.skipped`. */
  readonly skipped: number;
  /** Over all shards, as in `RunSummary.quarantined`. */
  readonly quarantined: number;
  /** Absolute path of the merged report.csv. */
  readonly report: string;
}

/** A part found in the output root: its folder's name, its path, its first line. */
interface FoundPart {
  readonly name: string;
  readonly path: string;
  readonly head: ShardPartHead;
}

/** Every shard's part in the output root (their first lines only), and what is wrong with them. */
async function findParts(outputRoot: string): Promise<{ parts: FoundPart[]; problems: string[] }> {
  const dir = join(outputRoot, STATE_DIR, "shards");
  const parts: FoundPart[] = [];
  const problems: string[] = [];
  let names: string[];
  try {
    names = [...Deno.readDirSync(dir)].filter((e) => e.isDirectory).map((e) => e.name).sort();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new MergeError([`${outputRoot}: no shard ran here (no ${join(STATE_DIR, "shards")} folder)`]);
    }
    throw e;
  }
  for (const name of names) {
    if (!/^\d+-of-\d+$/.test(name)) continue;
    const path = join(dir, name, PART_FILE);
    let first: string | undefined;
    try {
      for await (const line of readLines(path)) {
        first = line;
        break;
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      // An older dcmtidy's part (one JSON document) is not read: its shard runs again with this one.
      const older = await Deno.stat(join(dir, name, OLDER_PART_FILE)).then(() => true, () => false);
      problems.push(
        older
          ? `shard ${name} was run by an older dcmtidy (its part is ${OLDER_PART_FILE}): run it again with this one`
          : `shard ${name} did not finish (it has no ${PART_FILE}): run it again`,
      );
      continue;
    }
    let head: Partial<ShardPartHead> | null = null;
    try {
      head = JSON.parse(first ?? "");
    } catch { /* said below */ }
    if (typeof head !== "object" || head === null) {
      problems.push(`shard ${name}: ${PART_FILE} is not a shard's part: run the shard again`);
      continue;
    }
    if (head.format !== PART_FORMAT || !head.shard || shardName(head.shard) !== name) {
      problems.push(`shard ${name}: ${PART_FILE} is not a part this dcmtidy understands (${head.format})`);
      continue;
    }
    parts.push({ name, path, head: head as ShardPartHead });
  }
  return { parts, problems };
}

/**
 * One of a part's lines after its head, checked for what merge relies on; a string saying what is
 * wrong with it otherwise (a part changed by hand, or of another dcmtidy).
 */
function partLine(text: string, files: number): ShardPartLine | string {
  let line: unknown;
  try {
    line = JSON.parse(text);
  } catch {
    return "has a line cut short or not JSON";
  }
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;
  const isCount = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
  if (!isObject(line)) return "has a line that is not a record";
  if (isObject(line.file)) {
    const { index, input, status } = line.file;
    const outcome = line.outcome;
    if (!isCount(index) || (index as number) >= files) {
      return `names a file (${index}) not in the plan of ${files}`;
    }
    if (!isObject(input) || typeof status !== "string") {
      return `has a file (${index}) without its input or fate`;
    }
    if (outcome !== undefined && !(isObject(outcome) && outcome.index === index)) {
      return `has a file (${index}) with another file's outcome`;
    }
    return line as ShardPartLine;
  }
  if (isObject(line.series) && isCount(line.series.series)) return line as ShardPartLine;
  if (isObject(line.end) && isCount(line.end.files) && isCount(line.end.resumed)) {
    return line as ShardPartLine;
  }
  return "has a line this dcmtidy does not understand";
}

/**
 * The report.csv the shards' parts in `outputRoot` name (the first readable part's), for the
 * permissions `merge` narrows itself to; undefined when there is no part to read (merge then says
 * why).
 */
export async function mergeReport(outputRoot: string): Promise<string | undefined> {
  const root = resolve(outputRoot);
  const found = await findParts(root).catch(() => undefined);
  const report = found?.parts[0]?.head.protocol.report;
  return report === undefined ? undefined : isAbsolute(report) ? report : join(root, report);
}

/** Check the parts belong together and cover every shard; say what does not. */
function checkParts(parts: readonly ShardPartHead[], problems: string[]): void {
  const counts = [...new Set(parts.map((p) => p.shard.n))];
  if (counts.length > 1) {
    problems.push(
      `shards were run with different shard counts (${counts.join(", ")}): remove the folders of the stale ` +
        `count from ${join(STATE_DIR, "shards")} or run every shard again with one count`,
    );
    return;
  }
  const differ = (what: string, value: (p: ShardPartHead) => string) => {
    const groups = new Map<string, string[]>();
    for (const p of parts) groups.set(value(p), [...(groups.get(value(p)) ?? []), shardName(p.shard)]);
    if (groups.size < 2) return false;
    problems.push(
      `shards used different ${what}: ` +
        [...groups].map(([v, shards]) => `${shards.join(", ")}: ${v}`).join("; "),
    );
    return true;
  };
  differ("dcmtidy versions", (p) => p.tool);
  differ("rules editions", (p) => p.rules);
  differ("protocols", (p) => `${p.protocol.name} (sha256 ${p.protocol.sha256.slice(0, 12)})`);
  // Pseudonyms and UIDs name the outputs: other salts make other plans, and that is what to say.
  const salts = differ(
    "salts (the same salt gives the same pseudonyms: run the other shards again with one salt)",
    (p) => (p.salt ? `salt fingerprint ${p.salt}` : "no salt"),
  );
  if (!salts) {
    differ(
      "inputs (the plans differ: files changed between shards, or other --input roots)",
      (p) => `${p.plan.files} files, plan ${p.plan.sha256.slice(0, 12)}`,
    );
  }
  const n = counts[0];
  if (n !== undefined) {
    const have = new Set(parts.map((p) => p.shard.k));
    for (let k = 1; k <= n; k++) {
      if (!have.has(k)) {
        problems.push(`shard ${k}-of-${n} is missing: it never ran here (or its folder was removed)`);
      }
    }
  }
}

/**
 * Combine every shard's part into the reports a single run writes (rows in the same order); the key
 * file needs nothing more (each shard added its rows). Throws `MergeError` when a shard is missing or
 * unfinished, or when shards disagree on the tool version, rules edition, protocol, salt or plan.
 */
export async function mergeShards(outputRoot: string): Promise<MergeSummary> {
  const root = resolve(outputRoot);
  const { parts, problems } = await findParts(root);
  if (parts.length === 0 && problems.length === 0) {
    throw new MergeError([`${root}: no shard ran here (${join(STATE_DIR, "shards")} is empty)`]);
  }
  checkParts(parts.map((p) => p.head), problems);
  if (problems.length) throw new MergeError(problems);
  const total = parts[0].head.plan.files;
  // As a run holds them: past a bound, in a temporary file in the state folder.
  using files = new FileRecords<ReportFile>(planSpill(root), total);
  using outcomes = new SpillMap<FileOutcome>(join(root, STATE_DIR), undefined, outcomeCodec(), total);
  const claimed = new Uint8Array(total);
  const series = new Map<number, SeriesOutcome>();
  let resumed = 0;
  let durationMs = 0;
  for (const part of parts) {
    let lines = 0;
    let fileLines = 0;
    let end: { files: number } | undefined;
    let wrong: string | undefined;
    for await (const text of readLines(part.path)) {
      if (lines++ === 0 || text === "") continue; // the first line is the head, read already
      if (lines % 1024 === 0) boundHeap();
      const line = partLine(text, total);
      if (typeof line === "string" || end) {
        wrong = end ? "has lines after its last" : line as string;
        break;
      }
      if ("file" in line) {
        const { index } = line.file;
        fileLines++;
        if (claimed[index]) problems.push(`file ${index + 1} is claimed by two shards`);
        claimed[index] = 1;
        files.set(index, line.file);
        if (line.outcome) outcomes.set(index, line.outcome);
      } else if ("series" in line) {
        const o = line.series;
        if (series.has(o.series)) problems.push(`series ${o.series + 1} was converted by two shards`);
        series.set(o.series, o);
      } else {
        end = line.end;
        resumed += line.end.resumed;
        durationMs = Math.max(durationMs, line.end.durationMs);
      }
    }
    if (!wrong && !end) wrong = "is incomplete";
    else if (!wrong && end!.files !== fileLines) {
      wrong = `says it has ${end!.files} files but has ${fileLines}`;
    }
    if (wrong) problems.push(`shard ${part.name}: ${PART_FILE} ${wrong}: run the shard again`);
  }
  const unclaimed = claimed.reduce((n, c) => n + (c ? 0 : 1), 0);
  if (unclaimed) problems.push(`${unclaimed} planned files belong to no shard`);
  if (problems.length) throw new MergeError(problems);
  const first = parts[0].head;
  const resolveOut = (p: string) => (isAbsolute(p) ? p : join(root, p));
  const plan: ReportPlan = {
    protocol: {
      name: first.protocol.name,
      sha256: first.protocol.sha256,
      report: resolveOut(first.protocol.report),
      key: first.protocol.key ? resolveOut(first.protocol.key) : undefined,
      output: { root, format: first.protocol.format },
      deidentify: first.protocol.deidentify,
    },
    files,
  };
  // One pass over the files (read back from the temporary file past the bound).
  let written = 0;
  let skipped = 0;
  let quarantined = 0;
  for (const [i, f] of files.entries()) {
    const status = outcomes.get(i)?.status;
    if (status === "written") written++;
    if (f.status === "skip") skipped++;
    if (f.status === "quarantine" || status === "quarantined") quarantined++;
  }
  const summary = { written, skipped, quarantined, resumed, outcomes, series, durationMs };
  await writeReports(plan, summary, {
    version: first.tool,
    rules: first.rules,
    statePath: join(root, STATE_DIR),
    shards: first.shard.n,
  });
  if (first.protocol.dicomdir) {
    const dicom: string[] = [];
    for (const o of outcomes.values()) {
      const dest = o.status === "written" ? files.at(o.index)?.dest : undefined;
      if (dest !== undefined) dicom.push(dest);
    }
    await writeDicomDir(root, dicom);
  } else await removeOurDicomDir(root);
  return {
    shards: parts.length,
    scanned: total,
    written,
    skipped,
    quarantined,
    report: plan.protocol.report,
  };
}
