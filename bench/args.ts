/**
 * Command-line flags of `deno task bench`. Unknown flags are reported and ignored, so a command
 * line written for a later version of the benchmark still runs this one.
 *
 * @module
 */
import { parseArgs } from "node:util";

/** The parsed flags. */
export interface BenchArgs {
  /** Size of the synthetic file's Pixel Data in MiB (default 1024: 2048 frames of 512 x 512 x 16 bits). */
  mb: number;
  /** Folder for the header-only scan instead of ../shared/corpus or the generated small files. */
  files?: string;
  /** Keep the rewritten and copied outputs in bench/cache/ instead of deleting them. */
  keep: boolean;
  /** Rounds of (rewrite, cp); medians are reported. */
  runs: number;
  /** Do not use /usr/bin/time even when present: measure peak RSS from /proc/self/status. */
  noTime: boolean;
  help: boolean;
  /** Flags and arguments this version does not know, ignored with a warning. */
  ignored: string[];
}

export const USAGE = `deno task bench [--mb N] [--files DIR] [--keep] [--runs N] [--no-time]

  --mb N       Pixel Data of the synthetic file in MiB (default 1024 = 1 GiB, 2048 frames)
  --files DIR  folder to scan header-only (default ../shared/corpus, else 500 generated files)
  --keep       keep the rewrite and cp outputs in bench/cache/
  --runs N     rounds of (rewrite, cp) to take medians over (default 3)
  --no-time    measure peak RSS from /proc/self/status even when /usr/bin/time is there
  --help       this text

Results: a table on stdout and bench/results/latest.json.`;

const KNOWN = new Set(["mb", "files", "keep", "runs", "no-time", "help", "h"]);

/** Parse the command line; throws an Error with a message for values that are wrong. */
export function parseBenchArgs(argv: string[]): BenchArgs {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      mb: { type: "string" },
      files: { type: "string" },
      keep: { type: "boolean", default: false },
      runs: { type: "string" },
      "no-time": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: false,
    allowPositionals: true,
  });
  const ignored: string[] = [];
  for (const [k, v] of Object.entries(values)) {
    if (!KNOWN.has(k)) ignored.push(typeof v === "string" ? `--${k}=${v}` : `--${k}`);
  }
  ignored.push(...positionals);

  let mb = 1024;
  if (values.mb !== undefined) {
    mb = Number(values.mb);
    if (typeof values.mb !== "string" || !Number.isFinite(mb) || mb <= 0 || mb > 4095) {
      throw new Error(`--mb needs a positive number of MiB up to 4095, not ${JSON.stringify(values.mb)}`);
    }
  }
  let runs = 3;
  if (values.runs !== undefined) {
    runs = Number(values.runs);
    if (typeof values.runs !== "string" || !Number.isInteger(runs) || runs < 1 || runs > 100) {
      throw new Error(`--runs needs a whole number from 1 to 100, not ${JSON.stringify(values.runs)}`);
    }
  }
  if (values.files !== undefined && typeof values.files !== "string") {
    throw new Error("--files needs a folder");
  }
  return {
    mb,
    files: values.files as string | undefined,
    keep: values.keep === true,
    runs,
    noTime: values["no-time"] === true,
    help: values.help === true,
    ignored,
  };
}
