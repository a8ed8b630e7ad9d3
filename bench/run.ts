/**
 * `deno task bench`: the performance benchmarks of issue 6. See bench/README.md.
 *
 * Exits 0 when every output verifies and every target measured holds, 1 otherwise, 2 on a bad
 * command line.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseBenchArgs, USAGE } from "./args.ts";
import { type BlankResults, measureBlank } from "./blank.ts";
import { type CodecResults, measureCodecs } from "./codecs.ts";
import { ensureDump } from "./dump.ts";
import { headerScan, measureRewrite, type RewriteResult, type ScanResult } from "./engine.ts";
import {
  type BenchResults,
  formatTable,
  loadAvg,
  machineInfo,
  RESULTS_FILE,
  writeResults,
} from "./report.ts";
import { hasGnuTime } from "./rss.ts";
import { formatSmall, measureSmall, type SmallResults } from "./small.ts";
import { formatShard, measureShard, type ShardResults } from "./shard.ts";
import {
  CACHE_DIR,
  ensureSmallFiles,
  ensureSynthetic,
  framesForMiB,
  type SyntheticFile,
} from "./synthetic.ts";
import { measureTree, type TreeResults } from "./tree.ts";

const CORPUS = fileURLToPath(new URL("../../shared/corpus/", import.meta.url));

function isDirSync(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseBenchArgs(argv, isDirSync);
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
  for (const n of args.notes) log(n);
  const has = (p: (typeof args.only)[number]) => args.only.includes(p);

  let scanRoot: { root: string; source: string } | undefined;
  if (args.scan !== undefined) {
    if (!isDirSync(args.scan)) {
      console.error(`--scan: ${args.scan} is not a folder`);
      return 2;
    }
    scanRoot = { root: args.scan, source: "--scan" };
  } else if (isDirSync(CORPUS)) {
    scanRoot = { root: CORPUS, source: "../shared/corpus" };
  }

  const useTime = !args.noTime && await hasGnuTime();
  if (!useTime) log("peak RSS from /proc/self/status (VmHWM): /usr/bin/time -v not used");
  const machine = await machineInfo();

  let synthetic: SyntheticFile | undefined;
  if (has("multiframe") || has("engine")) {
    synthetic = await ensureSynthetic(framesForMiB(args.mb), log);
  }
  let tree: TreeResults | null = null;
  if (has("tree") || has("peers") || has("multiframe")) {
    const dump = await ensureDump(args.files, log);
    tree = await measureTree(dump, {
      useTime,
      keep: args.keep,
      runs: args.runs,
      workDir: join(CACHE_DIR, "tree"),
      tree: has("tree"),
      peers: has("peers"),
      multiframe: has("multiframe") ? synthetic : undefined,
      log,
    });
  }
  let rewrite: RewriteResult | null = null;
  if (has("engine")) {
    log(`engine-only rewrite of ${synthetic!.path}`);
    rewrite = await measureRewrite(synthetic!, {
      useTime,
      keep: args.keep,
      runs: args.runs,
      outDir: CACHE_DIR,
    });
  }
  let scan: ScanResult | null = null;
  if (has("scan")) {
    if (!scanRoot) {
      const small = await ensureSmallFiles(500);
      scanRoot = { root: small.dir, source: `${small.files} generated files, ${small.junk} of them junk` };
    }
    log(`header-only scan of ${scanRoot.root}`);
    scan = await headerScan(scanRoot.root, scanRoot.source);
  }
  let codecs: CodecResults | null = null;
  if (has("codecs")) {
    codecs = await measureCodecs({
      ct: args.codecCt,
      us: args.codecUs,
      runs: args.codecRuns,
      corpus: isDirSync(CORPUS) ? CORPUS : undefined,
      log,
    });
  }
  let blank: BlankResults | null = null;
  if (has("blank")) {
    blank = await measureBlank({
      us: Math.max(1, args.codecUs),
      ocrFrames: args.ocrFrames,
      runs: args.runs,
      log,
    });
  }
  let small: SmallResults | null = null;
  if (has("small")) {
    if (!useTime) log("small: needs /usr/bin/time -v (Debian package time); skipped");
    else small = await measureSmall({ files: args.small, keep: args.keep, log });
  }
  machine.loadAvgEnd = loadAvg();

  let shard: ShardResults | null = null;
  if (has("shard")) {
    if (!useTime) log("shard: needs /usr/bin/time -v (Debian package time) for CPU seconds; skipped");
    else shard = await measureShard({ files: args.small, keep: args.keep, log });
  }
  const results: BenchResults = {
    machine,
    args: { ...args, useTime },
    synthetic: synthetic
      ? {
        path: synthetic.path,
        frames: synthetic.frames,
        bytes: synthetic.size,
        generated: synthetic.generated,
        generateMs: synthetic.generateMs,
      }
      : null,
    tree,
    rewrite,
    scan,
    codecs,
    blank,
    small,
    shard,
  };
  console.log(formatTable(results));
  if (small) console.log(`\n${formatSmall(small)}`);
  if (shard) console.log(`\n${formatShard(shard)}`);
  await writeResults(results);
  log(`results written to ${RESULTS_FILE}`);
  const stepsOk = (tree?.steps ?? []).every((s) => s.skipped || s.ok);
  const targetsOk = (tree?.targets ?? []).every((t) => t.pass !== false);
  const engineOk = !rewrite || (rewrite.verified && rewrite.targetPass);
  const codecsOk = [...(codecs?.rows ?? []), ...(codecs?.corpus ?? [])].every((r) => r.ok);
  const blankOk = !blank ||
    [...blank.blank, ...blank.run, ...(blank.ocr ? [blank.ocr] : [])].every((r) => r.ok);
  const smallOk = !small || (small.steps.every((s) => s.ok) && small.targets.every((t) => t.pass !== false));
  const shardOk = !shard || (shard.identical && shard.steps.every((s) => s.ok));
  return stepsOk && targetsOk && engineOk && codecsOk && blankOk && smallOk && shardOk ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
