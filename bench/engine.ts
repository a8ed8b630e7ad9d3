/**
 * Benchmarks of the DICOM engine alone (no CLI, no rules):
 *
 * - `measureRewrite`: a child process reads a large file, sets PatientName, deletes
 *   PatientBirthDate and writes it back; wall time and peak RSS are measured from outside, the
 *   output is checked (size, sampled Pixel Data windows, edited header) and `cp` of the same file
 *   is timed for a ratio.
 * - `headerScan`: `readDicomFile(path, { headerOnly: true })` over every regular file of a folder,
 *   repeated for at least a second, counting typed errors.
 *
 * @module
 */
import { readAt } from "../src/dicom/file_io.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DicomError } from "../src/dicom/errors.ts";
import { readDicomFile } from "../src/dicom/read_file.ts";
import { PIXEL_DATA } from "../src/dicom/model.ts";
import { decodeStrings } from "../src/dicom/values.ts";
import type { ChildReport } from "./rewrite_child.ts";
import { type Measured, runMeasured } from "./rss.ts";
import { MIB, type SyntheticFile } from "./synthetic.ts";

const CHILD = fileURLToPath(new URL("./rewrite_child.ts", import.meta.url));
const MB = 1e6;
/** The memory target of the rewrite: peak RSS below this many MB (10^6 bytes). */
export const TARGET_PEAK_RSS_MB = 150;

/** Read a whole file once in 8 MiB pieces so both timed copies start from the page cache. */
async function warmCache(path: string): Promise<void> {
  const f = await Deno.open(path, { read: true });
  try {
    const buf = new Uint8Array(8 * MIB);
    while ((await f.read(buf)) !== null) { /* read */ }
  } finally {
    f.close();
  }
}

/** Flush dirty pages so one timed step does not pay for the previous one's write-back. */
async function sync(): Promise<void> {
  await new Deno.Command("sync", { stdout: "null", stderr: "null" }).output().catch(() => {});
}

