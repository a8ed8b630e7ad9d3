/**
 * The codec case (issue 14, item 4): decode and encode MB/s per transfer syntax, ours beside
 * dcmtk's `dcmdjpeg` / `dcmdjpls` / `dcmdrle` (and `dcmcjpls` / `dcmcrle` for encoding) and gdcm's
 * `gdcmconv`, on the same files in the same run. See bench/README.md, "The codec case".
 *
 * Ours: one child process per row (`codec_child.ts`) transcodes all the row's files, as
 * `dcmtidy modify --transfer-syntax` does; its wall time includes Deno's start-up. The peers take
 * one input file per command, so they run once per file, one after another; their wall time is the
 * sum of those, process starts included. Every row's tools run in the same round, rounds repeat.
 *
 * @module
 */
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ChildReport } from "./codec_child.ts";
import { corpusJobsOf } from "./codec_corpus.ts";
import { dirsFor, maxDiff, timing } from "./codec_util.ts";
import { type CodecData, ensureCodecData } from "./codec_data.ts";

const CHILD = fileURLToPath(new URL("./codec_child.ts", import.meta.url));
const EXPLICIT_LE = "1.2.840.10008.1.2.1";
const ENCODE_TARGETS = [
  { name: "jpeg-ls-lossless", uid: "1.2.840.10008.1.2.4.80", dcmtk: "dcmcjpls", gdcm: "--jpegls" },
  { name: "htj2k-lossless", uid: "1.2.840.10008.1.2.4.201", dcmtk: undefined, gdcm: undefined },
  { name: "rle-lossless", uid: "1.2.840.10008.1.2.5", dcmtk: "dcmcrle", gdcm: "--rle" },
] as const;

/** One tool on one row: median wall time over the rounds, or why it has none. */
export interface ToolTiming {
  tool: string;
  wallMs: number | null;
  allMs: number[];
  mbPerS: number | null;
  /** Ours only: the child's own time (after start-up), median. */
  inProcessMs?: number;
  /** No timing: the tool is missing or failed on every file. */
  error?: string;
  /** Timed, but some files failed (the first message). */
  failed?: string;
}

/** One line of a table. */
export interface CodecRow {
  label: string;
  direction: "decode" | "encode";
  files: number;
  /** Bytes of the compressed files (decode: the input; encode: our output). */
  storedBytes: number;
  pixelBytes: number;
  ours: ToolTiming;
  dcmtk: ToolTiming | null;
  gdcm: ToolTiming | null;
  ok: boolean;
  check: string;
}

/** Everything the codec case measured. */
export interface CodecResults {
  runs: number;
  ctFiles: number;
  usFiles: number;
  generated: boolean;
  generateMs: number;
  missing: string[];
  rows: CodecRow[];
  /** The compressed files of ../shared/corpus, one row per transfer syntax. */
  corpus: CodecRow[];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2 : NaN;
};

async function runChild(to: string, outDir: string, inputs: string[], tmp: string) {
  const list = join(tmp, "list.txt");
  await Deno.writeTextFile(list, inputs.join("\n") + "\n");
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, to, outDir, list],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const wallMs = performance.now() - t0;
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success || !text) {
    return { wallMs, error: new TextDecoder().decode(out.stderr).trim().split("\n").pop() ?? "failed" };
  }
  return { wallMs, report: JSON.parse(text.split("\n").pop()!) as ChildReport };
}

/** Run `cmd` once per input, one after another; the summed wall time or the first failure. */
async function runPerFile(
  cmd: string,
  args: (input: string, output: string) => string[],
  inputs: string[],
  outDir: string,
): Promise<{ wallMs: number; error?: string; failed: number }> {
  let failed = 0;
  let error: string | undefined;
  const t0 = performance.now();
  for (const input of inputs) {
    const output = join(outDir, basename(input));
    try {
      const r = await new Deno.Command(cmd, {
        args: args(input, output),
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      })
        .output();
      const msg = new TextDecoder().decode(r.stderr).trim();
      // gdcmconv exits 0 after some failures, sometimes with an output file of garbage (12-bit JPEG:
      // "Unsupported JPEG data precision 12"): any message means it failed.
      if (!r.success || (cmd === "gdcmconv" && msg)) {
        failed++;
        error ??= `${basename(input)}: ${msg.split("\n")[0] || `exit ${r.code}`}`;
      }
    } catch (e) {
      return {
        wallMs: 0,
        failed: inputs.length,
        error: e instanceof Deno.errors.NotFound ? "not installed" : String(e),
      };
    }
  }
  return { wallMs: performance.now() - t0, error, failed };
}

