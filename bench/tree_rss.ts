/**
 * Run a command under GNU time and sample its whole process tree's memory (and its threads' CPU
 * time) from `/proc` about every 20 ms:
 * for commands that start other processes (dcmtidy narrows itself: a second Deno process does the
 * work while the first waits), where GNU time's maximum RSS is only the largest single process.
 *
 * Two sums over the tree, each the highest sample: VmRSS (shared pages counted once per process, so
 * it over-counts the Deno binary both processes map) and Pss from `smaps_rollup` (shared pages split
 * between the processes that map them: what the tree costs the machine). Linux only.
 *
 * The sampling is not free: the kernel answers a read of a Deno process's `smaps_rollup` by walking
 * its whole address space (9 ms a read mid-run), so the sampler took 1.55 s of CPU beside a run of
 * 30,000 files that took 8.25 s on two cores, CPU the run would otherwise have had. A wall time to
 * compare with a peer is therefore measured with `sample: false` (GNU time only), and the memory in
 * another run of the same command (bench/README.md, "The sampler's cost").
 *
 * A sampled run also gives each thread's CPU time (`/proc/PID/task/TID/stat`, summed by the thread's
 * name): which threads a run's CPU went to (its workers, its main thread, V8's helper threads), which
 * neither GNU time nor a CPU profile (one per isolate, no helper threads) says. Each figure is a lower
 * bound: a thread's CPU after its last sample (one sampling period: 20 ms and the sample's own reads)
 * is lost when it ends or its process replaces itself (`exec`, as dcmtidy's narrowing does), and a
 * thread that lives less than a period may not be seen at all.
 *
 * @module
 */
import { GNU_TIME, parseTimeCpu, parseTimeMaxRss } from "./rss.ts";

/** What `measureTree` found. */
export interface TreeMeasured {
  success: boolean;
  wallMs: number;
  /** User + system CPU seconds, waited-for children included (GNU time). */
  cpuS: number | null;
  /** The largest single process's peak RSS (GNU time), KiB. */
  maxRssKiB: number | null;
  /** Highest sampled sum of VmRSS over the tree, KiB. */
  treeRssKiB: number | null;
  /** Highest sampled sum of Pss over the tree, KiB. */
  treePssKiB: number | null;
  /**
   * Each process's Pss in that highest sample, in the tree's order (the measured command first,
   * then what it started; GNU time itself left out): which process the peak is made of.
   */
  peakPss: ProcessPss[];
  /** When the highest Pss sample was taken, in ms from the start. */
  peakAtMs: number | null;
  /** A sampled run's CPU by thread name, the most first (see the module's documentation); else empty. */
  threads: ThreadsCpu[];
  stdout: string;
  /** The command's stderr without GNU time's report. */
  stderr: string;
  /** Its lines (split at newlines and carriage returns), each with when it came, in ms from the start. */
  stderrLines: { atMs: number; line: string }[];
}

/** One process's share of a sample: how deep it is under the measured command, its arguments. */
export interface ProcessPss {
  /** 1: the measured command; 2: a process it started; and so on. */
  depth: number;
  /** Its command line (from `/proc/PID/cmdline`), arguments separated by spaces. */
  command: string;
  pssKiB: number;
}

/** The CPU time of a sampled run's threads of one name (`comm`: at most 15 characters). */
export interface ThreadsCpu {
  name: string;
  /** How many threads of that name were seen over the run (not all at once). */
  count: number;
  /** User and system CPU seconds, summed over them. */
  cpuS: number;
}

/** Ticks a second of `/proc`'s CPU times (USER_HZ, `getconf CLK_TCK`: 100 on every Linux we run on). */
const TICKS = 100;

/**
 * Each thread of `pid`: its name and its user + system CPU ticks so far, by its thread id and start
 * time (a thread id the kernel gives again later is another thread).
 */
