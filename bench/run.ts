/**
 * `deno task bench`: benchmarks of the DICOM engine. See bench/README.md.
 *
 * Exits 1 when the rewrite output fails verification or the peak RSS target is missed, 2 on a
 * bad command line.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { parseBenchArgs, USAGE } from "./args.ts";
import { headerScan, measureRewrite } from "./engine.ts";
import { type BenchResults, formatTable, machineInfo, RESULTS_FILE, writeResults } from "./report.ts";
import { hasGnuTime } from "./rss.ts";
import { CACHE_DIR, ensureSmallFiles, ensureSynthetic, framesForMiB } from "./synthetic.ts";

const CORPUS = fileURLToPath(new URL("../../shared/corpus/", import.meta.url));

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseBenchArgs(argv);
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  for (const flag of args.ignored) console.error(`bench: ignoring unknown argument ${flag}`);
  const log = (line: string) => console.error(`bench: ${line}`);

  const useTime = !args.noTime && await hasGnuTime();
  if (!useTime) log("peak RSS from /proc/self/status (VmHWM): /usr/bin/time -v not used");

  let scanRoot: { root: string; source: string } | undefined;
  if (args.files !== undefined) {
    if (!await isDir(args.files)) {
      console.error(`--files: ${args.files} is not a folder`);
      return 2;
    }
    scanRoot = { root: args.files, source: "--files" };
  } else if (await isDir(CORPUS)) {
    scanRoot = { root: CORPUS, source: "../shared/corpus" };
  }

  const machine = await machineInfo();
  const frames = framesForMiB(args.mb);
  const synthetic = await ensureSynthetic(frames, log);
  log(`rewriting ${synthetic.path}`);
  const rewrite = await measureRewrite(synthetic, {
    useTime,
    keep: args.keep,
    runs: args.runs,
    outDir: CACHE_DIR,
  });

  if (!scanRoot) {
    const small = await ensureSmallFiles(500);
    scanRoot = { root: small.dir, source: `${small.files} generated files, ${small.junk} of them junk` };
  }
  log(`header-only scan of ${scanRoot.root}`);
  const scan = await headerScan(scanRoot.root, scanRoot.source);

  const results: BenchResults = {
    machine,
    args: {
      mb: args.mb,
      files: args.files ?? null,
      keep: args.keep,
      runs: args.runs,
      noTime: args.noTime,
      useTime,
      ignored: args.ignored,
    },
    synthetic: {
      path: synthetic.path,
      frames: synthetic.frames,
      bytes: synthetic.size,
      generated: synthetic.generated,
      generateMs: synthetic.generateMs,
    },
    rewrite,
    scan,
  };
  console.log(formatTable(results));
  await writeResults(results);
  log(`results written to ${RESULTS_FILE}`);
  return rewrite.verified && rewrite.targetPass ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
