/** The `plan` and `run` commands. */
import { EnvironmentError } from "../util/errors.ts";
import { environmentFault, withoutPaths } from "../util/fs_errors.ts";
import { writePreviews } from "./preview.ts";
import { readSalt } from "../deid/salt.ts";
import { Keys } from "../deid/keys.ts";
import { dirname, join, resolve } from "node:path";
import { isInside } from "../protocol/paths.ts";
import { type LoadOptions, loadProtocol } from "../protocol/load.ts";
import {
  makePlan,
  type Plan,
  planJson,
  type PlanOptions,
  type PlanPhase,
  type PlanSpill,
  planSummary,
  readScanParts,
  scanOrigin,
  scanPartCounts,
  type Shard,
  shardFiles,
  SUMMARY_LIMITS,
} from "../plan/mod.ts";
import type { ListedFiles } from "../scan/inputs.ts";
import type { Protocol } from "../protocol/protocol.ts";
import {
  type FileOutcome,
  openStaging,
  outputRootProblem,
  planSpill,
  prepareOutputRoot,
  releaseKeyLocksSync,
  runPlan,
  scanPartsPath,
  type Staging,
  STATE_DIR,
} from "../run/mod.ts";
import { renderRefs } from "../scan/scan.ts";
import { UsageError } from "./errors.ts";
import { checkInputRoots } from "./input_roots.ts";
import { type ShardFlags, shardFromFlags } from "./shard_commands.ts";
import { type Progress, stderrProgress } from "./progress.ts";
import { exitCodeOf, onStop, stoppedBy } from "./stop_signals.ts";

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
  /** `plan --preview DIR`: before/after PNGs of the first frame of each series whose pixels are blanked. */
  preview?: string;
}

const LABELS: Readonly<Record<PlanPhase, string>> = {
  scan: "scanning",
  stage: "scanning and writing",
  parts: "reading the scan's parts",
  plan: "dry-run diff",
  text: "searching suspects' pixels for text",
};

/** Sandboxed workers for the plan and the run: `--jobs`, else one per core. */
function jobsOf(opts: PlanCommandOptions): number {
  return opts.jobs ?? navigator.hardwareConcurrency ?? 2;
}

/** Colors only on a terminal, and never with NO_COLOR set or --no-color. */
function useColor(opts: PlanCommandOptions): boolean {
  return opts.color !== false && !Deno.noColor && Deno.stdout.isTerminal();
}

/**
 * Load the protocol, check what can be checked before the (long) scan, then plan. `beforePlan`
 * sees the loaded protocol first: `run` makes sure of its output root there.
 */
async function prepare(
  file: string,
  opts: PlanCommandOptions,
  beforePlan?: (protocol: Protocol) => Promise<(Pick<PlanOptions, "ahead" | "signal"> & FromParts) | void>,
): Promise<{ plan: Plan; keys?: Keys; salt?: Uint8Array }> {
  const protocol = await loadProtocol(file, opts);
  // The output root is meant to be shared; the plan file names input paths and original values.
  if (opts.out) await checkPlanOut(opts.out, protocol);
  await checkInputRoots(protocol);
  const { parts, ...ahead } = await beforePlan?.(protocol) ?? {};
  const salt = protocol.deidentify ? await readSalt(protocol) : undefined;
  const keys = salt ? new Keys(salt) : undefined;
  // A split scan's parts: every file's survey is there, so no header is read.
  const surveyed = parts
    ? (listed: ListedFiles, onProgress?: (done: number, total: number) => void, spill?: PlanSpill) =>
      readScanParts(
        parts,
        listed,
        protocol.input.roots,
        scanOrigin(protocol, listed, keys),
        keys,
        onProgress,
        spill,
      )
    : undefined;
  let phase: PlanPhase | undefined;
  let bar: Progress | undefined;
  try {
    const plan = await makePlan(protocol, keys, (done, total, p) => {
      if (p !== phase) {
        bar?.finish();
        phase = p;
        bar = stderrProgress(LABELS[p], total);
      }
      bar!.update(done);
    }, {
      workers: jobsOf(opts),
      salt,
      ...ahead,
      surveyed,
      // Past a bound the plan's records wait in an encrypted temporary file in the state folder.
      spill: planSpill(protocol.output.root),
      // The summary shows the first series' diffs; JSON, --out and --all show every one.
      diffs: opts.all || opts.json || opts.out ? undefined : SUMMARY_LIMITS.series,
    });
    return { plan, keys, salt };
  } finally {
    bar?.finish();
  }
}