function threadTicks(pid: number, into: Map<string, { name: string; ticks: number }>): void {
  try {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      try {
        const stat = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/stat`);
        // "TID (NAME) STATE ...": the name may hold spaces and parentheses; utime, stime and
        // starttime are the 12th, 13th and 20th fields after it.
        const close = stat.lastIndexOf(")");
        const rest = stat.slice(close + 2).split(" ");
        const ticks = Number(rest[11]) + Number(rest[12]);
        if (!Number.isFinite(ticks)) continue;
        into.set(`${t.name}:${rest[19]}`, { name: stat.slice(stat.indexOf("(") + 1, close), ticks });
      } catch { /* the thread ended */ }
    }
  } catch { /* the process ended */ }
}

/** Threads' ticks summed by name, the most CPU first. */
function byName(threads: Map<string, { name: string; ticks: number }>): ThreadsCpu[] {
  const sums = new Map<string, ThreadsCpu>();
  for (const { name, ticks } of threads.values()) {
    const s = sums.get(name) ?? sums.set(name, { name, count: 0, cpuS: 0 }).get(name)!;
    s.count++;
    s.cpuS += ticks / TICKS;
  }
  return [...sums.values()].sort((a, b) => b.cpuS - a.cpuS);
}

/** The pids of `pid`'s descendants (children lists of every thread), `pid` included, with depths. */
function processTree(pid: number): { pid: number; depth: number }[] {
  const out = [{ pid, depth: 0 }];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const t of Deno.readDirSync(`/proc/${out[i].pid}/task`)) {
        const kids = Deno.readTextFileSync(`/proc/${out[i].pid}/task/${t.name}/children`).trim();
        if (kids) out.push(...kids.split(/\s+/).map((k) => ({ pid: Number(k), depth: out[i].depth + 1 })));
      }
    } catch { /* gone */ }
  }
  return out;
}

function commandOf(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").join(" ").trim();
  } catch {
    return "";
  }
}

function field(path: string, name: string): number {
  try {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, "m").exec(Deno.readTextFileSync(path));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** How `measureTree` measures. */
export interface MeasureOptions {
  /**
   * Sample the tree's memory and threads about every 20 ms (default). False: GNU time only, for a
   * wall time nothing else on the machine competed with; the tree's figures are then null, and
   * `threads` empty.
   */
  sample?: boolean;
}

/** Run a command under GNU time, sampling the process tree's memory and threads; see the module doc. */
export async function measureTree(
  cmd: string,
  args: string[],
  env?: Record<string, string>,
  opts: MeasureOptions = {},
): Promise<TreeMeasured> {
  const t0 = performance.now();
  const child = new Deno.Command(GNU_TIME, {
    args: ["-v", cmd, ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let treeKiB = 0;
  let pssKiB = 0;
  let peakPss: ProcessPss[] = [];
  let peakAtMs: number | null = null;
  let done = opts.sample === false;
  const threads = new Map<string, { name: string; ticks: number }>();
  const sampler = (async () => {
    while (!done) {
      const tree = processTree(child.pid);
      // GNU time (depth 0) is not the command's.
      for (const p of tree) if (p.depth > 0) threadTicks(p.pid, threads);
      const rss = tree.reduce((n, p) => n + field(`/proc/${p.pid}/status`, "VmRSS"), 0);
      const each = tree.map((p) => ({ ...p, pssKiB: field(`/proc/${p.pid}/smaps_rollup`, "Pss") }));
      const pss = each.reduce((n, p) => n + p.pssKiB, 0);
      if (rss > treeKiB) treeKiB = rss;
      if (pss > pssKiB) {
        pssKiB = pss;
        peakAtMs = performance.now() - t0;
        // GNU time (depth 0) is not the command's: left out of the parts.
        peakPss = each.filter((p) => p.depth > 0).map((p) => ({
          depth: p.depth,
          command: commandOf(p.pid),
          pssKiB: p.pssKiB,
        }));
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  // Stderr as it comes, each line with its time: the phases' last progress lines tell when each ended.
  const stderrLines: { atMs: number; line: string }[] = [];
  const errText = (async () => {
    const decoder = new TextDecoder();
    let text = "";
    let partial = "";
    for await (const chunk of child.stderr) {
      const atMs = performance.now() - t0;
      const piece = decoder.decode(chunk, { stream: true });
      text += piece;
      const lines = (partial + piece).split(/[\r\n]/);
      partial = lines.pop()!;
      for (const line of lines) if (line) stderrLines.push({ atMs, line });
    }
    if (partial) stderrLines.push({ atMs: performance.now() - t0, line: partial });
    return text;
  })();
  const stdout = new Response(child.stdout).text();
  const status = await child.status;
  const wallMs = performance.now() - t0;
  done = true;
  await sampler;
  const err = await errText;
  return {
    success: status.success,
    wallMs,
    cpuS: parseTimeCpu(err),
    maxRssKiB: parseTimeMaxRss(err),
    treeRssKiB: treeKiB || null,
    treePssKiB: pssKiB || null,
    peakPss,
    peakAtMs,
    threads: byName(threads),
    stdout: await stdout,
    stderr: err.slice(0, Math.max(0, err.indexOf("\tCommand being timed:"))),
    stderrLines,
  };
}
