/**
 * Command-line flags of `deno task bench`. Unknown flags are reported and ignored, so a command
 * line written for a later version of the benchmark still runs this one.
 *
 * @module
 */
import { parseArgs } from "node:util";

/** The parts of the benchmark, in the order they run; `--only` picks some of them. */
export const PARTS = [
  "tree",
  "peers",
  "multiframe",
  "engine",
  "scan",
  "codecs",
  "blank",
  "small",
  "shard",
] as const;
export type Part = (typeof PARTS)[number];

/** The parsed flags. */
export interface BenchArgs {
  /** Files in the synthetic raw dump (default 2,000: about 900 MB). */
  files: number;
  /** Size of the synthetic multi-frame file's Pixel Data in MiB (default 1024: 2048 frames of 512 x 512 x 16 bits). */
  mb: number;
  /** Folder for the header-only scan instead of ../shared/corpus or the generated small files. */
  scan?: string;
  /** Keep the outputs in bench/cache/ instead of deleting them. */
  keep: boolean;
  /** Rounds of every timed step; medians of times are reported, the highest peak RSS. */
  runs: number;
  /** The parts to run (all by default). */
  only: Part[];
  /** Codec case: CT files (512 x 512 x 16 bits, 0.52 MB of pixels each; default 100). */
  codecCt: number;
  /** Codec case: ultrasound files (30 frames of 640 x 480 RGB, 27.6 MB of pixels each; default 2). */
  codecUs: number;
  /** Blank case: frames given to OCR (default 20; `--quick` 3). */
  ocrFrames: number;
  /** Small-file case: files in the tree (default 30,000; `--quick` 3,000). */
  small: number;
  /** Codec case rounds: `--runs` when given, else 1 (one round takes about 2 minutes). */
  codecRuns: number;
  /** Do not use /usr/bin/time even when present: measure peak RSS from /proc/self/status. */
  noTime: boolean;
  help: boolean;
  /** Flags and arguments this version does not know, ignored with a warning. */
  ignored: string[];
  /** Notes on flags taken in an older sense (`--files DIR`). */
  notes: string[];
}

export const USAGE =
  `deno task bench [--files N] [--mb N] [--keep] [--quick] [--only PARTS] [--scan DIR] [--runs N] [--no-time]
                 [--codec-ct N] [--codec-us N] [--ocr-frames N] [--small N]

  --files N    files in the synthetic raw dump (default 2000, about 900 MB; cached in bench/cache/)
  --mb N       Pixel Data of the synthetic multi-frame file in MiB (default 1024 = 1 GiB, 2048 frames)
  --keep       keep every output tree and file in bench/cache/ (deleted otherwise)
  --quick      --files 200 --mb 64 --runs 1 --codec-ct 16 --codec-us 1 --ocr-frames 3 --small 3000
  --only LIST  run only these parts, comma-separated: ${PARTS.join(", ")}
  --scan DIR   folder for the header-only scan (default ../shared/corpus, else 500 generated files)
  --runs N     rounds of every timed step: medians of times, highest peak RSS (default 3; codecs: 1)
  --codec-ct N codecs part: synthetic CT files, 512x512x16 bits (default 100, 52 MB of pixels)
  --codec-us N codecs and blank parts: synthetic US files, 30 frames 640x480 RGB (default 2, 55 MB of pixels)
  --ocr-frames N  blank part: 640x480 frames given to OCR (default 20)
  --small N    small and shard parts: files in the tree of small files (default 30000; --quick 3000)
  --no-time    measure peak RSS from /proc/self/status even when /usr/bin/time is there
  --help       this text

--files DIR (a folder, as in earlier versions) is still read as --scan DIR.
Results: a table on stdout and bench/results/latest.json.`;

const KNOWN = new Set([
  "mb",
  "files",
  "keep",
  "quick",
  "only",
  "scan",
  "runs",
  "no-time",
  "codec-ct",
  "codec-us",
  "ocr-frames",
  "small",
  "help",
  "h",
]);

