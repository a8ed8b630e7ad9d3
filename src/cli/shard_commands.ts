/**
 * Sharding on the command line: `--shard K/N`, `--shard-from-env [--shards N]`, the split scan
 * (`scan --shard K/N`, whose parts `run --shard` assembles), and `merge`.
 */
import { join } from "node:path";
import { Keys } from "../deid/keys.ts";
import { readSalt } from "../deid/salt.ts";
import {
  parseShard,
  scanOrigin,
  scanPartCounts,
  scanPartName,
  ScanPartWriter,
  type Shard,
  ShardError,
  shardFromEnv,
  shareIndices,
  surveyShare,
} from "../plan/mod.ts";
import { type LoadOptions, loadProtocol } from "../protocol/load.ts";
import { walkInputs } from "../scan/inputs.ts";
import { ensureStateDir, mergeShards, prepareOutputRoot, scanPartsPath } from "../run/mod.ts";
import { ensurePrivateDir } from "../util/atomic.ts";
import { UsageError } from "./errors.ts";
import { checkInputRoots } from "./input_roots.ts";
import { stderrProgress } from "./progress.ts";

/** The sharding flags of `plan` and `run`. */
export interface ShardFlags {
  shard?: string;
  shardFromEnv?: boolean;
  shards?: number;
}

/** The shard the flags name, if any. Conflicting or malformed flags are usage errors. */
export function shardFromFlags(
  flags: ShardFlags,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): Shard | undefined {
  try {
    if (flags.shard !== undefined && flags.shardFromEnv) {
      throw new ShardError("give --shard K/N or --shard-from-env, not both");
    }
    if (flags.shard !== undefined) {
      if (flags.shards !== undefined) {
        throw new ShardError("--shards goes with --shard-from-env; --shard K/N has N");
      }
      return parseShard(flags.shard);
    }
    if (flags.shardFromEnv) return shardFromEnv(env, flags.shards);
    if (flags.shards !== undefined) throw new ShardError("--shards N needs --shard-from-env");
    return undefined;
  } catch (e) {
    if (e instanceof ShardError) throw new UsageError(e.message);
    throw e;
  }
}

/** `dcmtidy merge OUTPUT`: combine the shards' parts into the reports of a single run. */
export async function mergeCommand(output: string): Promise<number> {
  const s = await mergeShards(output);
  console.log(
    `merged ${s.shards} shard${
      s.shards === 1 ? "" : "s"
    }: ${s.scanned} files scanned, ${s.written} written, ${s.skipped} skipped, ` +
      `${s.quarantined} quarantined; report: ${s.report}`,
  );
  return s.quarantined > 0 ? 3 : 0;
}

/** Options of `dcmtidy scan`. */
export interface ScanCommandOptions extends LoadOptions, ShardFlags {
  jobs?: number;
}

/**
 * `dcmtidy scan PROTOCOL --shard K/N`: survey only shard K's share of the input files (by path) and
 * leave the part in `<output>/.dcmtidy/scan/`; `run --shard` assembles the whole plan from the N parts.
 * Parts of another shard count are removed (a new scan makes them stale).
 */
export async function scanCommand(file: string, opts: ScanCommandOptions): Promise<number> {
  const shard = shardFromFlags(opts);
  if (!shard) {
    // No silent default: a scan of another count removes the parts already made.
    throw new UsageError("scan needs --shard K/N or --shard-from-env (--shard 1/1 for a single part)");
  }
  const protocol = await loadProtocol(file, opts);
  await checkInputRoots(protocol);
  const root = protocol.output.root;
  await prepareOutputRoot(root);
  await ensureStateDir(root);
  const folder = scanPartsPath(root);
  await ensurePrivateDir(folder);
  const salt = protocol.deidentify ? await readSalt(protocol) : undefined;
  const keys = salt ? new Keys(salt) : undefined;
  const listed = await walkInputs(protocol.input);
  const indices = shareIndices(listed, protocol.input.roots, shard);
  const part = await ScanPartWriter.open(
    folder,
    shard,
    scanOrigin(protocol, listed, keys),
    indices.length,
    keys,
  );
  const bar = stderrProgress(`scanning share ${shard.k}/${shard.n}`, indices.length);
  let dicom = 0;
  try {
    await surveyShare(
      protocol,
      keys,
      listed,
      indices,
      (chunk, surveys) => {
        dicom += surveys.filter((s) => s.scanned.kind === "dicom").length;
        return part.add(listed, chunk, surveys);
      },
      (done) => bar.update(done),
      { workers: opts.jobs ?? navigator.hardwareConcurrency ?? 2, salt },
    );
  } catch (e) {
    await part.abort();
    throw e;
  } finally {
    bar.finish();
  }
  const path = await part.finish();
  for (const n of await scanPartCounts(folder)) {
    if (n === shard.n) continue;
    let removed = 0;
    for (let k = 1; k <= n; k++) {
      await Deno.remove(join(folder, scanPartName({ k, n }))).then(() => removed++, () => {});
    }
    console.log(
      `note: removed ${removed} stale scan part${removed === 1 ? "" : "s"} of a scan in ${n} shard${
        n === 1 ? "" : "s"
      }`,
    );
  }
  const roots = [opts.input ? ` --input ${opts.input}` : "", opts.output ? ` --output ${opts.output}` : ""]
    .join("");
  console.log(
    `scan ${shard.k}/${shard.n}: ${indices.length} of the ${listed.length} files (${dicom} DICOM); part: ` +
      `${path}; when every part is there: dcmtidy run --yes --shard K/N${roots} ${file}`,
  );
  return 0;
}