async function removeIfThere(path: string): Promise<void> {
  await Deno.remove(path).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

/** Where the Pixel Data windows compared were, as distances from the end of both files. */
export interface WindowCheck {
  checked: number;
  equal: number;
  windowBytes: number;
  /** Distances from the end of the files of the windows that differed. */
  mismatches: number[];
}

/**
 * Compare 1 MiB windows of the Pixel Data of `a` and `b`, both of which end with `pixelLength` pixel
 * bytes: the first and last MiB, evenly spaced ones between, and one at an odd offset.
 */
export async function comparePixelWindows(
  a: string,
  b: string,
  pixelLength: number,
  count = 8,
): Promise<WindowCheck> {
  const w = Math.min(MIB, pixelLength);
  const distances = new Set<number>([pixelLength, w]); // first window, last window
  for (let i = 1; i < count - 2; i++) {
    distances.add(w + Math.floor(((pixelLength - w) * i) / (count - 2)));
  }
  if (pixelLength > w + 1) distances.add(w + 1 + 2 * Math.floor((pixelLength - w - 1) / 6)); // odd offset
  const fa = await Deno.open(a, { read: true });
  const fb = await Deno.open(b, { read: true });
  const result: WindowCheck = { checked: 0, equal: 0, windowBytes: w, mismatches: [] };
  try {
    const [sa, sb] = [(await fa.stat()).size, (await fb.stat()).size];
    for (const d of [...distances].sort((x, y) => y - x)) {
      const n = Math.min(w, d);
      const [x, y] = [await readAt(fa, sa - d, n), await readAt(fb, sb - d, n)];
      result.checked++;
      let same = x.length === n && y.length === n;
      for (let i = 0; same && i < n; i++) same = x[i] === y[i];
      if (same) result.equal++;
      else result.mismatches.push(d);
    }
  } finally {
    fa.close();
    fb.close();
  }
  return result;
}

/** The edited header of the output, read back with the engine. */
export interface HeaderCheck {
  ok: boolean;
  details: string[];
}

async function checkOutputHeader(out: string, pixelLength: number, frames: number): Promise<HeaderCheck> {
  const details: string[] = [];
  try {
    const file = await readDicomFile(out, { headerOnly: true });
    const ds = file.dataset;
    const get = (t: number) => {
      const el = ds.elements.find((e) => e.tag === t);
      return el ? decodeStrings(el, ds) : undefined;
    };
    const name = get(0x00100010);
    if (name?.[0] !== "ANONYMOUS") details.push(`PatientName is ${JSON.stringify(name)}`);
    if (get(0x00100030) !== undefined) details.push("PatientBirthDate is still there");
    if (get(0x00100020)?.[0] !== "BENCH0001") details.push("PatientID changed");
    if (get(0x00280008)?.[0] !== String(frames)) details.push("NumberOfFrames changed");
    const pd = ds.elements.find((e) => e.tag === PIXEL_DATA);
    if (!pd?.external) details.push("no Pixel Data found");
    else if (pd.external.offset !== file.size - pixelLength) {
      details.push(`Pixel Data starts at ${pd.external.offset}, expected ${file.size - pixelLength}`);
    } else if (pd.length !== pixelLength) details.push(`Pixel Data length ${pd.length}`);
  } catch (e) {
    details.push(`output does not read back: ${e}`);
  }
  return { ok: details.length === 0, details };
}

/** Everything `measureRewrite` found. */
export interface RewriteResult {
  input: string;
  frames: number;
  inputBytes: number;
  outputBytes: number | null;
  sizeDelta: number | null;
  /** Rounds of (rewrite, cp); the figures below are medians over them, peaks the maximum. */
  runs: number;
  /** Median wall time of the child process (Deno start-up included). */
  wallMs: number;
  /** Every round's rewrite wall time. */
  wallMsAll: number[];
  /** Input bytes per second of median wall time, in MB/s (10^6). */
  mbPerS: number;
  /** Highest peak RSS over the rounds. */
  peakRssMB: number | null;
  peakRssKiB: number | null;
  rssSource: string;
  timeMaxRssKiB: number | null;
  vmHwmKiB: number | null;
  /** Peak RSS of a child that only loads the engine: Deno's own floor. */
  baselineRssKiB: number | null;
  /** The child's own report of the median round. */
  child: ChildReport | null;
  /** Median wall time of `cp` of the same input. */
  cpWallMs: number;
  cpWallMsAll: number[];
  /** Median rewrite wall time / median cp wall time. */
  ratioToCp: number;
  checks: {
    childOk: boolean;
    sizeOk: boolean;
    windows: WindowCheck | null;
    header: HeaderCheck | null;
  };
  targetPeakRssMB: number;
  /** Peak RSS below the target in every round. */
  targetPass: boolean;
  /** All output checks passed. */
  verified: boolean;
  error?: string;
}

/** Outputs differ from the input only by the meta group and the two edited elements. */
const MAX_SIZE_DELTA = 4096;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function maxOrNull(xs: (number | null)[]): number | null {
  return xs.some((x) => x === null) ? null : Math.max(...(xs as number[]));
}

/**
 * Run the rewrite child on `input` and `cp` on it, `runs` rounds; see the module doc. The input is
 * read once first and dirty pages are flushed (untimed) before each timed step: warm-cache figures.
 */
export async function measureRewrite(
  input: SyntheticFile,
  opts: { useTime: boolean; keep: boolean; outDir: string; runs: number },
): Promise<RewriteResult> {
  const out = join(opts.outDir, "rewrite-out.dcm");
  const cpOut = join(opts.outDir, "cp-out.dcm");
  const deno = Deno.execPath();

  const baseline = await runMeasured(deno, ["run", "-A", CHILD, "--baseline"], { useTime: opts.useTime });
  await warmCache(input.path);
  const runs: Measured[] = [];
  const cps: Measured[] = [];
  const children: (ChildReport | null)[] = [];
  for (let round = 0; round < Math.max(1, opts.runs); round++) {
    await removeIfThere(out);
    await removeIfThere(cpOut);
    await sync();
    const run = await runMeasured(deno, ["run", "-A", CHILD, input.path, out], { useTime: opts.useTime });
    runs.push(run);
    try {
      children.push(JSON.parse(run.stdout.trim().split("\n").pop() ?? "") as ChildReport);
    } catch {
      children.push(null);
    }
    await sync();
    cps.push(await runMeasured("cp", [input.path, cpOut], { useTime: false }));
    if (!run.success) break;
  }
  await sync();

  // The last round's output is the one checked (and kept with --keep).
  const last = runs[runs.length - 1];
  const lastChild = children[children.length - 1];
  const childOk = runs.every((r) => r.success) &&
    children.every((c) => c !== null && c.set === 1 && c.deleted === 1);
  let outputBytes: number | null = null;
  try {
    outputBytes = (await Deno.stat(out)).size;
  } catch { /* no output */ }
  const sizeDelta = outputBytes === null ? null : outputBytes - input.size;
  const sizeOk = sizeDelta !== null && Math.abs(sizeDelta) <= MAX_SIZE_DELTA &&
    (lastChild === null || lastChild.written === outputBytes);
  const windows = outputBytes === null ? null : await comparePixelWindows(input.path, out, input.pixelLength);
  const header = outputBytes === null ? null : await checkOutputHeader(out, input.pixelLength, input.frames);
  if (!opts.keep) {
    await removeIfThere(out);
    await removeIfThere(cpOut);
  }

  const wallMsAll = runs.map((r) => r.wallMs);
  const cpWallMsAll = cps.map((r) => r.wallMs);
  const wallMs = median(wallMsAll);
  const cpWallMs = median(cpWallMsAll);
  const medianRound = wallMsAll.indexOf([...wallMsAll].sort((a, b) => a - b)[(wallMsAll.length - 1) >> 1]);
  const peakRssKiB = maxOrNull(runs.map((r) => r.peakRssKiB));
  const peakRssMB = peakRssKiB === null ? null : (peakRssKiB * 1024) / MB;
  const verified = childOk && sizeOk && windows !== null && windows.equal === windows.checked &&
    header !== null && header.ok && cps.every((c) => c.success);
  const errors = [
    ...runs.filter((r) => !r.success).map((r) => `rewrite child exited with ${r.code}: ${r.stderr}`),
    ...cps.filter((c) => !c.success).map((c) => `cp exited with ${c.code}: ${c.stderr}`),
  ];
  return {
    input: input.path,
    frames: input.frames,
    inputBytes: input.size,
    outputBytes,
    sizeDelta,
    runs: runs.length,
    wallMs,
    wallMsAll,
    mbPerS: input.size / MB / (wallMs / 1000),
    peakRssMB,
    peakRssKiB,
    rssSource: last.rssSource,
    timeMaxRssKiB: maxOrNull(runs.map((r) => r.timeMaxRssKiB)),
    vmHwmKiB: maxOrNull(runs.map((r) => r.vmHwmKiB)),
    baselineRssKiB: baseline.peakRssKiB,
    child: children[medianRound] ?? null,
    cpWallMs,
    cpWallMsAll,
    ratioToCp: wallMs / cpWallMs,
    checks: { childOk, sizeOk, windows, header },
    targetPeakRssMB: TARGET_PEAK_RSS_MB,
    targetPass: childOk && peakRssMB !== null && peakRssMB < TARGET_PEAK_RSS_MB,
    verified,
    ...(errors.length ? { error: errors.join("\n") } : {}),
  };
}

/** Every regular file under `root`, sorted (symbolic links are not followed). */
export async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory) await walk(p);
      else if (e.isFile) out.push(p);
    }
  };
  await walk(root);
  return out.sort();
}

