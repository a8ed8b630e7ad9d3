/**
 * Scale-out: one protocol run as 4 shards (separate processes, two at the same time, one killed
 * and run again) into one output root, then merged, gives the single run's tree, report, file
 * list and key file byte for byte. `merge` refuses missing, unfinished and mismatched shards.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { buildDump, protocolText } from "./fixtures/shard_dump.ts";
import { killCliWhen, runCli, treeHashes } from "./helpers.ts";
import { parseShard, shardFiles, shardFromEnv, shardOf } from "../src/plan/shard.ts";
import type { ScannedFile } from "../src/scan/scan.ts";

const SALT = "shard-test-salt-0123456789";
const ENV = { DCMTIDY_SALT: SALT };

Deno.test("shards: 4 shards (two at once, one killed and rerun) + merge = the single run, byte for byte", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-shard-" }));
  try {
    const scanned = await buildDump(`${dir}/raw`);
    const protocol = `${dir}/study.yaml`;
    await Deno.writeTextFile(protocol, protocolText("sharded"));

    const single = await runCli(["run", "--yes", protocol], ENV);
    assert.equal(single.code, 3, single.stdout + single.stderr); // the cut file is quarantined
    const singleKey = await Deno.readTextFile(`${dir}/key.csv`);
    await Deno.remove(`${dir}/key.csv`);

    const shardRun = (k: number, extra: string[] = []) =>
      runCli([
        "run",
        "--yes",
        "--jobs",
        "1",
        "--output",
        `${dir}/sharded`,
        "--shard",
        `${k}/4`,
        ...extra,
        protocol,
      ], ENV);
    const [one, two] = await Promise.all([shardRun(1), shardRun(2)]);
    for (const r of [one, two]) assert.ok(r.code === 0 || r.code === 3, r.stdout + r.stderr);
    assert.match(one.stdout, /shard 1\/4: \d+ of the \d+ files/);
    assert.equal((await shardRun(3)).code !== 1, true);

    // Shard 4 is killed once it has finished a file, before the end.
    await killCliWhen(
      ["run", "--yes", "--jobs", "1", "--output", `${dir}/sharded`, "--shard", "4/4", protocol],
      ENV,
      `${dir}/sharded/.dcmtidy/shards/4-of-4/journal.jsonl`,
      (l) => l.includes('"dest"'),
      1,
    );
    // The journal's lines come near the end of so small a shard, so the kill may land while it merges
    // its key rows, holding the key file's lock (a SIGKILL runs no cleanup). A rerun takes over a lock
    // that is two minutes old: aged here, so that it takes it over at once instead of waiting.
    const lock = `${dir}/key.csv.lock`;
    if (await Deno.stat(lock).then(() => true, () => false)) {
      const old = new Date(Date.now() - 3 * 60_000);
      await Deno.utime(lock, old, old);
    }
    const early = await runCli(["merge", `${dir}/sharded`]);
    assert.equal(early.code, 2, early.stdout);
    assert.match(early.stderr, /shard 4-of-4 did not finish/);

    assert.notEqual((await shardRun(4)).code, 1);
    const merged = await runCli(["merge", `${dir}/sharded`]);
    assert.equal(merged.code, 3, merged.stderr); // quarantined files, as in the single run
    assert.match(merged.stdout, new RegExp(`merged 4 shards: ${scanned} files scanned`));

    const a = await treeHashes(`${dir}/single`);
    const b = await treeHashes(`${dir}/sharded`);
    assert.ok([...a.keys()].some((p) => /_2\.dcm$/.test(p)), "the dump has collisions");
    assert.ok(!([...b.keys()].some((p) => p.endsWith(".partial"))), "no temporary files left");
    assert.deepEqual(b, a);
    const files = (root: string) => Deno.readTextFile(`${root}/.dcmtidy/files.csv`);
    assert.equal(await files(`${dir}/sharded`), await files(`${dir}/single`));
    assert.equal(await Deno.readTextFile(`${dir}/key.csv`), singleKey);
    const audit = JSON.parse(await Deno.readTextFile(`${dir}/sharded/.dcmtidy/audit.json`));
    assert.equal(audit.shards, 4);
    assert.equal(audit.counts.scanned, scanned);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("merge refuses missing shards, shards of different protocols and parts cut short or of another format, and says which", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-merge-" }));
  try {
    await buildDump(`${dir}/raw`);
    await Deno.writeTextFile(`${dir}/a.yaml`, protocolText("first"));
    await Deno.writeTextFile(`${dir}/b.yaml`, protocolText("second"));
    const run = (p: string, k: number) => runCli(["run", "--yes", "--shard", `${k}/2`, `${dir}/${p}`], ENV);
    assert.notEqual((await run("a.yaml", 1)).code, 1);
    const missing = await runCli(["merge", `${dir}/single`]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /shard 2-of-2 is missing/);
    assert.notEqual((await run("b.yaml", 2)).code, 1);
    const mixed = await runCli(["merge", `${dir}/single`]);
    assert.equal(mixed.code, 2);
    assert.match(mixed.stderr, /shards used different protocols: 1-of-2: first .*; 2-of-2: second/);
    assert.ok(!(await Deno.stat(`${dir}/single/report.csv`).catch(() => false)), "nothing merged");
    // Shard 2 again with the first protocol: its part cut short (its last line gone), then in the
    // format of an older dcmtidy (one JSON document): refused, naming the shard, nothing merged.
    assert.notEqual((await run("a.yaml", 2)).code, 1);
    const part = `${dir}/single/.dcmtidy/shards/2-of-2/part.jsonl`;
    const whole = await Deno.readTextFile(part);
    await Deno.writeTextFile(part, whole.slice(0, whole.trimEnd().lastIndexOf("\n") + 1));
    const cut = await runCli(["merge", `${dir}/single`]);
    assert.equal(cut.code, 2, cut.stderr);
    assert.match(cut.stderr, /shard 2-of-2: part\.jsonl is incomplete: run the shard again/);
    await Deno.writeTextFile(part, JSON.stringify({ format: "dcmtidy-shard-part/2", files: [] }) + "\n");
    const old = await runCli(["merge", `${dir}/single`]);
    assert.equal(old.code, 2, old.stderr);
    assert.match(old.stderr, /shard 2-of-2: part\.jsonl is not a part this dcmtidy understands/);
    // A line that is not a record, an end that counts other files, lines after the end; and an older
    // dcmtidy's part.json where part.jsonl would be.
    const [head, ...body] = whole.trimEnd().split("\n");
    const end = body.pop()!;
    const otherEnd = end.replace(/"files":\d+/, `"files":${body.length + 5}`);
    for (
      const [text, says] of [
        [[head, "null", ...body, end], /has a line that is not a record/],
        [[head, ...body, otherEnd], /says it has \d+ files but has \d+/],
        [[head, ...body, end, body[0]], /has lines after its last/],
      ] as const
    ) {
      await Deno.writeTextFile(part, text.join("\n") + "\n");
      const refused = await runCli(["merge", `${dir}/single`]);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, says);
    }
    await Deno.remove(part);
    await Deno.writeTextFile(part.replace(/\.jsonl$/, ".json"), "{}");
    const older = await runCli(["merge", `${dir}/single`]);
    assert.match(older.stderr, /shard 2-of-2 was run by an older dcmtidy \(its part is part\.json\)/);
    assert.ok(!(await Deno.stat(`${dir}/single/report.csv`).catch(() => false)), "nothing merged");
    await Deno.writeTextFile(part, whole);
    const merged = await runCli(["merge", `${dir}/single`]);
    assert.equal(merged.code, 3, merged.stderr); // the dump's cut file is quarantined
    assert.ok(await Deno.stat(`${dir}/single/report.csv`), "merged once the part is whole");
    const nothing = await runCli(["merge", `${dir}/raw`]);
    assert.equal(nothing.code, 2);
    assert.match(nothing.stderr, /no shard ran here/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("shard arguments: K/N, Slurm arrays from 0 or 1, Kubernetes indexed jobs, clear errors", () => {
  assert.deepEqual(parseShard("2/4"), { k: 2, n: 4 });
  assert.throws(() => parseShard("0/4"), /numbered from 1/);
  assert.throws(() => parseShard("5/4"), /from 1 to 4/);
  assert.throws(() => parseShard("2-4"), /expected K\/N/);
  const env = (vars: Record<string, string>) => (n: string) => vars[n];
  const slurm = (id: string, min: string, max: string) =>
    shardFromEnv(
      env({
        SLURM_ARRAY_TASK_ID: id,
        SLURM_ARRAY_TASK_MIN: min,
        SLURM_ARRAY_TASK_MAX: max,
        SLURM_ARRAY_TASK_COUNT: "4",
      }),
    );
  assert.deepEqual(slurm("0", "0", "3"), { k: 1, n: 4 });
  assert.deepEqual(slurm("4", "1", "4"), { k: 4, n: 4 });
  assert.throws(() => slurm("3", "1", "7"), /contiguous range/);
  assert.deepEqual(shardFromEnv(env({ JOB_COMPLETION_INDEX: "2" }), 3), { k: 3, n: 3 });
  assert.throws(() => shardFromEnv(env({ JOB_COMPLETION_INDEX: "2" })), /--shards N/);
  assert.throws(
    () => shardFromEnv(env({ JOB_COMPLETION_INDEX: "3" }), 3),
    /JOB_COMPLETION_INDEX="3": it must be a whole number from 0 to 2 \(Kubernetes counts from 0/,
  );
  assert.throws(() => shardFromEnv(env({})), /neither SLURM_ARRAY_TASK_ID/);
});

Deno.test("shardOf keeps a study on one shard and spreads studies over all shards", () => {
  const file = (rel: string, studyUID?: string) =>
    ({
      root: "/r",
      rel,
      path: `/r/${rel}`,
      size: 1,
      kind: "dicom",
      header: studyUID ? { studyUID, transferSyntax: "" } : undefined,
    }) as ScannedFile;
  const seen = new Set<number>();
  for (let s = 0; s < 200; s++) {
    const shard = shardOf(file(`a${s}`, `1.2.3.${s}`), 4);
    assert.equal(shardOf(file(`b${s}`, `1.2.3.${s}`), 4), shard, "same study, same shard");
    seen.add(shard);
  }
  assert.deepEqual([...seen].sort(), [1, 2, 3, 4]);
  assert.equal(shardOf(file("x"), 1), 1);
  // The first four bytes of the key's SHA-256, as every version has had it: a shard's run started by
  // one version resumes under another with the same files.
  const sha = (key: string, n: number) => (createHash("sha256").update(key).digest().readUInt32BE(0) % n) + 1;
  for (const n of [2, 3, 7, 16]) {
    for (let s = 0; s < 50; s++) {
      assert.equal(shardOf(file(`a${s}`, `1.2.840.${s}`), n), sha(`study:1.2.840.${s}`, n));
      assert.equal(shardOf(file(`dir/ü${s}.dcm`), n), sha(`path:dir/ü${s}.dcm`, n));
    }
  }
});

Deno.test("shardFiles: a plan's shard is worked out once, however often a run asks", () => {
  const records = Array.from({ length: 40 }, (_, i) => ({
    input: {
      root: "/r",
      rel: `f${i}`,
      path: `/r/f${i}`,
      size: 1,
      kind: "dicom",
      header: { studyUID: `1.2.${i % 9}`, transferSyntax: "" },
    } as ScannedFile,
    status: "write",
  }));
  // The plan's files, counting the passes over them (past the memory bound each reads every file back).
  let passes = 0;
  const files = Object.assign([...records], {
    entries() {
      passes++;
      return records.entries();
    },
  });
  const plan = { protocol: { output: { format: "dicom" } }, files, series: [] };
  const mine = shardFiles(plan, { k: 2, n: 3 });
  assert.ok(mine.length > 0 && mine.length < 40);
  for (let i = 0; i < 3; i++) assert.deepEqual(shardFiles(plan, { k: 2, n: 3 }), mine);
  assert.equal(passes, 1);
  // Another shard, or another plan: worked out again.
  assert.notDeepEqual(shardFiles(plan, { k: 1, n: 3 }), mine);
  assert.equal(passes, 2);
  const other = { ...plan };
  shardFiles(other, { k: 1, n: 3 });
  assert.equal(passes, 3);
});
