/**
 * The split scan of issue 18: 4 `scan --shard K/4` parts, then 4 `run --shard K/4` that assemble the
 * plan from them, then `merge`, give the single run's tree, report, file list and key file byte for
 * byte, with collisions across the scan's shares and studies whose files sit in several shares.
 * Missing, stale and foreign parts are refused with a message that says which and what to do; the
 * parts hold no readable original value.
 */
import assert from "node:assert/strict";
import { buildDump, protocolText } from "./fixtures/shard_dump.ts";
import { buildDicom, sampleDataset } from "./fixtures/builder.ts";
import { readShardPart, runCli, treeHashes } from "./helpers.ts";
import { shareOf } from "../src/plan/scan_part.ts";

const SALT = "scan-part-test-salt-0123456789";
const ENV = { DCMTIDY_SALT: SALT };

Deno.test("split scan: 4 scan parts + 4 runs + merge = the single run, byte for byte", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-scan-part-" }));
  try {
    const scanned = await buildDump(`${dir}/raw`);
    const protocol = `${dir}/study.yaml`;
    await Deno.writeTextFile(protocol, protocolText("split"));

    const single = await runCli(["run", "--yes", protocol], ENV);
    assert.equal(single.code, 3, single.stdout + single.stderr); // the cut file is quarantined
    const singleKey = await Deno.readTextFile(`${dir}/key.csv`);
    await Deno.remove(`${dir}/key.csv`);

    // The shares split studies: the scan of one share sees only part of a study.
    const shares = new Map<string, Set<number>>();
    for (const e of Deno.readDirSync(`${dir}/raw`)) {
      const head = new TextDecoder("latin1").decode(
        (await Deno.readFile(`${dir}/raw/${e.name}`)).subarray(0, 4000),
      );
      const study = /1\.2\.826\.0\.1\.3680043\.10\.1000\.77\.\d+/.exec(head)?.[0] ?? e.name;
      shares.set(study, (shares.get(study) ?? new Set()).add(shareOf(0, e.name, 4)));
    }
    assert.ok([...shares.values()].some((s) => s.size > 1), "a study's files sit in two shares");
    assert.equal(new Set([...Deno.readDirSync(`${dir}/raw`)].map((e) => shareOf(0, e.name, 4))).size, 4);

    const out = ["--output", `${dir}/sharded`];
    const scan = (k: number, env = ENV) =>
      runCli(["scan", "--jobs", "1", ...out, "--shard", `${k}/4`, protocol], env);
    const run = (k: number, env = ENV) =>
      runCli(["run", "--yes", "--jobs", "1", ...out, "--shard", `${k}/4`, protocol], env);
    for (const k of [1, 2, 3]) {
      const s = await scan(k);
      assert.equal(s.code, 0, s.stdout + s.stderr);
      assert.match(s.stdout, new RegExp(`scan ${k}/4: \\d+ of the ${scanned} files`));
    }
    // Missing: refused, naming the part and the command.
    const missing = await run(1);
    assert.equal(missing.code, 2, missing.stdout + missing.stderr);
    assert.match(missing.stderr, /scan part 4-of-4 is missing: run dcmtidy scan --shard 4\/4/);
    assert.ok(!(await Deno.stat(`${dir}/sharded/.dcmtidy/shards`).catch(() => false)), "nothing ran");

    // What a killed scan of shard 4 left under a temporary name goes when shard 4 scans again.
    const leftover = `${dir}/sharded/.dcmtidy/scan/.4-of-4.part.0123abcd.partial`;
    await Deno.writeTextFile(leftover, "half a part");
    assert.equal((await scan(4)).code, 0);
    assert.ok(!(await Deno.stat(leftover).catch(() => false)), "the leftover is removed");
    const parts = [1, 2, 3, 4].map((k) =>
      Deno.readTextFileSync(`${dir}/sharded/.dcmtidy/scan/${k}-of-4.part`)
    );
    for (const p of parts) {
      // A plain first line (what the part was made from), then sealed records only.
      const [head, ...records] = p.trimEnd().split("\n");
      assert.doesNotMatch(head, /MRN-|Patient\^|1\.2\.826\.0\.1\.3680043\.10\.1000\.77|F0\d\d/);
      assert.ok(records.length > 0 && records.every((r) => /^[A-Za-z0-9+/]+=*$/.test(r)), "encrypted");
      assert.doesNotMatch(p, /MRN-|Patient\^|1\.2\.826\.0\.1\.3680043\.10\.1000\.77/);
    }

    // Stale: another salt, and input files that changed since the scan.
    const salted = await run(1, { DCMTIDY_SALT: "another-salt-0123456789" });
    assert.equal(salted.code, 2);
    assert.match(
      salted.stderr,
      /scan part 1-of-4 is stale: made with another salt: run dcmtidy scan --shard 1\/4 again/,
    );
    await Deno.writeTextFile(`${dir}/raw/late.txt`, "added after the scan\n");
    const changed = await run(2);
    assert.equal(changed.code, 2);
    assert.match(changed.stderr, /is stale: the input files changed since it was made/);
    await Deno.remove(`${dir}/raw/late.txt`);
    // A part of format 1 (shares by SHA-256): refused, with the command that makes it again.
    const third = `${dir}/sharded/.dcmtidy/scan/3-of-4.part`;
    const now = await Deno.readTextFile(third);
    await Deno.writeTextFile(
      third,
      now.replace('"format":"dcmtidy-scan-part/2"', '"format":"dcmtidy-scan-part/1"'),
    );
    const older = await run(1);
    assert.equal(older.code, 2, older.stdout + older.stderr);
    assert.match(
      older.stderr,
      /scan part 3-of-4 is of another part format \(dcmtidy-scan-part\/1; this dcmtidy reads dcmtidy-scan-part\/2\): run dcmtidy scan --shard 3\/4 again/,
    );
    await Deno.writeTextFile(third, now);

    for (const k of [1, 2, 3, 4]) {
      const r = await run(k);
      assert.ok(r.code === 0 || r.code === 3, r.stdout + r.stderr);
      assert.match(r.stdout, /assembled from the split scan's parts/);
      assert.match(r.stdout, /changes: not shown/);
    }
    const merged = await runCli(["merge", `${dir}/sharded`]);
    assert.equal(merged.code, 3, merged.stderr);
    assert.match(merged.stdout, new RegExp(`merged 4 shards: ${scanned} files scanned`));

    const a = await treeHashes(`${dir}/single`);
    const b = await treeHashes(`${dir}/sharded`);
    assert.ok([...a.keys()].some((p) => /_2\.dcm$/.test(p)), "the dump has collisions");
    assert.deepEqual(b, a);
    const files = (root: string) => Deno.readTextFile(`${root}/.dcmtidy/files.csv`);
    assert.equal(await files(`${dir}/sharded`), await files(`${dir}/single`));
    assert.equal(await Deno.readTextFile(`${dir}/key.csv`), singleKey);

    // A run without --shard into the sharded root: refused, and told why.
    const plain = await runCli(["run", "--yes", ...out, protocol], ENV);
    assert.equal(plain.code, 2, plain.stdout + plain.stderr);
    assert.match(plain.stderr, /it may be shards 1-of-4, 2-of-4, 3-of-4, 4-of-4 of an earlier run/);

    // A new scan with another shard count makes the old parts stale: they are removed.
    const again = await runCli(["scan", ...out, "--shard", "1/2", protocol], ENV);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /removed 4 stale scan parts of a scan in 4 shards/);
    const half = await run(1);
    assert.equal(half.code, 2);
    assert.match(half.stderr, /scan part 2-of-2 is missing/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("shareOf: disjoint shares that cover every path, about even", () => {
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 4000; i++) counts[shareOf(0, `d${i % 7}/f${i}.dcm`, 4) - 1]++;
  for (const c of counts) assert.ok(c > 800 && c < 1200, `${counts}`);
  // Names that differ only in their last characters (a scanner's numbering) spread over every share.
  for (const n of [2, 3, 8, 16]) {
    const per = new Array(n).fill(0);
    for (let i = 0; i < 1600 * n; i++) per[shareOf(0, `IMG${String(i).padStart(5, "0")}`, n) - 1]++;
    for (const c of per) assert.ok(c > 1350 && c < 1850, `${n} shares: ${per}`);
  }
  // FNV-1a's lowest bit is the parity of the characters' lowest bits: names of even digits only
  // would all be in one of two shares without the finalizer's mixing.
  const even = [0, 0];
  for (let i = 0; i < 3125; i++) {
    even[shareOf(0, i.toString(5).padStart(5, "0").replace(/./g, (d) => `${2 * +d}`), 2) - 1]++;
  }
  assert.ok(even[0] > 1400 && even[1] > 1400, `${even}`);
  assert.equal(shareOf(0, "a/b.dcm", 1), 1);
  assert.notEqual(
    [0, 1, 2, 3, 4, 5, 6, 7].map((r) => shareOf(r, "same.dcm", 8)).join(),
    "1,1,1,1,1,1,1,1",
    "the root's position counts",
  );
});

Deno.test("split scan: a file replaced after the scan is quarantined, never written under the plan's name; a file with no IDs is one subject whatever the mount", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-scan-part-changed-" }));
  try {
    await buildDump(`${dir}/raw`);
    // A file with no PatientID, StudyInstanceUID or SOPInstanceUID: its subject is its header's.
    const bare = sampleDataset().filter((n) =>
      !("tag" in n) || ![0x00100020, 0x0020000d, 0x00080018].includes(n.tag)
    );
    await Deno.writeFile(`${dir}/raw/bare.dcm`, buildDicom(bare));
    await Deno.symlink(`${dir}/raw`, `${dir}/mounted`);
    const protocol = `${dir}/study.yaml`;
    await Deno.writeTextFile(protocol, protocolText("changed"));
    const out = ["--output", `${dir}/sharded`];
    // Scanned through one mount, run through another.
    const scan = await runCli(["scan", ...out, "--input", `${dir}/mounted`, "--shard", "1/1", protocol], ENV);
    assert.equal(scan.code, 0, scan.stderr);
    // F000 (study 0) now holds a file of study 1: the run must not file it under study 0's subject.
    await Deno.copyFile(`${dir}/raw/F051`, `${dir}/raw/F000`);
    const run = await runCli(["run", "--yes", ...out, "--shard", "1/1", protocol], ENV);
    assert.equal(run.code, 3, run.stdout + run.stderr);
    assert.match(
      run.stdout,
      /the input is not the file the plan read \((another study|\d+ bytes then, \d+ now)\)/,
    );
    const { outcomes } = await readShardPart(`${dir}/sharded/.dcmtidy/shards/1-of-1/part.jsonl`);
    assert.ok(outcomes.some((o) => /not the file the plan read/.test(o.reason ?? "")));
    // The file without IDs: the pseudonym in its header is the one its folder was named with.
    const written = [...Deno.readDirSync(`${dir}/sharded`)].map((e) => e.name).filter((n) =>
      !n.startsWith(".")
    );
    const dump = await new Deno.Command("dcmdump", {
      args: ["+P", "0010,0020", "-q", ...(await findDcm(`${dir}/sharded`))],
      stdout: "piped",
    }).output()
      .catch(() => undefined);
    if (dump) {
      const ids = new Set(
        [...new TextDecoder().decode(dump.stdout).matchAll(/\[([^\]]+)\]/g)].map((m) => m[1]),
      );
      for (const id of ids) {
        assert.ok(written.includes(id), `PatientID ${id} names a folder (${written.join(", ")})`);
      }
    } else console.log("dcmdump not installed: the header check of the file without IDs is skipped");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function findDcm(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.isDirectory && e.name !== ".dcmtidy") await walk(`${d}/${e.name}`);
      else if (e.isFile && e.name.endsWith(".dcm")) out.push(`${d}/${e.name}`);
    }
  };
  await walk(root);
  return out;
}