/** The folder of a split scan's parts when the plan is to be assembled from them. */
interface FromParts {
  parts?: string;
}

/**
 * Where `plan --out` may write the unmasked plan, checked before the scan: not in the output root
 * (it is shared), not in an input, not over the key file or the protocol, not over a file that is
 * not a plan; its folder must be there.
 */
async function checkPlanOut(out: string, protocol: Protocol): Promise<void> {
  const path = resolve(out);
  if (isInside(path, protocol.output.root)) {
    throw new UsageError(`--out ${out} is inside the output root: keep the unmasked plan elsewhere`);
  }
  for (const root of protocol.input.roots) {
    if (isInside(path, root)) throw new UsageError(`--out ${out} is inside the input root ${root}`);
  }
  for (const [what, p] of [["the key file", protocol.key], ["the protocol", protocol.file]] as const) {
    if (p && resolve(p) === path) throw new UsageError(`--out ${out} is ${what}: not replaced`);
  }
  const st = await Deno.stat(path).catch(() => undefined);
  if (st?.isDirectory) throw new UsageError(`--out ${out} is a folder: give a file name (plan.json)`);
  if (st) {
    const text = await Deno.readTextFile(path).catch(() => "");
    let format: unknown;
    try {
      format = JSON.parse(text)?.format;
    } catch {
      format = undefined;
    }
    if (format !== "dcmtidy-plan") {
      throw new UsageError(`--out ${out} exists and is not a plan: not replaced`);
    }
  }
  const folder = await Deno.stat(dirname(path)).catch(() => undefined);
  if (!folder?.isDirectory) throw new UsageError(`--out ${out}: the folder ${dirname(path)} does not exist`);
}

/** `dcmtidy plan`: show what a run would do. Exit 2 when the plan has errors. */
export async function planCommand(file: string, opts: PlanCommandOptions): Promise<number> {
  const shard = shardFromFlags(opts);
  const { plan } = await prepare(file, opts, async (protocol) => {
    // A plan writes nothing, so it cannot try the output root; what a stat tells, it says.
    const problem = await outputRootProblem(protocol.output.root);
    if (problem) console.error(`warning: ${problem}: dcmtidy run will refuse`);
    if ((await scanPartCounts(scanPartsPath(protocol.output.root)).catch(() => [])).length > 0) {
      console.error(
        "note: a split scan's parts are in the output root; plan reads every header itself (run --shard " +
          "assembles its plan from the parts, and says there whether they are complete and current)",
      );
    }
  });
  // A file the user asked for gets the paths and values; the terminal only with --show-phi.
  // Owner-only: the unmasked plan holds input paths and original values.
  if (opts.out) {
    await Deno.writeTextFile(opts.out, JSON.stringify(planJson(plan, true), null, 2) + "\n", { mode: 0o600 });
    await Deno.chmod(opts.out, 0o600);
  }
  const showPhi = opts.showPhi ?? false;
  console.log(
    opts.json
      ? JSON.stringify(planJson(plan, showPhi), null, 2)
      : planSummary(plan, { showPhi, color: useColor(opts), all: opts.all }),
  );
  if (shard && !opts.json) console.log(shardLine(plan, shard));
  if (opts.preview) { for (const line of await writePreviews(plan, opts.preview)) console.log(line); }
  return plan.errors.length ? 2 : 0;
}

/**
 * A fault of the environment that stopped a run (a full disk, a read-only file system, I/O...),
 * told with what was kept and how to go on; anything else as it was.
 */
function environmentStop(e: unknown, kept: number, root: string): unknown {
  const fault = environmentFault(e);
  if (!fault) return e;
  const what = fault.startsWith("the disk") ? "free some space" : "put that right";
  return new EnvironmentError(
    `${fault} while writing ${root}: ${kept} file${kept === 1 ? "" : "s"} finished ${
      kept === 1 ? "is" : "are"
    } kept, no half-written file is left under its name; ${what} and run the same command again: it resumes ` +
      `where it stopped (${withoutPaths((e as Error).message)})`,
  );
}

