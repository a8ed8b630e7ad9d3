/** Sharding on the command line: `--shard K/N`, `--shard-from-env [--shards N]`, and `merge`. */
import { parseShard, type Shard, ShardError, shardFromEnv } from "../plan/mod.ts";
import { mergeShards } from "../run/mod.ts";
import { UsageError } from "./errors.ts";

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
    `merged ${s.shards} shards: ${s.scanned} files scanned, ${s.written} written, ${s.skipped} skipped, ` +
      `${s.quarantined} quarantined; report: ${s.report}`,
  );
  return s.quarantined > 0 ? 3 : 0;
}
