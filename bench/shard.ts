/**
 * The shard case of issue 18: the tree of small files (`small.ts`) run three ways with the basic
 * profile, in the same bench run on the same tree:
 *
 * - one `dcmtidy run --yes` (the reference);
 * - a split scan: `scan --shard K/4` for K = 1..4, then `run --yes --shard K/4` (which assemble the
 *   plan from the 4 parts), then `merge`;
 * - the shards as they were before the split scan: `run --yes --shard K/4` with no parts (each reads
 *   every header), then `merge`.
 *
 * It prints each command's wall, CPU and process-tree peak memory, the total CPU of each way against
 * the single run's, and whether the split scan's output tree, report.csv, files.csv and key file are
 * byte for byte the single run's. The commands run one after another on this machine: the wall
 * times are one machine's; on a cluster the shards of each step run at once.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CACHE_DIR } from "./synthetic.ts";
import { ensureSmallTree } from "./small.ts";
import { basicProtocol, deleteOutputs, settle, taskFlags } from "./tree.ts";
import { measureTree } from "./tree_rss.ts";

const REPO = fileURLToPath(new URL("../", import.meta.url));
/** The permissions of `deno task dcmtidy` (deno.json): the process narrows itself. */
const CLI_FLAGS = ["run", ...taskFlags(), join(REPO, "cli.ts")];
/** A fixed benchmark salt: only ever used on synthetic data. */
const SALT = "dcmtidy-bench-salt-not-secret-0123456789";

/** One measured command. */
export interface ShardStep {
  way: "single" | "split" | "repeated";
  label: string;
  wallMs: number;
  cpuS: number | null;
  treePssKiB: number | null;
  ok: boolean;
  detail: string;
}

/** What the shard case found. */
export interface ShardResults {
  files: number;
  shards: number;
  steps: ShardStep[];
  /** Total CPU seconds of each way. */
  cpu: { single: number | null; split: number | null; repeated: number | null };
  /** Whether the split scan's outputs are the single run's, byte for byte; what differs if not. */
  identical: boolean;
  differences: string[];
}

/** sha256 of every file under `dir` (the state folder left out), by relative path. */
async function hashes(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = join(d, e.name);
      if (e.isDirectory) {
        if (e.name !== ".dcmtidy") await walk(p);
      } else {out.set(
          p.slice(dir.length + 1),
          createHash("sha256").update(await Deno.readFile(p)).digest("hex"),
        );}
    }
  };
  await walk(dir);
  return out;
}

