/**
 * Summarise a V8 CPU profile (`deno run --cpu-prof --cpu-prof-dir=DIR ...` writes one per isolate:
 * the main thread and each worker):
 *
 *   deno run -A bench/profile.ts FILE.cpuprofile [--top N]
 *
 * Prints the profile's duration, the share of idle time (the thread waiting on I/O or messages), the
 * functions with the most self time, and self time per source file: enough to say what bounds a
 * figure of the benchmark without a browser.
 *
 * @module
 */
import { basename } from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** The parts of a `.cpuprofile` used here. */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self time in ms by key, from a profile's samples. */
export interface ProfileSummary {
  durationMs: number;
  idleMs: number;
  gcMs: number;
  byFunction: [string, number][];
  /** Time in samples whose stack holds the function (callees included), counted once per sample. */
  inclusive: [string, number][];
  byFile: [string, number][];
}

function shortUrl(url: string): string {
  if (!url) return "(native)";
  const m = /\/(src|bench|tests|cli\.ts|node_modules|ext|npm)\b.*$/.exec(url);
  if (m) return m[0].slice(1);
  return url.startsWith("ext:") || url.startsWith("node:") ? url : basename(url);
}

/**
 * Each sample's node and its time in milliseconds (a sample's time is the delta after it), with
 * the profile's nodes by id.
 */
function* samplesOf(p: CpuProfile, byId: Map<number, ProfileNode>): Generator<[ProfileNode, number]> {
  for (let i = 0; i < p.samples.length; i++) {
    const node = byId.get(p.samples[i]);
    if (node) yield [node, (p.timeDeltas[i + 1] ?? 0) / 1000];
  }
}

/** A map's entries, largest value first. */
function sorted(m: Map<string, number>): [string, number][] {
  return [...m].sort((a, b) => b[1] - a[1]);
}

/** Self time per function and per file. */
export function summarise(p: CpuProfile): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = (n: ProfileNode) => {
    const { functionName, url, lineNumber } = n.callFrame;
    return `${functionName || "(anonymous)"} ${shortUrl(url)}${url ? `:${lineNumber + 1}` : ""}`;
  };
  const incl = new Map<string, number>();
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  let idle = 0;
  let gc = 0;
  for (const [node, dt] of samplesOf(p, byId)) {
    const { functionName, url } = node.callFrame;
    if (functionName === "(idle)") {
      idle += dt;
      continue;
    }
    if (functionName === "(garbage collector)") gc += dt;
    const where = shortUrl(url);
    const key = keyOf(node);
    fn.set(key, (fn.get(key) ?? 0) + dt);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const k = keyOf(byId.get(id)!);
      if (!seen.has(k)) {
        seen.add(k);
        incl.set(k, (incl.get(k) ?? 0) + dt);
      }
    }
    file.set(where, (file.get(where) ?? 0) + dt);
  }
  return {
    durationMs: (p.endTime - p.startTime) / 1000,
    idleMs: idle,
    gcMs: gc,
    byFunction: sorted(fn),
    inclusive: sorted(incl).filter(([k]) => !k.startsWith("(root)")),
    byFile: sorted(file),
  };
}

/** This checkout's `src/` folder as a file URL: what profiles name dcmtidy's own code by. */
const SRC = new URL("../src/", import.meta.url).href;

/** What a thread's busy time was spent on, by kind of work (see `categoryOf`). */
export interface ProfileCategories {
  durationMs: number;
  busyMs: number;
  /** Busy time by kind, largest first. */
  byCategory: [string, number][];
  /** Self time by function name, largest first. */
  byFunction: [string, number][];
}

/**
 * The kind of work a sample's own function is: undefined for a thread waiting (idle, or a worker
 * waiting for a debugger, which is the profiler's own doing).
 */
export function categoryOf(functionName: string, url: string): string | undefined {
  if (functionName === "(idle)" || functionName === "op_worker_maybe_wait_for_debugger") return undefined;
  if (functionName === "(garbage collector)") return "GC";
  if (/^op_fs_|^op_(read|write|close)(_sync)?$/.test(functionName)) return "file system";
  if (
    /post_message|recv_message|^op_(de)?serialize/.test(functionName) ||
    (url.startsWith("ext:core") && /^(de)?serialize$/.test(functionName)) || url.includes("message_port")
  ) {
    return "messages";
  }
  // dcmtidy's own layers, by this checkout's file URLs (a package's own src/ folder is a library's).
  const layer = url.startsWith(SRC) ? url.slice(SRC.length).split("/")[0] : "";
  if (layer === "deid") return "de-identification";
  if (layer === "dicom") return "DICOM read and write";
  if (["plan", "scan", "protocol", "standard"].includes(layer)) return "planning";
  if (layer !== "") return "running";
  return "runtime and libraries";
}

/** A profile's busy time by kind of work, and by function (self time). */
export function categorise(p: CpuProfile): ProfileCategories {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const kinds = new Map<string, number>();
  const fns = new Map<string, number>();
  let busy = 0;
  for (const [node, dt] of samplesOf(p, byId)) {
    const { functionName, url } = node.callFrame;
    const kind = categoryOf(functionName, url);
    if (kind === undefined) continue;
    busy += dt;
    kinds.set(kind, (kinds.get(kind) ?? 0) + dt);
    const fn = functionName || "(anonymous)";
    fns.set(fn, (fns.get(fn) ?? 0) + dt);
  }
  return {
    durationMs: (p.endTime - p.startTime) / 1000,
    busyMs: busy,
    byCategory: sorted(kinds),
    byFunction: sorted(fns),
  };
}

/** The summary as text. */
export function formatSummary(name: string, s: ProfileSummary, top = 25): string {
  const busy = s.durationMs - s.idleMs;
  const pct = (ms: number) => `${((100 * ms) / Math.max(busy, 1e-9)).toFixed(1).padStart(5)}%`;
  const lines = [
    `${name}: ${s.durationMs.toFixed(0)} ms profiled, ${s.idleMs.toFixed(0)} ms idle, ${
      busy.toFixed(0)
    } ms busy (GC ${s.gcMs.toFixed(0)} ms)`,
    "  self time by function (share of busy time):",
    ...s.byFunction.slice(0, top).map(([k, ms]) => `  ${ms.toFixed(1).padStart(8)} ms ${pct(ms)}  ${k}`),
    "  total time by function (callees included):",
    ...s.inclusive.slice(0, top).map(([k, ms]) => `  ${ms.toFixed(1).padStart(8)} ms ${pct(ms)}  ${k}`),
    "  self time by file:",
    ...s.byFile.slice(0, Math.ceil(top / 2)).map(([k, ms]) =>
      `  ${ms.toFixed(1).padStart(8)} ms ${pct(ms)}  ${k}`
    ),
  ];
  return lines.join("\n");
}

if (import.meta.main) {
  const args = [...Deno.args];
  let top = 25;
  const at = args.indexOf("--top");
  if (at >= 0) {
    top = Number(args[at + 1]) || top;
    args.splice(at, 2);
  }
  if (!args.length) {
    console.error("usage: deno run -A bench/profile.ts FILE.cpuprofile... [--top N]");
    Deno.exit(2);
  }
  for (const f of args) {
    const p = JSON.parse(await Deno.readTextFile(f)) as CpuProfile;
    console.log(formatSummary(basename(f), summarise(p), top));
  }
}
