/**
 * The benchmark's output: machine information, a table for the terminal and a JSON file.
 *
 * @module
 */
import { cpus, totalmem } from "node:os";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { RewriteResult, ScanResult } from "./engine.ts";

export const RESULTS_FILE: string = fileURLToPath(new URL("./results/latest.json", import.meta.url));

/** Where the figures were measured. */
export interface MachineInfo {
  date: string;
  nproc: number;
  cpuModel: string;
  memTotalMB: number;
  os: string;
  deno: string;
  v8: string;
  typescript: string;
  gitCommit: string | null;
}

async function commandText(cmd: string, args: string[]): Promise<string | null> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

export async function machineInfo(): Promise<MachineInfo> {
  const nproc = Number(await commandText("nproc", [])) || navigator.hardwareConcurrency;
  return {
    date: new Date().toISOString(),
    nproc,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memTotalMB: Math.round(totalmem() / 1e6),
    os: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    gitCommit: await commandText("git", ["rev-parse", "--short", "HEAD"]),
  };
}

/** Everything one `deno task bench` measured. */
export interface BenchResults {
  machine: MachineInfo;
  args: Record<string, unknown>;
  synthetic: { path: string; frames: number; bytes: number; generated: boolean; generateMs: number };
  rewrite: RewriteResult;
  scan: ScanResult;
}

const fmt = (n: number, digits = 2) => n.toFixed(digits);
const mb = (kib: number | null) => (kib === null ? "n/a" : `${fmt((kib * 1024) / 1e6, 1)} MB`);
const ok = (b: boolean) => (b ? "OK" : "FAIL");

/** The lines of the terminal table. */
export function formatTable(r: BenchResults): string {
  const w = r.rewrite;
  const s = r.scan;
  const rows: [string, string][] = [];
  const add = (k: string, v: string) => rows.push([k, v]);
  add(
    "machine",
    `${r.machine.nproc} cores, ${r.machine.cpuModel}, deno ${r.machine.deno}, ${r.machine.date}`,
  );
  add(
    "input",
    `${w.inputBytes} bytes, ${w.frames} frames of 512x512x16 (${
      r.synthetic.generated ? `generated in ${fmt(r.synthetic.generateMs / 1000)} s` : "cached"
    })`,
  );
  const all = (xs: number[]) => xs.map((x) => fmt(x / 1000)).join(", ");
  add(
    "rewrite wall",
    `${fmt(w.wallMs / 1000)} s median of ${w.runs} (${all(w.wallMsAll)}; deno start-up included)`,
  );
  if (w.child) {
    add(
      "  child read/edit/write",
      `${fmt(w.child.readMs / 1000, 3)} / ${fmt(w.child.editMs / 1000, 3)} / ${
        fmt(w.child.writeMs / 1000, 3)
      } s`,
    );
  }
  add("rewrite throughput", `${fmt(w.mbPerS, 0)} MB/s`);
  add(
    "rewrite peak RSS",
    `${mb(w.peakRssKiB)} max of ${w.runs} (from ${w.rssSource}; /proc VmHWM ${mb(w.vmHwmKiB)}; ` +
      `deno + engine only ${mb(w.baselineRssKiB)})`,
  );
  add("cp wall", `${fmt(w.cpWallMs / 1000)} s median (${all(w.cpWallMsAll)})`);
  add("ratio to cp", `${fmt(w.ratioToCp)}x`);
  add(
    "output size",
    w.outputBytes === null
      ? "no output FAIL"
      : `${w.outputBytes} bytes (${w.sizeDelta! >= 0 ? "+" : ""}${w.sizeDelta}) ${ok(w.checks.sizeOk)}`,
  );
  const win = w.checks.windows;
  add(
    "pixel windows equal",
    win
      ? `${win.equal}/${win.checked} of ${win.windowBytes} bytes ${ok(win.equal === win.checked)}`
      : "n/a FAIL",
  );
  const hdr = w.checks.header;
  add("output header", hdr ? (hdr.ok ? "OK" : `FAIL: ${hdr.details.join("; ")}`) : "n/a FAIL");
  add(
    "header-only scan",
    `${fmt(s.filesPerS, 0)} files/s (${s.files} files x ${s.passes} passes in ${
      fmt(s.elapsedMs / 1000)
    } s, ${s.source})`,
  );
  const errs = Object.entries(s.errors).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  add("  outcomes per pass", `ok ${s.ok}; typed errors: ${errs}; untyped ${s.untyped}`);
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  if (w.error) lines.push(`error: ${w.error}`);
  for (const u of s.untypedSamples) lines.push(`untyped error: ${u}`);
  if (!s.stable) lines.push("warning: the scan passes did not all have the same outcomes");
  lines.push(
    `${w.targetPass ? "PASS" : "FAIL"} target peak RSS < ${w.targetPeakRssMB} MB: ${mb(w.peakRssKiB)}`,
  );
  lines.push(`${w.verified ? "PASS" : "FAIL"} rewrite output verified`);
  return lines.join("\n");
}

export async function writeResults(r: BenchResults, path = RESULTS_FILE): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(r, null, 2) + "\n");
}