/** Everything `headerScan` found. */
export interface ScanResult {
  root: string;
  source: string;
  files: number;
  /** Timed passes over all files (one untimed warm-up pass is not counted). */
  passes: number;
  elapsedMs: number;
  filesPerS: number;
  /** Per pass: files read without error. */
  ok: number;
  /** Per pass: typed errors (`DicomError`) by code. */
  errors: Record<string, number>;
  /** Per pass: anything else thrown: an engine problem. */
  untyped: number;
  untypedSamples: string[];
  /** Every pass had the same outcome for every file. */
  stable: boolean;
}

type Outcome = "ok" | `error:${string}` | "untyped";

async function scanOnce(files: string[], samples: string[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const path of files) {
    try {
      await readDicomFile(path, { headerOnly: true });
      outcomes.push("ok");
    } catch (e) {
      if (e instanceof DicomError) outcomes.push(`error:${e.code}`);
      else {
        outcomes.push("untyped");
        if (samples.length < 5) {
          samples.push(`${path}: ${e instanceof Error ? `${e.name}: ${e.message}` : e}`);
        }
      }
    }
  }
  return outcomes;
}

/** Header-only reads of every file under `root`, repeated until at least `minMs` have passed. */
export async function headerScan(root: string, source: string, minMs = 1000): Promise<ScanResult> {
  const files = await listFiles(root);
  const samples: string[] = [];
  const first = await scanOnce(files, samples); // warm-up: JIT, page cache
  let passes = 0;
  let stable = true;
  const t0 = performance.now();
  let elapsed = 0;
  while (files.length > 0 && (elapsed < minMs || passes === 0)) {
    const again = await scanOnce(files, samples);
    passes++;
    stable &&= again.every((o, i) => o === first[i]);
    elapsed = performance.now() - t0;
  }
  const errors: Record<string, number> = {};
  for (const o of first) {
    if (o.startsWith("error:")) errors[o.slice(6)] = (errors[o.slice(6)] ?? 0) + 1;
  }
  return {
    root,
    source,
    files: files.length,
    passes,
    elapsedMs: elapsed,
    filesPerS: elapsed > 0 ? (files.length * passes) / (elapsed / 1000) : 0,
    ok: first.filter((o) => o === "ok").length,
    errors,
    untyped: first.filter((o) => o === "untyped").length,
    untypedSamples: samples,
    stable,
  };
}
