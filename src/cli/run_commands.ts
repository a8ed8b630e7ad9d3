/** The `plan` and `run` commands. */
import { readSalt } from "../deid/salt.ts";
import { Keys } from "../deid/keys.ts";
import { resolve } from "node:path";
import { isInside, type LoadOptions, loadProtocol } from "../protocol/load.ts";
import { makePlan, type Plan, type PlanPhase } from "../plan/plan.ts";
import { planJson } from "../plan/json.ts";
import { planSummary } from "../plan/summary.ts";
import { runPlan, runWork } from "../run/run.ts";
import { UsageError } from "./errors.ts";
import { type ShardFlags, shardFromFlags } from "./shard_commands.ts";
import { type Shard, shardFiles } from "../plan/shard.ts";
import { type Progress, stderrProgress } from "./progress.ts";

export { planJson, planSummary };

/** Options shared by `plan` and `run`. */
export interface PlanCommandOptions extends LoadOptions, ShardFlags {
  json?: boolean;
  out?: string;
  showPhi?: boolean;
  yes?: boolean;
  jobs?: number;
  /** `--no-color` sets it to false. */
  color?: boolean;
  all?: boolean;
}

const LABELS: Readonly<Record<PlanPhase, string>> = { scan: "scanning", plan: "planning" };

/** Colors only on a terminal, and never with NO_COLOR set or --no-color. */
function useColor(opts: PlanCommandOptions): boolean {
  return opts.color !== false && !Deno.noColor && Deno.stdout.isTerminal();
}

async function prepare(
  file: string,
  opts: PlanCommandOptions,
): Promise<{ plan: Plan; keys?: Keys; salt?: Uint8Array }> {
  const protocol = await loadProtocol(file, opts);
  // The output root is meant to be shared; the plan file names input paths and original values.
  if (opts.out && isInside(resolve(opts.out), protocol.output.root)) {
    throw new UsageError(`--out ${opts.out} is inside the output root: keep the unmasked plan elsewhere`);
  }
  const salt = protocol.deidentify ? await readSalt(protocol) : undefined;
  const keys = salt ? new Keys(salt) : undefined;
  let phase: PlanPhase | undefined;
  let bar: Progress | undefined;
  const plan = await makePlan(protocol, keys, (done, total, p) => {
    if (p !== phase) {
      bar?.finish();
      phase = p;
      bar = stderrProgress(LABELS[p], total);
    }
    bar!.update(done);
  });
  bar?.finish();
  return { plan, keys, salt };
}

/** `dcmtidy plan`: show what a run would do. Exit 2 when the plan has errors. */
export async function planCommand(file: string, opts: PlanCommandOptions): Promise<number> {
  const shard = shardFromFlags(opts);
  const { plan } = await prepare(file, opts);
  // A file the user asked for gets the paths and values; the terminal only with --show-phi.
  if (opts.out) await Deno.writeTextFile(opts.out, JSON.stringify(planJson(plan, true), null, 2) + "\n");
  const showPhi = opts.showPhi ?? false;
  console.log(
    opts.json
      ? JSON.stringify(planJson(plan, showPhi), null, 2)
      : planSummary(plan, { showPhi, color: useColor(opts), all: opts.all }),
  );
  if (shard && !opts.json) console.log(shardLine(plan, shard));
  return plan.errors.length ? 2 : 0;
}

/** `dcmtidy run`: execute the plan. Exit 0 when all written or skipped, 3 with quarantined files. */
export async function runCommand(file: string, opts: PlanCommandOptions): Promise<number> {
  const shard = shardFromFlags(opts);
  const { plan, keys, salt } = await prepare(file, opts);
  console.log(planSummary(plan, { showPhi: opts.showPhi ?? false, color: useColor(opts), all: opts.all }));
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
  const work = runWork(plan, shard);
  const bar = stderrProgress("writing", work.files, work.bytes);
  let s;
  try {
    s = await runPlan(plan, {
      keys,
      salt,
      workers,
      overrides: { input: opts.input, output: opts.output },
      onProgress: (done, _total, bytes) => bar.update(done, bytes),
      shard,
    });
  } finally {
    bar.finish();
  }
  for (const n of s.notes) console.log(`note: ${n}`);
  const format = plan.protocol.output.format;
  const volumes = format === "dicom"
    ? ""
    : `${s.volumes} NIfTI volume${s.volumes === 1 ? "" : "s"} of ${s.series.size} series, `;
  console.log(
    `done in ${(s.durationMs / 1000).toFixed(1)} s: ${s.written} ${
      format === "nifti" ? "converted" : "written"
    } ` +
      `(${s.resumed} already done), ${volumes}` +
      `${s.skipped} skipped, ${s.quarantined} quarantined; ` +
      (shard
        ? `then, when every shard is done: dcmtidy merge ${plan.protocol.output.root}`
        : `report: ${plan.protocol.report}`),
  );
  return s.quarantined > 0 ? 3 : 0;
}

/** What share of the plan a shard runs. */
function shardLine(plan: Plan, shard: Shard): string {
  const mine = shardFiles(plan, shard).map((i) => plan.files[i]);
  const writes = mine.filter((f) => f.status === "write").length;
  return `shard ${shard.k}/${shard.n}: ${mine.length} of the ${plan.files.length} files (${writes} to write); ` +
    `the plan above is the whole run's`;
}