function wholeNumber(flag: string, value: unknown, min: number, max: number): number {
  const n = Number(value);
  if (typeof value !== "string" || !Number.isInteger(n) || n < min || n > max) {
    throw new Error(`--${flag} needs a whole number from ${min} to ${max}, not ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * Parse the command line; throws an Error with a message for values that are wrong. `isDir` tells
 * a folder given to `--files` (the old meaning) from a mistyped count.
 */
export function parseBenchArgs(argv: string[], isDir: (path: string) => boolean = () => false): BenchArgs {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      mb: { type: "string" },
      files: { type: "string" },
      keep: { type: "boolean", default: false },
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      scan: { type: "string" },
      runs: { type: "string" },
      "no-time": { type: "boolean", default: false },
      "codec-ct": { type: "string" },
      "codec-us": { type: "string" },
      "ocr-frames": { type: "string" },
      small: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: false,
    allowPositionals: true,
  });
  const ignored: string[] = [];
  const notes: string[] = [];
  for (const [k, v] of Object.entries(values)) {
    if (!KNOWN.has(k)) ignored.push(typeof v === "string" ? `--${k}=${v}` : `--${k}`);
  }
  ignored.push(...positionals);

  const quick = values.quick === true;
  let mb = quick ? 64 : 1024;
  if (values.mb !== undefined) {
    mb = Number(values.mb);
    if (typeof values.mb !== "string" || !Number.isFinite(mb) || mb <= 0 || mb > 4095) {
      throw new Error(`--mb needs a positive number of MiB up to 4095, not ${JSON.stringify(values.mb)}`);
    }
  }
  const runs = values.runs !== undefined ? wholeNumber("runs", values.runs, 1, 100) : quick ? 1 : 3;
  let files = quick ? 200 : 2000;
  let scan = typeof values.scan === "string" ? values.scan : undefined;
  if (values.scan !== undefined && typeof values.scan !== "string") throw new Error("--scan needs a folder");
  if (values.files !== undefined) {
    if (typeof values.files === "string" && !/^\d+$/.test(values.files) && isDir(values.files)) {
      scan ??= values.files;
      notes.push(
        `--files ${values.files}: a folder, read as --scan ${values.files} (--files now counts files)`,
      );
    } else {
      files = wholeNumber("files", values.files, 1, 1_000_000);
    }
  }
  let only: Part[] = [...PARTS];
  if (values.only !== undefined) {
    if (typeof values.only !== "string") throw new Error(`--only needs a list of: ${PARTS.join(", ")}`);
    const names = values.only.split(",").map((s) => s.trim()).filter(Boolean);
    const bad = names.filter((n) => !(PARTS as readonly string[]).includes(n));
    if (bad.length || !names.length) {
      throw new Error(`--only takes a comma-separated list of: ${PARTS.join(", ")} (not ${bad.join(", ")})`);
    }
    only = PARTS.filter((p) => names.includes(p));
  }
  return {
    files,
    mb,
    scan,
    keep: values.keep === true,
    runs,
    only,
    codecCt: values["codec-ct"] !== undefined
      ? wholeNumber("codec-ct", values["codec-ct"], 0, 10_000)
      : quick
      ? 16
      : 100,
    codecUs: values["codec-us"] !== undefined
      ? wholeNumber("codec-us", values["codec-us"], 0, 100)
      : quick
      ? 1
      : 2,
    ocrFrames: values["ocr-frames"] !== undefined
      ? wholeNumber("ocr-frames", values["ocr-frames"], 0, 10_000)
      : quick
      ? 3
      : 20,
    small: values.small !== undefined
      ? wholeNumber("small", values.small, 100, 1_000_000)
      : quick
      ? 3000
      : 30_000,
    codecRuns: values.runs !== undefined ? runs : 1,
    noTime: values["no-time"] === true,
    help: values.help === true,
    ignored,
    notes,
  };
}
