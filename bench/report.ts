/**
 * The benchmark's output: machine information, a table for the terminal and a JSON file.
 *
 * @module
 */
import { cpus, totalmem } from "node:os";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { type BlankResults, formatBlank } from "./blank.ts";
import { formatCodecs } from "./codec_report.ts";
import type { CodecResults } from "./codecs.ts";
import type { RewriteResult, ScanResult } from "./engine.ts";
import type { SmallResults } from "./small.ts";
import type { ShardResults } from "./shard.ts";
import type { StepResult, TreeResults } from "./tree.ts";

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
  /** Uncommitted changes in the working tree when measured. */
  gitDirty: boolean;
  /** /proc/loadavg at the start: other work on the machine makes wall times noisy. */
  loadAvgStart: string | null;
  loadAvgEnd?: string | null;
}

/** The 1, 5 and 15 minute load averages, or null where there is no /proc. */
export function loadAvg(): string | null {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return null;
  }
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
    gitDirty: ((await commandText("git", ["status", "--porcelain", "--untracked-files=no"])) ?? "") !== "",
    loadAvgStart: loadAvg(),
  };
}

/** Everything one `deno task bench` measured. */
export interface BenchResults {
  machine: MachineInfo;
  args: Record<string, unknown>;
  synthetic: { path: string; frames: number; bytes: number; generated: boolean; generateMs: number } | null;
  tree: TreeResults | null;
  rewrite: RewriteResult | null;
  scan: ScanResult | null;
  /** The codec case (`--only codecs`). */
  codecs?: CodecResults | null;
  /** The blank case (`--only blank`). */
  blank?: BlankResults | null;
  /** The small-file case (`--only small`, issue 18). */
  small?: SmallResults | null;
  /** The shard case: a split scan against one run and against shards that each read every header. */
  shard?: ShardResults | null;
}

const fmt = (n: number, digits = 2) => n.toFixed(digits);
const mb = (kib: number | null) => (kib === null ? "n/a" : `${fmt((kib * 1024) / 1e6, 1)} MB`);
const ok = (b: boolean) => (b ? "OK" : "FAIL");

const pad = (text: string, n: number, right = false) => (right ? text.padStart(n) : text.padEnd(n));

/** The tree table: one line per measured command. */
export function formatSteps(steps: StepResult[]): string[] {
  const cols = ["step", "wall s", "cpu s", "files/s", "MB/s", "x cp", "cpu x cp", "peak RSS", "check"];
  const rows = steps.map((s) => {
    if (s.skipped) return [s.label, "-", "-", "-", "-", "-", "-", "-", `skipped: ${s.skipped}`];
    return [
      s.label,
      fmt(s.wallMs! / 1000),
      s.cpuS === null ? "-" : fmt(s.cpuS),
      s.filesPerS === null || s.files === 0 ? "-" : fmt(s.filesPerS, 0),
      s.mbPerS === null ? "-" : fmt(s.mbPerS, 0),
      s.ratio === null ? "-" : `${fmt(s.ratio)}${s.ratioTo === "cp" ? "*" : ""}`,
      s.cpuRatio === null ? "-" : `${fmt(s.cpuRatio, 1)}${s.ratioTo === "cp" ? "*" : ""}`,
      mb(s.peakRssKiB),
      `${ok(s.ok)} ${s.check}${s.runPhaseS !== undefined ? ` (run phase ${fmt(s.runPhaseS, 2)} s)` : ""}`,
    ];
  });
  const width = cols.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === r.length - 1 ? c : pad(c, width[i], i > 0 && i < 8))).join("  ");
  return [line(cols), ...rows.map(line)];
}