/** One row's work: what each tool runs, where outputs go, how they are checked. */
export interface Job {
  row: CodecRow;
  inputs: string[];
  to: string;
  dcmtk?: [string, (i: string, o: string) => string[]];
  gdcm?: (i: string, o: string) => string[];
  dirs: { ours: string; dcmtk: string; gdcm: string };
  /** A corpus row: files we fail on are a FAIL only when a peer decodes them (see its check). */
  corpus?: boolean;
  /** Output checks after the rounds; fills row.ok and row.check. */
  verify: () => Promise<void>;
}

async function runJobs(
  what: string,
  jobs: Job[],
  runs: number,
  tmp: string,
  log: (l: string) => void,
): Promise<void> {
  const inProc = new Map<Job, number[]>();
  for (let round = 1; round <= runs; round++) {
    log(`codecs: ${what}, round ${round} of ${runs}`);
    for (const job of jobs) {
      const { row } = job;
      const n = job.inputs.length;
      const r = await runChild(job.to, job.dirs.ours, job.inputs, tmp);
      const errs = r.report?.errors ?? [];
      if (r.error || errs.length === n) row.ours.error = r.error ?? `${n} of ${n} failed: ${errs[0]}`;
      else {
        row.ours.allMs.push(r.wallMs);
        inProc.set(job, [...(inProc.get(job) ?? []), r.report!.ms]);
        if (errs.length) row.ours.failed = `${errs.length} of ${n} failed: ${errs[0]}`;
      }
      for (
        const [t, cmd, args, dir] of [
          [row.dcmtk, job.dcmtk?.[0], job.dcmtk?.[1], job.dirs.dcmtk],
          [row.gdcm, "gdcmconv", job.gdcm, job.dirs.gdcm],
        ] as const
      ) {
        if (!t || !cmd || !args || t.error) continue;
        const d = await runPerFile(cmd, args, job.inputs, dir);
        if (d.failed === n) t.error = `${n} of ${n} failed: ${d.error}`;
        else {
          t.allMs.push(d.wallMs);
          if (d.failed) t.failed = `${d.failed} of ${n} failed: ${d.error}`;
        }
      }
    }
  }
  for (const job of jobs) {
    const { row } = job;
    for (const t of [row.ours, row.dcmtk, row.gdcm]) {
      if (!t || t.error || !t.allMs.length) continue;
      t.wallMs = median(t.allMs);
      t.mbPerS = row.pixelBytes / 1e6 / (t.wallMs / 1000);
    }
    if (!job.corpus && (row.ours.error || row.ours.failed)) row.ok = false;
    const ms = inProc.get(job);
    if (ms?.length && !row.ours.error) row.ours.inProcessMs = median(ms);
    await job.verify().catch((e) => {
      row.ok = false;
      row.check = `check failed: ${(e as Error).message}`;
    });
  }
}

/**
 * Build (or reuse) the codec data set for `ct` CT files and `us` ultrasound files, then time
 * every decode and encode row `runs` times; `corpus` adds the compressed files of that folder.
 */