/** `dcmtidy run`: execute the plan. Exit 0 when all written or skipped, 3 with quarantined files. */
export async function runCommand(file: string, opts: PlanCommandOptions): Promise<number> {
  const started = performance.now();
  const shard = shardFromFlags(opts);
  // Asked before the scan: planning a large dump only to refuse would waste the user's time.
  if (!opts.yes && !Deno.stdin.isTerminal()) {
    throw new UsageError("not a terminal: pass --yes to run without asking");
  }
  let made: string[] = [];
  let root = "the output root";
  // Ctrl-C while a plan writes ahead: it stops its workers, then what they wrote is removed.
  // (Without --yes nothing is written ahead, and Ctrl-C ends the program at once, as it always did.)
  const planning = new AbortController();
  const stopListening = opts.yes ? onStop((signal) => planning.abort(new Interrupted(signal))) : undefined;
  let staging: Staging | undefined;
  let prepared;
  try {
    prepared = await prepare(file, opts, async (protocol) => {
      root = protocol.output.root;
      made = await prepareOutputRoot(protocol.output.root);
      // A shard of a split scan: the plan is assembled from its parts (and written as it runs).
      const parts = scanPartsPath(root);
      if ((await scanPartCounts(parts)).length > 0) {
        if (shard) return { parts, signal: planning.signal };
        console.error(
          `note: the split scan's parts in ${parts} are for run --shard K/N; this run reads every header`,
        );
      }
      // Run unasked: the plan's workers write each output ahead as they read its file (see
      // src/run/stage.ts; a shard's own files only), into a folder of this run's own.
      if (!opts.yes) return;
      staging = await openStaging(protocol, jobsOf(opts), shard);
      return { ahead: staging?.ahead, signal: planning.signal };
    });
    // A Ctrl-C the plan did not see (it came as the plan returned) still stops the run here.
    planning.signal.throwIfAborted();
  } catch (e) {
    await staging?.remove();
    if (!(e instanceof Interrupted)) throw environmentStop(e, 0, root);
    // The folders this run made, when nothing else is in them: the root's state folder, then the
    // root and the folders made above it, innermost first.
    for (const dir of [...made].reverse()) {
      await Deno.remove(join(dir, STATE_DIR)).catch(() => {});
      await Deno.remove(dir).catch(() => {});
    }
    console.error(`${stoppedBy(e.signal)} while planning: nothing written`);
    return exitCodeOf(e.signal);
  } finally {
    stopListening?.();
  }
  try {
    return await runPrepared(prepared, opts, { started, shard, made, staging });
  } finally {
    await staging?.remove();
  }
}

/** The rest of `dcmtidy run`, once planned: show the plan, ask (without --yes), run it, summarise. */
async function runPrepared(
  prepared: { plan: Plan; keys?: Keys; salt?: Uint8Array },
  opts: PlanCommandOptions,
  run: { started: number; shard?: Shard; made: string[]; staging?: Staging },
): Promise<number> {
  const { started, shard, made, staging } = run;
  const { plan, keys, salt } = prepared;
  const showPhi = opts.showPhi ?? false;
  console.log(planSummary(plan, { showPhi, color: useColor(opts), all: opts.all }));
  if (shard) console.log(shardLine(plan, shard));
  if (plan.diffs === false) console.log("the plan above is assembled from the split scan's parts");
  if (plan.errors.length) return 2;
  let answering = 0;
  if (!opts.yes) {
    const asked = performance.now();
    const answer = prompt("run this plan? [y/N]");
    answering = performance.now() - asked;
    if (!answer || !/^y(es)?$/i.test(answer.trim())) {
      // The output root made to try it is removed again (when still empty, but for the state folder
      // a large plan keeps its temporary file in): nothing done.
      for (const dir of [...made].reverse()) {
        await Deno.remove(join(dir, STATE_DIR)).catch(() => {});
        await Deno.remove(dir).catch(() => {});
      }
      console.log("nothing done");
      return 0;
    }
  }
  const workers = jobsOf(opts);
  // Made when the run has counted its work (in its own pass over the files, before the first).
  let bar: Progress | undefined;
  let kept = 0;
  // Ctrl-C or a termination: what is finished is in the journal; say so, then end as a program
  // stopped by that signal does.
  const stopListening = onStop((signal) => {
    staging?.removeSync(); // the exit skips runPlan's own removal
    releaseKeyLocksSync(); // and the key file's lock's: the next run would wait two minutes
    bar?.finish();
    console.error(
      `${stoppedBy(signal)}: ${kept} file${kept === 1 ? "" : "s"} finished ${
        kept === 1 ? "is" : "are"
      } kept; ` +
        "run again to resume",
    );
    Deno.exit(exitCodeOf(signal));
  });
  let s;
  try {
    s = await runPlan(plan, {
      keys,
      salt,
      workers,
      overrides: { input: opts.input, output: opts.output },
      onWork: (files, bytes) => bar = stderrProgress("writing", files, bytes),
      onProgress: (done, _total, bytes) => bar?.update(done, bytes),
      onKept: (n) => (kept = n),
      onWait: (why) => {
        bar?.finish(); // every file is done by then: the bar ends before the line
        console.error(`waiting: ${why}`);
      },
      shard,
      staging,
    });
  } catch (e) {
    throw environmentStop(e, kept, plan.protocol.output.root);
  } finally {
    stopListening();
    bar?.finish();
  }
  for (const n of s.notes) console.log(`note: ${n}`);
  for (const line of quarantinedLines(plan, s, { showPhi, all: opts.all })) console.log(line);
  const format = plan.protocol.output.format;
  const volumes = format === "dicom"
    ? ""
    : `${s.volumes} NIfTI volume${s.volumes === 1 ? "" : "s"} of ${s.series.size} series, `;
  console.log(
    // From the start (with --yes the plan's workers did the writing), less the time the user took to answer.
    `done in ${((performance.now() - started - answering) / 1000).toFixed(1)} s: ${s.written - s.resumed} ${
      format === "nifti" ? "converted" : "written"
    }, ` +
      `${s.resumed} already done, ${volumes}` +
      `${s.skipped} skipped, ${s.quarantined} quarantined; ` +
      (shard
        ? `then, when every shard is done: dcmtidy merge ${plan.protocol.output.root}`
        : `report: ${plan.protocol.report}`),
  );
  return s.quarantined > 0 ? 3 : 0;
}