/** The lines of the terminal table. */
export function formatTable(r: BenchResults): string {
  const lines: string[] = [];
  const m = r.machine;
  lines.push(
    `machine: ${m.nproc} cores, ${m.cpuModel}, ${m.memTotalMB} MB, deno ${m.deno}, commit ${m.gitCommit}${
      m.gitDirty ? "+changes" : ""
    }, ${m.date}`,
    `load average (1/5/15 min): ${m.loadAvgStart ?? "n/a"} at the start, ${m.loadAvgEnd ?? "n/a"} at the end`,
  );
  const t = r.tree;
  if (t) {
    const d = t.dump;
    lines.push(
      `dump: ${d.files} files (${d.ct} CT 512x512, ${d.mr} MR 256x256), ${
        fmt(d.bytes / 1e6, 0)
      } MB, ${d.patients} patients, ${d.studies} studies, ${d.series} series (${
        d.generated ? `generated in ${fmt(d.generateMs / 1000)} s` : "cached"
      })`,
    );
    if (t.startup) {
      lines.push(
        `start-up: dcmtidy --version ${fmt(t.startup.wallMs! / 1000)} s, ${
          mb(t.startup.peakRssKiB)
        } (in every dcmtidy line)`,
      );
    }
    lines.push("", `${t.runs} round${t.runs === 1 ? "" : "s"} of every step: median times, highest peak RSS`);
    lines.push(...formatSteps(t.steps));
    lines.push(
      "(x cp: wall time / cp -r's in the same round, median over rounds; * against cp of the multi-frame file.",
      " cpu: user + system seconds. MB = 10^6 bytes.)",
    );
  }
  const w = r.rewrite;
  if (w) {
    const rows: [string, string][] = [];
    const add = (k: string, v: string) => rows.push([k, v]);
    add(
      "engine rewrite",
      `${w.inputBytes} bytes, ${w.frames} frames: ${fmt(w.wallMs / 1000)} s median of ${w.runs} (${
        w.wallMsAll.map((x) => fmt(x / 1000)).join(", ")
      }), ${fmt(w.mbPerS, 0)} MB/s, ${fmt(w.ratioToCp)}x cp (${fmt(w.cpWallMs / 1000)} s)`,
    );
    if (w.child) {
      add(
        "  child read/edit/write",
        `${fmt(w.child.readMs / 1000, 3)} / ${fmt(w.child.editMs / 1000, 3)} / ${
          fmt(w.child.writeMs / 1000, 3)
        } s`,
      );
    }
    add(
      "  peak RSS",
      `${mb(w.peakRssKiB)} (from ${w.rssSource}; /proc VmHWM ${mb(w.vmHwmKiB)}; deno + engine only ${
        mb(w.baselineRssKiB)
      })`,
    );
    const win = w.checks.windows;
    const hdr = w.checks.header;
    add(
      "  output",
      `${w.outputBytes ?? "none"} bytes (${(w.sizeDelta ?? 0) >= 0 ? "+" : ""}${w.sizeDelta}) ${
        ok(w.checks.sizeOk)
      }; ` +
        `pixel windows ${win ? `${win.equal}/${win.checked}` : "n/a"} ${
          ok(!!win && win.equal === win.checked)
        }; ` +
        `header ${hdr ? (hdr.ok ? "OK" : `FAIL: ${hdr.details.join("; ")}`) : "n/a"}`,
    );
    lines.push("", ...alignPairs(rows));
    if (w.error) lines.push(`error: ${w.error}`);
  }
  const s = r.scan;
  if (s) {
    const errs = Object.entries(s.errors).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
    lines.push(
      "",
      ...alignPairs([
        [
          "header-only scan",
          `${fmt(s.filesPerS, 0)} files/s (${s.files} files x ${s.passes} passes in ${
            fmt(s.elapsedMs / 1000)
          } s, ${s.source})`,
        ],
        ["  outcomes per pass", `ok ${s.ok}; typed errors: ${errs}; untyped ${s.untyped}`],
      ]),
    );
    for (const u of s.untypedSamples) lines.push(`untyped error: ${u}`);
    if (!s.stable) lines.push("warning: the scan passes did not all have the same outcomes");
  }
  if (r.codecs) lines.push(...formatCodecs(r.codecs));
  if (r.blank) lines.push(...formatBlank(r.blank));
  lines.push("");
  for (const target of t?.targets ?? []) {
    const verdict = target.pass === null ? "n/a " : target.pass ? "PASS" : "FAIL";
    lines.push(`${verdict} ${target.name}: ${target.detail}`);
  }
  if (w) {
    lines.push(
      `${w.targetPass ? "PASS" : "FAIL"} engine rewrite peak RSS < ${w.targetPeakRssMB} MB: ${
        mb(w.peakRssKiB)
      }`,
    );
  }
  const failed = (t?.steps ?? []).filter((x) => !x.skipped && !x.ok);
  const codecFails = [
    ...[...(r.codecs?.rows ?? []), ...(r.codecs?.corpus ?? [])].map((x) => ({
      ...x,
      label: `codecs ${x.label}`,
    })),
    ...(r.blank ? [...r.blank.blank, ...r.blank.run] : []),
    ...(r.blank?.ocr ? [{ ...r.blank.ocr, label: "OCR" }] : []),
  ].filter((x) => !x.ok);
  const verified = failed.length === 0 && (!w || w.verified) && codecFails.length === 0;
  lines.push(
    `${verified ? "PASS" : "FAIL"} outputs verified${
      failed.length || codecFails.length
        ? `: ${[...failed.map((x) => x.id), ...codecFails.map((x) => x.label)].join(", ")} failed`
        : ""
    }`,
  );
  return lines.join("\n");
}

function alignPairs(rows: [string, string][]): string[] {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
}

export async function writeResults(r: BenchResults, path = RESULTS_FILE): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(r, null, 2) + "\n");
}
