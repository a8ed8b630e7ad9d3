/** The `plan` and `run` commands. */
import { readSalt } from "../deid/salt.ts";
import { Keys } from "../deid/keys.ts";
import { type LoadOptions, loadProtocol } from "../protocol/load.ts";
import { makePlan, type Plan, planTotals } from "../plan/plan.ts";
import { inputRef, renderRefs } from "../scan/scan.ts";
import { runPlan } from "../run/run.ts";
import { UsageError } from "./errors.ts";
import { type ShardFlags, shardFromFlags } from "./shard_commands.ts";
import { type Shard, shardOf } from "../plan/shard.ts";

/** Options shared by `plan` and `run`. */
export interface PlanCommandOptions extends LoadOptions, ShardFlags {
  json?: boolean;
  out?: string;
  showPhi?: boolean;
  yes?: boolean;
  jobs?: number;
}

async function prepare(
  file: string,
  opts: PlanCommandOptions,
): Promise<{ plan: Plan; keys?: Keys; salt?: Uint8Array }> {
  const protocol = await loadProtocol(file, opts);
  const salt = protocol.deidentify ? await readSalt(protocol) : undefined;
  const keys = salt ? new Keys(salt) : undefined;
  const progress = Deno.stderr.isTerminal()
    ? (done: number, total: number) => {
      if (done % 200 === 0 || done === total) {
        Deno.stderr.writeSync(new TextEncoder().encode(`\rscanning ${done}/${total}`));
        if (done === total) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
      }
    }
    : undefined;
  return { plan: await makePlan(protocol, keys, progress), keys, salt };
}

/** The plan as documented JSON: statuses, destinations and reasons; no original values. */
export function planJson(plan: Plan, showPaths: boolean): unknown {
  const r = (text: string | undefined) =>
    text === undefined ? undefined : renderRefs(text, plan.files.map((f) => f.input), showPaths);
  return {
    protocol: { name: plan.protocol.name, file: plan.protocol.file, sha256: plan.protocol.sha256 },
    output: plan.protocol.output.root,
    totals: planTotals(plan),
    warnings: plan.warnings.map(r),
    errors: plan.errors.map(r),
    files: plan.files.map((f, i) => ({
      input: showPaths ? f.input.rel : `input #${i + 1}`,
      root: f.input.root,
      kind: f.input.kind,
      status: f.status,
      reason: r(f.reason),
      output: f.dest,
    })),
  };
}

/**
 * A short summary and the output tree (folders with file counts). Input paths often name the
 * patient, so input files are shown by number (their row in `.dcmtidy/files.csv` and in
 * `plan --out`) unless `showPaths` (`--show-phi`).
 */
export function planSummary(plan: Plan, showPaths: boolean): string {
  const t = planTotals(plan);
  const lines = [
    `plan for ${plan.protocol.name}: ${plan.files.length} files scanned: ${t.write} to write, ${t.skip} skipped, ${t.quarantine} quarantined`,
    `output: ${plan.protocol.output.root}`,
  ];
  const folders = new Map<string, number>();
  for (const f of plan.files) {
    if (f.status !== "write" || !f.dest) continue;
    const folder = f.dest.includes("/") ? f.dest.slice(0, f.dest.lastIndexOf("/")) : ".";
    folders.set(folder, (folders.get(folder) ?? 0) + 1);
  }
  for (const [folder, n] of [...folders].sort()) lines.push(`  ${folder}/  (${n} file${n === 1 ? "" : "s"})`);
  const others = plan.files.filter((f) => f.status !== "write");
  if (others.length) {
    lines.push("not written:");
    for (const [i, f] of plan.files.entries()) {
      if (f.status !== "write") {
        lines.push(`  ${f.status.padEnd(10)} ${inputRef(i)}: ${f.reason ?? f.input.kind}`);
      }
    }
  }
  for (const w of plan.warnings) lines.push(`warning: ${w}`);
  for (const e of plan.errors) lines.push(`error: ${e}`);
  return renderRefs(lines.join("\n"), plan.files.map((f) => f.input), showPaths);
}

/** `dcmtidy plan`: show what a run would do. Exit 2 when the plan has errors. */
export async function planCommand(file: string, opts: PlanCommandOptions): Promise<number> {
  const shard = shardFromFlags(opts);
  const { plan } = await prepare(file, opts);
  // A file the user asked for gets the paths; the terminal only with --show-phi.
  if (opts.out) await Deno.writeTextFile(opts.out, JSON.stringify(planJson(plan, true), null, 2) + "\n");
  const showPaths = opts.showPhi ?? false;
  console.log(opts.json ? JSON.stringify(planJson(plan, showPaths), null, 2) : planSummary(plan, showPaths));
  if (shard && !opts.json) console.log(shardLine(plan, shard));
  return plan.errors.length ? 2 : 0;
}

/** `dcmtidy run`: execute the plan. Exit 0 when all written or skipped, 3 with quarantined files. */
export async function runCommand(file: string, opts: PlanCommandOptions): Promise<number> {
  const shard = shardFromFlags(opts);
  const { plan, keys, salt } = await prepare(file, opts);
  console.log(planSummary(plan, opts.showPhi ?? false));
  if (shard) console.log(shardLine(plan, shard));
  if (plan.errors.length) return 2;
  if (!opts.yes) {
    if (!Deno.stdin.isTerminal()) throw new UsageError("not a terminal: pass --yes to run without asking");
    const answer = prompt("run this plan? [y/N]");
    if (!answer || !/^y(es)?$/i.test(answer.trim())) {
      console.log("nothing done");
      return 0;
    }
  }
  const workers = opts.jobs ?? navigator.hardwareConcurrency ?? 2;
  const s = await runPlan(plan, {
    keys,
    salt,
    workers,
    overrides: { input: opts.input, output: opts.output },
    shard,
  });
  for (const n of s.notes) console.log(`note: ${n}`);
  console.log(
    `done in ${(s.durationMs / 1000).toFixed(1)} s: ${s.written} written (${s.resumed} already done), ` +
      `${s.skipped} skipped, ${s.quarantined} quarantined; ` +
      (shard
        ? `then, when every shard is done: dcmtidy merge ${plan.protocol.output.root}`
        : `report: ${plan.protocol.report}`),
  );
  return s.quarantined > 0 ? 3 : 0;
}

/** What share of the plan a shard runs. */
function shardLine(plan: Plan, shard: Shard): string {
  const mine = plan.files.filter((f) => shardOf(f.input, shard.n) === shard.k);
  const writes = mine.filter((f) => f.status === "write").length;
  return `shard ${shard.k}/${shard.n}: ${mine.length} of the ${plan.files.length} files (${writes} to write); ` +
    `the plan above is the whole run's`;
}