/** Ctrl-C or a termination while planning. */
class Interrupted extends Error {
  constructor(readonly signal: Deno.Signal) {
    super(stoppedBy(signal));
  }
}

/** Reasons shown, and inputs named per reason, without --all. */
const SHOWN = { reasons: 10, inputs: 3 } as const;

/**
 * The files quarantined during the run, grouped by reason (most files first) with the first inputs
 * of each as `input #N` (paths with --show-phi), so a run where many files failed for one reason
 * says why on the terminal. Reasons lose the paths file system errors carry. Empty when no file
 * was quarantined during the run.
 */
export function quarantinedLines(
  plan: Plan,
  s: { readonly outcomes: ReadonlyMap<number, FileOutcome>; readonly written?: number },
  opts: { showPhi?: boolean; all?: boolean } = {},
): string[] {
  // Every outcome written (a run's summary counts them): no pass over them, which past the memory
  // bound reads each back from disk (0.7 s for 300,000 files).
  if (s.written === s.outcomes.size) return [];
  const inputs = { at: (i: number) => plan.files.at(i)?.input };
  const groups = new Map<string, number[]>();
  for (const o of s.outcomes.values()) {
    if (o.status !== "quarantined") continue;
    const path = plan.files.get(o.index).input.path;
    const reason = renderRefs(
      withoutPaths((o.reason ?? "no reason given").split(path).join("the input")),
      inputs,
      opts.showPhi ?? false,
    );
    groups.set(reason, [...(groups.get(reason) ?? []), o.index]);
  }
  if (groups.size === 0) return [];
  const count = [...groups.values()].reduce((n, g) => n + g.length, 0);
  const sorted = [...groups].sort(([ra, a], [rb, b]) =>
    b.length - a.length || (ra < rb ? -1 : ra > rb ? 1 : 0)
  );
  const shown = opts.all ? sorted : sorted.slice(0, SHOWN.reasons);
  const width = String(sorted[0][1].length).length;
  const name = (i: number) => (opts.showPhi ? inputs.at(i)!.rel : `input #${i + 1}`);
  const lines = [`quarantined during the run: ${count} file${count === 1 ? "" : "s"}, by reason:`];
  for (const [reason, files] of shown) {
    const sorted = [...files].sort((a, b) => a - b);
    const named = (opts.all ? sorted : sorted.slice(0, SHOWN.inputs)).map(name).join(", ");
    const more = sorted.length > SHOWN.inputs && !opts.all
      ? `, ... (${sorted.length - SHOWN.inputs} more)`
      : "";
    lines.push(`  ${String(files.length).padStart(width)}  ${reason}: ${named}${more}`);
  }
  if (shown.length < sorted.length) {
    lines.push(`  ... ${sorted.length - shown.length} more reasons (--all shows them)`);
  }
  return lines;
}

/** What share of the plan a shard runs. */
function shardLine(plan: Plan, shard: Shard): string {
  const mine = shardFiles(plan, shard);
  const writes = mine.filter((i) => plan.files.get(i).status === "write").length;
  return `shard ${shard.k}/${shard.n}: ${mine.length} of the ${plan.files.length} files (${writes} to write); ` +
    `the plan above is the whole run's`;
}
