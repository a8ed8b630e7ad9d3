/**
 * One more `dcmtidy run --yes` of a bench case under the V8 profiler, so that a time target the
 * bench misses says what bounds it with the profile. The run is the narrowed one, in one process:
 * started with exactly the permissions `dcmtidy permissions` prints (a process started with them
 * does not narrow itself again) and the narrowed child's V8 flags, plus `--cpu-prof`, which writes
 * a profile per thread (the main one and each worker). The profiler slows the run: its shares say
 * what bounds it; its times are not the bench's.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { V8_FLAGS } from "../src/cli/narrow.ts";
import { categorise, type CpuProfile, type ProfileCategories } from "./profile.ts";

/** What the profiled run's threads were busy with. */
export interface ProfiledRun {
  wallMs: number;
  main?: ProfileCategories;
  workers: ProfileCategories[];
  /** Why there is no profile (the run failed, no profile was written). */
  error?: string;
}

/**
 * Run `cli run PROTOCOL --yes` narrowed and profiled; the profiles go to `dir` (emptied and made
 * here). Never throws: what went wrong is in `error`.
 *
 * @example
 * ```ts ignore
 * const env = { DCMTIDY_SALT: salt };
 * const r = await profileRun({ cli, protocol: "/tmp/run.yaml", dir: "/tmp/prof", env });
 * console.log(formatProfiledRun(r).join("\n"));
 * ```
 */
export async function profileRun(
  opts: { cli: string; protocol: string; dir: string; env: Record<string, string> },
): Promise<ProfiledRun> {
  // Whatever fails here, the bench's own figures stand: the profile says why it is missing.
  try {
    return await profiled(opts);
  } catch (e) {
    return { wallMs: 0, workers: [], error: (e as Error).message };
  }
}

async function profiled(
  opts: { cli: string; protocol: string; dir: string; env: Record<string, string> },
): Promise<ProfiledRun> {
  const deno = Deno.execPath();
  const run = (args: string[]) =>
    new Deno.Command(deno, { args, env: opts.env, stdout: "piped", stderr: "piped" }).output();
  const printed = await run(["run", "-A", opts.cli, "permissions", opts.protocol, "--command", "run"]);
  const flags = new TextDecoder().decode(printed.stdout).split("\n")[0].trim().split(/\s+/);
  if (!printed.success || !flags[0]?.startsWith("--allow-read")) {
    return {
      wallMs: 0,
      workers: [],
      error: `dcmtidy permissions failed: ${new TextDecoder().decode(printed.stderr)}`,
    };
  }
  // The folder is the bench's own: emptied, so no other run's profiles are counted.
  await Deno.remove(opts.dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(opts.dir, { recursive: true });
  const t0 = performance.now();
  const out = await run([
    "run",
    "--no-prompt",
    "--cpu-prof",
    `--cpu-prof-dir=${opts.dir}`,
    V8_FLAGS,
    "--config",
    join(dirname(opts.cli), "deno.json"),
    ...flags,
    opts.cli,
    "run",
    opts.protocol,
    "--yes",
  ]);
  const wallMs = performance.now() - t0;
  if (!out.success) {
    return {
      wallMs,
      workers: [],
      error: `the profiled run failed: ${new TextDecoder().decode(out.stderr).slice(-500)}`,
    };
  }
  const result: ProfiledRun = { wallMs, workers: [] };
  try {
    await readProfiles(opts.dir, result);
  } catch (e) {
    return { wallMs, workers: [], error: `its profiles could not be read: ${(e as Error).message}` };
  }
  if (!result.main) result.error = "no profile of the main thread was written";
  return result;
}

/** Each thread's profile in `dir`, summarised into `result`. */
async function readProfiles(dir: string, result: ProfiledRun): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    if (!e.name.endsWith(".cpuprofile")) continue;
    const p = JSON.parse(await Deno.readTextFile(join(dir, e.name))) as CpuProfile;
    // What the results file keeps of each: the kinds, and the functions with the most self time.
    const c = categorise(p);
    const kept = { ...c, byFunction: c.byFunction.slice(0, 10) };
    if (e.name.includes("worker")) result.workers.push(kept);
    else result.main = kept;
  }
}

/** The profiled run as lines of text: each kind of thread's busy time, by kind of work. */
export function formatProfiledRun(r: ProfiledRun): string[] {
  if (r.error) return [`profile: not taken: ${r.error}`];
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const pct = (part: number, whole: number) => whole > 0 ? `${((100 * part) / whole).toFixed(0)} %` : "n/a";
  const line = (name: string, threads: ProfileCategories[]) => {
    const busy = threads.reduce((a, t) => a + t.busyMs, 0);
    const span = threads.reduce((a, t) => a + t.durationMs, 0);
    const sum = (key: "byCategory" | "byFunction") => {
      const m = new Map<string, number>();
      for (const t of threads) for (const [k, ms] of t[key]) m.set(k, (m.get(k) ?? 0) + ms);
      return [...m].sort((a, b) => b[1] - a[1]);
    };
    // Kinds under 1 % of the busy time are left out.
    const kinds = sum("byCategory").filter(([, ms]) => ms >= busy / 100)
      .map(([k, ms]) => `${k} ${s(ms)} (${pct(ms, busy)})`);
    const top = sum("byFunction").slice(0, 4).map(([k, ms]) => `${k} ${s(ms)}`);
    return `  ${name}: busy ${s(busy)} of ${s(span)} (${pct(busy, span)}): ${
      kinds.join(", ")
    }; most self time: ${top.join(", ")}`;
  };
  return [
    `profile: one more run, narrowed, in one process, with --cpu-prof (${
      s(r.wallMs)
    }; the profiler slows it: read its shares, not its times):`,
    ...(r.main ? [line("main thread", [r.main])] : []),
    ...(r.workers.length ? [line(`${r.workers.length} workers together`, r.workers)] : []),
  ];
}
