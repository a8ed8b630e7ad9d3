/**
 * Shard parts and their merge. A shard run leaves `<output>/.dcmtidy/shards/K-of-N/part.json`
 * (its own files' fates and outcomes, plus fingerprints of the whole plan and of the salt); `mergeShards`
 * checks that every shard finished with the same tool, rules, protocol, salt and plan, then writes
 * the same report.csv, files.csv and audit.json a single run would. Parts hold no original
 * identities: each shard adds its rows to the key file itself (outside the output root), so the
 * merged key file is the single run's.
 */
import { createHash } from "node:crypto";
import { isAbsolute, join, relative, resolve } from "node:path";
import { type Plan, type PlannedFile, type Shard, shardName } from "../plan/mod.ts";
import { MergeError } from "./errors.ts";
import type { FileOutcome } from "./process.ts";
import type { SeriesOutcome } from "./series.ts";
import { type ReportFile, type ReportPlan, writeReports } from "./reports.ts";
import { removeOurDicomDir, writeDicomDir } from "./dicomdir.ts";
import { PRIVATE_FILE, writeAtomically } from "../util/atomic.ts";
import { shardStatePath, STATE_DIR } from "./state_dir.ts";

const PART_FILE = "part.json";
/** Version 2: outcomes without original identities, and the salt's fingerprint. */
const PART_FORMAT = "dcmtidy-shard-part/2";

/** What one finished shard leaves for the merge. */
export interface ShardPart {
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
  /** This shard's files, by their index in the whole plan. */
  readonly files: readonly {
    readonly index: number;
    readonly input: { readonly rel: string; readonly root: string };
    readonly status: PlannedFile["status"];
    readonly reason?: string;
    readonly dest?: string;
  }[];
  readonly outcomes: readonly FileOutcome[];
  /** With NIfTI output: the series this shard converted (a series lives in one shard). */
  readonly series?: readonly SeriesOutcome[];
  readonly resumed: number;
  readonly durationMs: number;
}

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
  const part: ShardPart = {
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
    files: mine.map((index) => {
      const f = plan.files.get(index);
      return {
        index,
        input: { rel: f.input.rel, root: f.input.root },
        status: f.status,
        reason: f.reason,
        dest: f.dest,
      };
    }),
    outcomes: mine.flatMap((i) => run.outcomes.get(i) ?? []),
    series: [...run.series?.values() ?? []],
    resumed: run.resumed,
    durationMs: run.durationMs,
  };
  await writeAtomically(join(shardStatePath(p.output.root, shard), PART_FILE), JSON.stringify(part) + "\n", {
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

async function readParts(outputRoot: string): Promise<{ parts: ShardPart[]; problems: string[] }> {
  const dir = join(outputRoot, STATE_DIR, "shards");
  const parts: ShardPart[] = [];
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
    let text: string;
    try {
      text = await Deno.readTextFile(join(dir, name, PART_FILE));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      problems.push(`shard ${name} did not finish (it has no ${PART_FILE}): run it again`);
      continue;
    }
    let part: ShardPart;
    try {
      part = JSON.parse(text);
    } catch {
      problems.push(`shard ${name}: ${PART_FILE} is not valid JSON: run the shard again`);
      continue;
    }
    if (part.format !== PART_FORMAT || shardName(part.shard) !== name) {
      problems.push(`shard ${name}: ${PART_FILE} is not a part this dcmtidy understands (${part.format})`);
      continue;
    }
    parts.push(part);
  }
  return { parts, problems };
}

/** Check the parts belong together and cover every shard; say what does not. */
function checkParts(parts: ShardPart[], problems: string[]): void {
  const counts = [...new Set(parts.map((p) => p.shard.n))];
  if (counts.length > 1) {
    problems.push(
      `shards were run with different shard counts (${counts.join(", ")}): remove the folders of the stale ` +
        `count from ${join(STATE_DIR, "shards")} or run every shard again with one count`,
    );
    return;
  }
  const differ = (what: string, value: (p: ShardPart) => string) => {
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
  const { parts, problems } = await readParts(root);
  if (parts.length === 0 && problems.length === 0) {
    throw new MergeError([`${root}: no shard ran here (${join(STATE_DIR, "shards")} is empty)`]);
  }
  checkParts(parts, problems);
  if (problems.length) throw new MergeError(problems);
  const total = parts[0].plan.files;
  const files: (ReportFile | undefined)[] = new Array(total);
  const outcomes = new Map<number, FileOutcome>();
  const series = new Map<number, SeriesOutcome>();
  for (const part of parts) {
    for (const o of part.series ?? []) {
      if (series.has(o.series)) problems.push(`series ${o.series + 1} was converted by two shards`);
      series.set(o.series, o);
    }
    for (const f of part.files) {
      if (files[f.index]) problems.push(`file ${f.index + 1} is claimed by two shards`);
      files[f.index] = f;
    }
    for (const o of part.outcomes) outcomes.set(o.index, o);
  }
  const unclaimed = files.reduce((n, f) => n + (f ? 0 : 1), 0) + (total - files.length);
  if (unclaimed) problems.push(`${unclaimed} planned files belong to no shard`);
  if (problems.length) throw new MergeError(problems);
  const first = parts[0].protocol;
  const resolveOut = (p: string) => (isAbsolute(p) ? p : join(root, p));
  const plan: ReportPlan = {
    protocol: {
      name: first.name,
      sha256: first.sha256,
      report: resolveOut(first.report),
      key: first.key ? resolveOut(first.key) : undefined,
      output: { root, format: first.format },
      deidentify: first.deidentify,
    },
    files: files as ReportFile[],
  };
  const count = (status: string) =>
    plan.files.filter((f, i) =>
      status === "quarantined"
        ? f.status === "quarantine" || outcomes.get(i)?.status === "quarantined"
        : status === "skipped"
        ? f.status === "skip"
        : outcomes.get(i)?.status === "written"
    ).length;
  const summary = {
    written: count("written"),
    skipped: count("skipped"),
    quarantined: count("quarantined"),
    resumed: parts.reduce((n, p) => n + p.resumed, 0),
    outcomes,
    series,
    durationMs: Math.max(...parts.map((p) => p.durationMs)),
  };
  await writeReports(plan, summary, {
    version: parts[0].tool,
    rules: parts[0].rules,
    statePath: join(root, STATE_DIR),
    shards: parts[0].shard.n,
  });
  const dicom = [...outcomes.values()].flatMap((o) =>
    o.status === "written" ? files[o.index]?.dest ?? [] : []
  );
  if (first.dicomdir) await writeDicomDir(root, dicom);
  else await removeOurDicomDir(root);
  return {
    shards: parts.length,
    scanned: total,
    written: summary.written,
    skipped: summary.skipped,
    quarantined: summary.quarantined,
    report: plan.protocol.report,
  };
}
