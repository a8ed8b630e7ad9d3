/**
 * Running a child process and measuring its wall time and peak resident set size.
 *
 * With GNU time (`/usr/bin/time -v`, Debian package `time`) the peak comes from its "Maximum
 * resident set size (kbytes)" line. Without it, a child that calls `reportVmHwm()` at exit prints
 * its own VmHWM from /proc/self/status on stderr, and that is parsed instead. Both numbers are
 * reported when both are there.
 *
 * @module
 */

export const GNU_TIME = "/usr/bin/time";
/** The line a child prints on stderr at exit with its own peak RSS. */
export const VMHWM_PREFIX = "bench-vmhwm-kib=";

/** Whether `/usr/bin/time -v` works and prints a maximum RSS line. */
export async function hasGnuTime(): Promise<boolean> {
  try {
    const out = await new Deno.Command(GNU_TIME, { args: ["-v", "true"], stdout: "null", stderr: "piped" })
      .output();
    return out.success && /Maximum resident set size \(kbytes\)/.test(new TextDecoder().decode(out.stderr));
  } catch {
    return false;
  }
}

/** This process's peak RSS in KiB (VmHWM from /proc/self/status), or null where there is no /proc. */
export function readVmHwmKiB(): number | null {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(Deno.readTextFileSync("/proc/self/status"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** For children: print this process's VmHWM on stderr, for the parent's fallback measurement. */
export function reportVmHwm(): void {
  const kib = readVmHwmKiB();
  if (kib !== null) console.error(`${VMHWM_PREFIX}${kib}`);
}

/** What `runMeasured` found. */
export interface Measured {
  code: number;
  success: boolean;
  /** Wall time of the whole child process, as seen by the parent. */
  wallMs: number;
  /** Peak RSS in KiB from the preferred source, or null when neither source gave one. */
  peakRssKiB: number | null;
  rssSource: "time -v" | "/proc VmHWM" | "none";
  /** Both readings, for cross-checking. */
  timeMaxRssKiB: number | null;
  vmHwmKiB: number | null;
  /** User + system CPU seconds of the child (GNU time only): less sensitive than wall time to other load. */
  cpuS: number | null;
  stdout: string;
  /** The child's stderr without the lines GNU time and `reportVmHwm` added. */
  stderr: string;
}

/** Parse GNU time's verbose report for the maximum RSS (in KiB). */
export function parseTimeMaxRss(stderr: string): number | null {
  const m = /Maximum resident set size \(kbytes\):\s*(\d+)/.exec(stderr);
  return m ? Number(m[1]) : null;
}

/** Parse GNU time's verbose report for user + system CPU seconds. */
export function parseTimeCpu(stderr: string): number | null {
  const user = /User time \(seconds\):\s*([\d.]+)/.exec(stderr);
  const sys = /System time \(seconds\):\s*([\d.]+)/.exec(stderr);
  return user && sys ? Number(user[1]) + Number(sys[1]) : null;
}

/** Parse the line `reportVmHwm` printed (the last one wins). */
export function parseVmHwm(stderr: string): number | null {
  let found: number | null = null;
  for (const line of stderr.split("\n")) {
    if (line.startsWith(VMHWM_PREFIX)) found = Number(line.slice(VMHWM_PREFIX.length));
  }
  return found;
}

/** Run `cmd args` to completion; measure wall time and peak RSS (see the module doc). */
export async function runMeasured(
  cmd: string,
  args: string[],
  opts: { useTime: boolean; cwd?: string; env?: Record<string, string> },
): Promise<Measured> {
  const [program, programArgs] = opts.useTime ? [GNU_TIME, ["-v", cmd, ...args]] : [cmd, args];
  const t0 = performance.now();
  const out = await new Deno.Command(program, {
    args: programArgs,
    cwd: opts.cwd,
    env: opts.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const wallMs = performance.now() - t0;
  const dec = new TextDecoder();
  const rawErr = dec.decode(out.stderr);
  const timeMaxRssKiB = opts.useTime ? parseTimeMaxRss(rawErr) : null;
  const vmHwmKiB = parseVmHwm(rawErr);
  const cpuS = opts.useTime ? parseTimeCpu(rawErr) : null;
  let stderr = rawErr.split("\n").filter((l) => !l.startsWith(VMHWM_PREFIX)).join("\n");
  if (opts.useTime) {
    const at = stderr.indexOf("\tCommand being timed:");
    if (at >= 0) stderr = stderr.slice(0, at);
    stderr = stderr.replace(/^Command exited with non-zero status \d+\n?/m, "");
  }
  const peakRssKiB = timeMaxRssKiB ?? vmHwmKiB;
  return {
    code: out.code,
    success: out.success,
    wallMs,
    peakRssKiB,
    rssSource: timeMaxRssKiB !== null ? "time -v" : vmHwmKiB !== null ? "/proc VmHWM" : "none",
    timeMaxRssKiB,
    vmHwmKiB,
    cpuS,
    stdout: dec.decode(out.stdout),
    stderr: stderr.trim(),
  };
}
