/**
 * Run a command under GNU time and sample its whole process tree's memory from `/proc` every 20 ms:
 * for commands that start other processes (dcmtidy narrows itself: a second Deno process does the
 * work while the first waits), where GNU time's maximum RSS is only the largest single process.
 *
 * Two sums over the tree, each the highest sample: VmRSS (shared pages counted once per process, so
 * it over-counts the Deno binary both processes map) and Pss from `smaps_rollup` (shared pages split
 * between the processes that map them: what the tree costs the machine). Linux only.
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
  stdout: string;
  /** The command's stderr without GNU time's report. */
  stderr: string;
}

/** The pids of `pid`'s descendants (children lists of every thread), `pid` included. */
function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const t of Deno.readDirSync(`/proc/${out[i]}/task`)) {
        const kids = Deno.readTextFileSync(`/proc/${out[i]}/task/${t.name}/children`).trim();
        if (kids) out.push(...kids.split(/\s+/).map(Number));
      }
    } catch { /* gone */ }
  }
  return out;
}

function field(path: string, name: string): number {
  try {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, "m").exec(Deno.readTextFileSync(path));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Run a command under GNU time, sampling the process tree's RSS; see the module doc. */
export async function measureTree(
  cmd: string,
  args: string[],
  env?: Record<string, string>,
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
  let done = false;
  const sampler = (async () => {
    while (!done) {
      const pids = processTree(child.pid);
      const rss = pids.reduce((n, p) => n + field(`/proc/${p}/status`, "VmRSS"), 0);
      const pss = pids.reduce((n, p) => n + field(`/proc/${p}/smaps_rollup`, "Pss"), 0);
      if (rss > treeKiB) treeKiB = rss;
      if (pss > pssKiB) pssKiB = pss;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const out = await child.output();
  const wallMs = performance.now() - t0;
  done = true;
  await sampler;
  const err = new TextDecoder().decode(out.stderr);
  return {
    success: out.success,
    wallMs,
    cpuS: parseTimeCpu(err),
    maxRssKiB: parseTimeMaxRss(err),
    treeRssKiB: treeKiB || null,
    treePssKiB: pssKiB || null,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: err.slice(0, Math.max(0, err.indexOf("\tCommand being timed:"))),
  };
}