export async function measureCodecs(opts: {
  ct: number;
  us: number;
  runs: number;
  corpus?: string;
  log: (line: string) => void;
}): Promise<CodecResults> {
  const tmp = await Deno.makeTempDir({ prefix: "dcmtidy-codecs-" });
  try {
    const data = await ensureCodecData(opts.ct, opts.us, async (syntax, inputs, out) => {
      const r = await runChild(syntax, out, inputs, tmp);
      return r.error ?? (r.report!.errors.length ? r.report!.errors[0] : null);
    }, opts.log);
    const jobs = [...await decodeJobs(data, tmp), ...await encodeJobs(data, tmp)];
    await runJobs("synthetic data", jobs, opts.runs, tmp, opts.log);
    const corpusJobs = opts.corpus ? await corpusJobsOf(opts.corpus, tmp) : [];
    if (corpusJobs.length) await runJobs("corpus", corpusJobs, opts.runs, tmp, opts.log);
    return {
      runs: opts.runs,
      ctFiles: opts.ct,
      usFiles: opts.us,
      generated: data.generated,
      generateMs: data.generateMs,
      missing: data.missing,
      rows: jobs.map((j) => j.row),
      corpus: corpusJobs.map((j) => j.row),
    };
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

async function decodeJobs(data: CodecData, tmp: string): Promise<Job[]> {
  const jobs: Job[] = [];
  for (const set of data.sets) {
    const dirs = await dirsFor(tmp, `decode-${jobs.length}`);
    const originals = set.kind === "ct" ? data.ctFiles : data.usFiles;
    const row: CodecRow = {
      label: set.label,
      direction: "decode",
      files: set.files.length,
      storedBytes: set.bytes,
      pixelBytes: set.kind === "ct" ? data.ctPixelBytes : data.usPixelBytes,
      ours: timing("dcmtidy"),
      dcmtk: set.dcmtk ? timing(set.dcmtk) : null,
      gdcm: timing("gdcmconv --raw"),
      ok: true,
      check: "",
    };
    const first = basename(set.files[0]);
    jobs.push({
      row,
      inputs: set.files,
      to: EXPLICIT_LE,
      dcmtk: set.dcmtk ? [set.dcmtk, (i, o) => [i, o]] : undefined,
      gdcm: (i, o) => ["--raw", "--quiet", "-i", i, "-o", o],
      dirs,
      verify: async () => {
        const notes: string[] = [];
        const ours = join(dirs.ours, first);
        if (set.lossless) {
          const d = await maxDiff(ours, originals[0]);
          row.ok &&= d === 0;
          notes.push(d === 0 ? `${first} equals the original` : `${first} differs from the original by ${d}`);
        } else notes.push(`${first}: max |ours - original| ${await maxDiff(ours, originals[0])}`);
        if (row.dcmtk?.wallMs) notes.push(`vs ${set.dcmtk} ${await maxDiff(ours, join(dirs.dcmtk, first))}`);
        row.check = notes.join("; ");
      },
    });
  }
  return jobs;
}

async function encodeJobs(data: CodecData, tmp: string): Promise<Job[]> {
  const jobs: Job[] = [];
  for (
    const [kind, inputs, pixelBytes] of [["CT", data.ctFiles, data.ctPixelBytes], [
      "US",
      data.usFiles,
      data.usPixelBytes,
    ]] as const
  ) {
    if (!inputs.length) continue;
    for (const t of ENCODE_TARGETS) {
      const dirs = await dirsFor(tmp, `encode-${kind}-${t.name}`);
      const row: CodecRow = {
        label: `${t.name} ${kind}`,
        direction: "encode",
        files: inputs.length,
        storedBytes: 0,
        pixelBytes,
        ours: timing("dcmtidy"),
        dcmtk: t.dcmtk ? timing(t.dcmtk) : null,
        gdcm: t.gdcm ? timing(`gdcmconv ${t.gdcm}`) : null,
        ok: true,
        check: "",
      };
      const first = basename(inputs[0]);
      jobs.push({
        row,
        inputs,
        to: t.uid,
        dcmtk: t.dcmtk ? [t.dcmtk, (i, o) => [i, o]] : undefined,
        gdcm: t.gdcm ? (i, o) => [t.gdcm!, "--quiet", "-i", i, "-o", o] : undefined,
        dirs,
        verify: async () => {
          const outs = inputs.map((i) => join(dirs.ours, basename(i)));
          row.storedBytes = 0;
          for (const o of outs) row.storedBytes += (await Deno.stat(o)).size;
          const d = await maxDiff(outs[0], inputs[0]);
          row.ok &&= d === 0;
          row.check = d === 0 ? `${first} decodes to the original` : `${first} differs by ${d}`;
        },
      });
    }
  }
  return jobs;
}