/** Run the shard case on `files` small files split into `shards`. */
export async function measureShard(
  opts: { files: number; shards?: number; keep: boolean; log: (line: string) => void },
): Promise<ShardResults> {
  const { log } = opts;
  const n = opts.shards ?? 4;
  const tree = await ensureSmallTree(opts.files, log);
  const out = join(CACHE_DIR, "shard-out");
  await deleteOutputs(out);
  await settle(log);
  await Deno.mkdir(out, { recursive: true });
  const key = join(out, "key.csv");
  const protocol = join(out, "shard.yaml");
  await Deno.writeTextFile(protocol, basicProtocol("bench-shard", tree.dir, join(out, "single"), key));
  const env = { DCMTIDY_SALT: SALT };
  const steps: ShardStep[] = [];
  const step = async (way: ShardStep["way"], label: string, args: string[]) => {
    log(`shard case: ${label}`);
    const m = await measureTree(Deno.execPath(), [...CLI_FLAGS, ...args], env);
    // 3: finished with quarantined files (none in this tree); anything else is a failure.
    const ok = m.success || /exit code 3/.test(m.stderr);
    steps.push({
      way,
      label,
      wallMs: m.wallMs,
      cpuS: m.cpuS,
      treePssKiB: m.treePssKiB,
      ok,
      detail: ok
        ? ""
        : m.stderr.trim().split("\n").filter((l) => !l.startsWith("Command exited")).slice(-1)[0] ?? "",
    });
  };
  await step("single", "run --yes", ["run", protocol, "--yes"]);
  const singleKey = await Deno.readTextFile(key).catch(() => "");
  await Deno.remove(key).catch(() => {});
  const split = ["--output", join(out, "split")];
  for (let k = 1; k <= n; k++) {
    await step("split", `scan --shard ${k}/${n}`, ["scan", ...split, "--shard", `${k}/${n}`, protocol]);
  }
  for (let k = 1; k <= n; k++) {
    await step("split", `run --yes --shard ${k}/${n} (from the parts)`, [
      "run",
      ...split,
      "--yes",
      "--shard",
      `${k}/${n}`,
      protocol,
    ]);
  }
  await step("split", "merge", ["merge", join(out, "split")]);
  const splitKey = await Deno.readTextFile(key).catch(() => "");
  await Deno.remove(key).catch(() => {});
  const repeated = ["--output", join(out, "repeated")];
  for (let k = 1; k <= n; k++) {
    await step("repeated", `run --yes --shard ${k}/${n} (every header)`, [
      "run",
      ...repeated,
      "--yes",
      "--shard",
      `${k}/${n}`,
      protocol,
    ]);
  }
  await step("repeated", "merge", ["merge", join(out, "repeated")]);

  const differences: string[] = [];
  const a = await hashes(join(out, "single"));
  const b = await hashes(join(out, "split"));
  if (a.size !== b.size) {
    differences.push(`${a.size} files in the single run's tree, ${b.size} in the split scan's`);
  }
  const differ = [...a].filter(([p, h]) => b.get(p) !== h).length;
  if (differ) differences.push(`${differ} files differ`);
  const state = (root: string, name: string) =>
    Deno.readTextFile(join(out, root, ".dcmtidy", name)).catch(() => "");
  if (await state("single", "files.csv") !== await state("split", "files.csv")) {
    differences.push("files.csv differs");
  }
  if (singleKey === "" || singleKey !== splitKey) differences.push("the key file differs");
  if (a.size < tree.files) differences.push(`the single run wrote ${a.size} of ${tree.files} files`);
  if (!opts.keep) await deleteOutputs(out);
  const total = (way: ShardStep["way"]) => {
    const mine = steps.filter((s) => s.way === way);
    return mine.every((s) => s.cpuS !== null) ? mine.reduce((t, s) => t + s.cpuS!, 0) : null;
  };
  return {
    files: tree.files,
    shards: n,
    steps,
    cpu: { single: total("single"), split: total("split"), repeated: total("repeated") },
    identical: differences.length === 0,
    differences,
  };
}

/** The shard case as a table, totals and the byte comparison. */
export function formatShard(r: ShardResults): string {
  const lines = [
    `shards: ${r.files} small files, ${r.shards} shards, basic profile, run one after another on this machine`,
    `${"step".padEnd(48)}${"wall s".padStart(8)}${"cpu s".padStart(8)}${"tree Pss".padStart(11)}  check`,
  ];
  for (const s of r.steps) {
    lines.push(
      `${`${s.way}: ${s.label}`.padEnd(48)}${(s.wallMs / 1000).toFixed(2).padStart(8)}${
        (s.cpuS?.toFixed(2) ?? "n/a").padStart(8)
      }${(s.treePssKiB === null ? "n/a" : `${((s.treePssKiB * 1024) / 1e6).toFixed(1)} MB`).padStart(11)}  ${
        s.ok ? "OK" : `FAIL ${s.detail}`
      }`,
    );
  }
  const ratio = (x: number | null) =>
    x === null || !r.cpu.single
      ? "n/a"
      : `${x.toFixed(1)} s, x${(x / r.cpu.single).toFixed(2)} the single run's`;
  lines.push(`total CPU: single run ${r.cpu.single?.toFixed(1) ?? "n/a"} s`);
  lines.push(`total CPU: split scan (${r.shards} scans + ${r.shards} runs + merge) ${ratio(r.cpu.split)}`);
  lines.push(
    `total CPU: shards that each read every header (${r.shards} runs + merge) ${ratio(r.cpu.repeated)}`,
  );
  lines.push(
    r.identical
      ? "PASS split scan output = single run: tree, files.csv and key file byte for byte"
      : `FAIL split scan output differs from the single run: ${r.differences.join("; ")}`,
  );
  return lines.join("\n");
}
