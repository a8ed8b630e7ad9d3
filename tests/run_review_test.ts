/**
 * What a new user's review of a run found, each checked end to end: no original identity under the
 * output root, a key file that keeps every site's rows, quarantine copies that fail per file, stale
 * outputs removed, shards of other salts named, output root problems refused early, the re-run and
 * Ctrl-C wording, and quarantine reasons summed up on the terminal.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { buildDicom, type Node, sampleDataset, tag } from "./fixtures/builder.ts";
import { readShardPart, ROOT, runCli } from "./helpers.ts";
import { loadProtocol } from "../src/protocol/load.ts";
import { makePlan } from "../src/plan/mod.ts";
import { runPlan } from "../src/run/mod.ts";
import { Keys } from "../src/deid/keys.ts";
import { writeAtomically } from "../src/util/atomic.ts";
import { parseCsv } from "../src/util/csv.ts";
import { quarantinedLines } from "../src/cli/run_commands.ts";

const SALT = "review-test-salt-0123456789";
const ENV = { DCMTIDY_SALT: SALT };
const keys = () => new Keys(new TextEncoder().encode(SALT));

/** One file's header values: patient `p`, study `s`, series number `se`, instance `im`. */
function dicomFile(
  p: number,
  s: number,
  se: number,
  im: number,
  extra: Record<number, string> = {},
): Uint8Array {
  const study = `1.2.826.0.1.3680043.10.1000.55.${p}.${s}`;
  const values: Record<number, string> = {
    [tag(0x0010, 0x0010)]: `Review^Patient${p}`,
    [tag(0x0010, 0x0020)]: `MRN-${p}-X`,
    [tag(0x0020, 0x000d)]: study,
    [tag(0x0020, 0x000e)]: `${study}.${se}`,
    [tag(0x0008, 0x0018)]: `${study}.${se}.${im}`,
    [tag(0x0020, 0x0011)]: String(se),
    [tag(0x0020, 0x0013)]: String(im),
    [tag(0x0008, 0x0020)]: `2021030${s}`,
    ...extra,
  };
  const nodes = sampleDataset().map((n) =>
    "tag" in n && values[n.tag] !== undefined ? { ...n, value: values[n.tag] } as Node : n
  );
  return buildDicom(nodes);
}

/** `patients` x 2 studies x 2 series x 2 images under `raw`, named like a PACS export (flat). */
async function dump(raw: string, patients: number[]): Promise<string[]> {
  await Deno.mkdir(raw, { recursive: true });
  const names: string[] = [];
  for (const p of patients) {
    for (const s of [1, 2]) {
      for (const se of [1, 2]) {
        for (const im of [1, 2]) {
          const name = `P${p}S${s}E${se}I${im}.dcm`;
          await Deno.writeFile(`${raw}/${name}`, dicomFile(p, s, se, im));
          names.push(name);
        }
      }
    }
  }
  return names;
}

const protocolText = (extra = "") =>
  `version: 1
name: review
input: { root: ./raw }
output: { root: ./tidy, path: "{pseudo_id}/{StudyDate}/{SeriesNumber}", file: "{InstanceNumber:04}.dcm" }
key: ./secure/key.csv
deidentify:
  options: [retain-longitudinal-modified-dates]
  salt: { env: DCMTIDY_SALT }
  dates: { shift: { min_days: -50, max_days: -5 } }
${extra}`;

/** Every file under `dir`, relative, with its bytes. */
async function files(dir: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (e.isFile) out.set(p.slice(dir.length + 1), await Deno.readFile(p));
    }
  };
  await walk(dir);
  return out;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const mode = async (path: string) => (await Deno.stat(path)).mode! & 0o777;

async function tempDir(prefix: string): Promise<string> {
  return await Deno.realPath(await Deno.makeTempDir({ prefix }));
}

/** Assert that no file under `dir` holds an original PatientID or StudyInstanceUID of the dump. */
async function assertNoOriginals(dir: string): Promise<void> {
  for (const [rel, bytes] of await files(dir)) {
    const text = new TextDecoder("latin1").decode(bytes);
    assert.doesNotMatch(text, /MRN-\d+-X/, `${rel} holds an original PatientID`);
    assert.doesNotMatch(
      text,
      /1\.2\.826\.0\.1\.3680043\.10\.1000\.55\.\d+\.\d+/,
      `${rel} holds an original UID`,
    );
  }
}

Deno.test("review 1: nothing under the output root links pseudonyms to patients; .dcmtidy is owner-only", async () => {
  const dir = await tempDir("dcmtidy-review1-");
  try {
    await dump(`${dir}/raw`, [1, 2]);
    await Deno.writeTextFile(`${dir}/study.yaml`, protocolText());
    const run = await runCli(["run", "--yes", "--jobs", "1", `${dir}/study.yaml`], ENV);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    await assertNoOriginals(`${dir}/tidy`);
    const key = await Deno.readTextFile(`${dir}/secure/key.csv`);
    const rows = parseCsv(key);
    assert.equal(rows.length, 1 + 4, "a row per patient and study");
    assert.ok(rows.slice(1).every((r) => /^MRN-\d-X$/.test(r[0]) && r[3].startsWith("1.2.826")), key);
    if (Deno.build.os !== "windows") {
      assert.equal(await mode(`${dir}/tidy/.dcmtidy`), 0o700);
      for (const f of ["journal.jsonl", "files.csv", "audit.json"]) {
        assert.equal(await mode(`${dir}/tidy/.dcmtidy/${f}`), 0o600, f);
      }
      assert.equal(await mode(`${dir}/secure/key.csv`), 0o600);
    }

    // Resumed: every file comes from the journal, and the key file is the same.
    const again = await runCli(["run", "--yes", "--jobs", "1", `${dir}/study.yaml`], ENV);
    assert.match(again.stdout, /0 written, 16 already done/);
    assert.equal(await Deno.readTextFile(`${dir}/secure/key.csv`), key);

    // A journal an older dcmtidy wrote with the originals is rewritten without them.
    const journal = `${dir}/tidy/.dcmtidy/journal.jsonl`;
    const legacy = (await Deno.readTextFile(journal)).split("\n").map((l) =>
      l.includes('"outcome"') ? l.replace('"outcome":{', '"outcome":{"originalPatientId":"MRN-1-X",') : l
    ).join("\n");
    await Deno.writeTextFile(journal, legacy);
    const third = await runCli(["run", "--yes", "--jobs", "1", `${dir}/study.yaml`], ENV);
    assert.match(third.stdout, /0 written, 16 already done/);
    await assertNoOriginals(`${dir}/tidy`);

    // Shards: no part holds originals, and the merged key file is the single run's.
    await Deno.remove(`${dir}/secure/key.csv`);
    for (const k of [1, 2]) {
      const r = await runCli(
        [
          "run",
          "--yes",
          "--jobs",
          "1",
          "--output",
          `${dir}/sharded`,
          "--shard",
          `${k}/2`,
          `${dir}/study.yaml`,
        ],
        ENV,
      );
      assert.equal(r.code, 0, r.stdout + r.stderr);
    }
    const merged = await runCli(["merge", `${dir}/sharded`]);
    assert.equal(merged.code, 0, merged.stderr);
    // Merge narrows itself too: it may write the output root (the report is in it) and nothing
    // else, read no more than the root and the code, and no environment variable of the user's.
    const audit = JSON.parse(await Deno.readTextFile(`${dir}/sharded/.dcmtidy/audit.json`));
    assert.match(audit.permissions, new RegExp(`--allow-write=${dir}/sharded( |$)`), audit.permissions);
    assert.doesNotMatch(audit.permissions, /secure|DCMTIDY_SALT|--allow-ffi/, audit.permissions);
    await assertNoOriginals(`${dir}/sharded`);
    assert.equal(await Deno.readTextFile(`${dir}/secure/key.csv`), key);
    if (Deno.build.os !== "windows") {
      assert.equal(await mode(`${dir}/sharded/.dcmtidy/shards`), 0o700);
      assert.equal(await mode(`${dir}/sharded/.dcmtidy/shards/1-of-2`), 0o700);
      assert.equal(await mode(`${dir}/sharded/.dcmtidy/shards/1-of-2/part.jsonl`), 0o600);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("review 2: the key file keeps the rows of other sites and refuses a file dcmtidy did not write", async () => {
  const dir = await tempDir("dcmtidy-review2-");
  try {
    await dump(`${dir}/siteA`, [1]);
    await dump(`${dir}/siteB`, [2, 3]);
    await Deno.writeTextFile(`${dir}/study.yaml`, protocolText());
    const site = (name: string) =>
      runCli(["run", "--yes", "--input", `${dir}/${name}`, `${dir}/study.yaml`], ENV);
    assert.equal((await site("siteA")).code, 0);
    const a = parseCsv(await Deno.readTextFile(`${dir}/secure/key.csv`));
    assert.equal(a.length, 1 + 2);
    const b = await site("siteB");
    assert.equal(b.code, 0, b.stdout + b.stderr);
    const key = await Deno.readTextFile(`${dir}/secure/key.csv`);
    const both = parseCsv(key);
    assert.equal(both.length, 1 + 2 + 4, "site A's rows are kept");
    for (const row of a) assert.ok(both.some((r) => r.join() === row.join()), row.join());
    assert.deepEqual(
      both.slice(1),
      [...both.slice(1)].sort((x, y) => (x.join("\0") < y.join("\0") ? -1 : 1)),
    );
    // Site B's run left site A's outputs alone: they are not this plan's inputs.
    assert.equal([...(await files(`${dir}/tidy`)).keys()].filter((k) => k.endsWith(".dcm")).length, 24);
    // Site A again: the same rows, once.
    assert.equal((await site("siteA")).code, 0);
    assert.equal(await Deno.readTextFile(`${dir}/secure/key.csv`), key);
    if (Deno.build.os !== "windows") assert.equal(await mode(`${dir}/secure/key.csv`), 0o600);

    // A file at the key path that dcmtidy did not write is not replaced, and nothing is run.
    const foreign = "name,mrn\nsomeone,123\n";
    await Deno.writeTextFile(`${dir}/secure/key.csv`, foreign);
    await Deno.remove(`${dir}/tidy`, { recursive: true });
    const refused = await site("siteA");
    assert.equal(refused.code, 2, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /key\.csv exists and is not a key file dcmtidy wrote/);
    assert.doesNotMatch(refused.stderr, /internal error/);
    assert.equal(await Deno.readTextFile(`${dir}/secure/key.csv`), foreign);
    assert.equal([...(await files(`${dir}/tidy`)).keys()].filter((k) => k.endsWith(".dcm")).length, 0);

    // A write that fails leaves no temporary file (it would hold what the key file holds).
    await Deno.mkdir(`${dir}/keydir`);
    await Deno.writeTextFile(`${dir}/keydir/inside`, "x");
    await assert.rejects(() => writeAtomically(`${dir}/keydir`, "MRN-1-X,secret\n", { mode: 0o600 }));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.includes("partial")), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("review 3: a quarantine copy that fails is told per file and the run writes its reports", async () => {
  for (const workers of [0, 1]) {
    const dir = await tempDir("dcmtidy-review3-");
    try {
      const names = await dump(`${dir}/raw`, [1]);
      const whole = await Deno.readFile(`${dir}/raw/${names[0]}`);
      await Deno.writeFile(`${dir}/raw/cut.dcm`, whole.subarray(0, whole.length - 9));
      await Deno.writeTextFile(`${dir}/study.yaml`, protocolText("quarantine: ./quarantine\n"));
      const protocol = await loadProtocol(`${dir}/study.yaml`, { env: () => SALT });
      const plan = await makePlan(protocol, keys());
      // Both vanish between the plan and the run: one to write, one the plan quarantined.
      await Deno.remove(`${dir}/raw/${names[3]}`);
      await Deno.remove(`${dir}/raw/cut.dcm`);
      const salt = new TextEncoder().encode(SALT);
      const s = await runPlan(plan, { keys: keys(), salt, workers });
      assert.deepEqual([s.written, s.quarantined], [7, 2], `workers ${workers}`);
      const rows = parseCsv(await Deno.readTextFile(`${dir}/tidy/.dcmtidy/files.csv`));
      const row = (rel: string) => rows.find((r) => r[0] === rel)!;
      assert.equal(row(names[3])[2], "quarantined");
      assert.match(row(names[3])[3], /; not copied to quarantine: no such file$/);
      assert.match(row("cut.dcm")[3], /^Pixel Data is cut short.*; not copied to quarantine: no such file$/);
      assert.ok(await Deno.stat(`${dir}/tidy/report.csv`), "the reports are written");
      assert.ok(await Deno.stat(`${dir}/secure/key.csv`), "the key file is written");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("review 4: outputs an earlier run wrote that the plan no longer makes are removed, changed ones told", async () => {
  const dir = await tempDir("dcmtidy-review4-");
  try {
    const names = await dump(`${dir}/raw`, [1, 2]);
    await Deno.writeTextFile(`${dir}/study.yaml`, protocolText());
    const run = (...extra: string[]) =>
      runCli(["run", "--yes", "--jobs", "1", ...extra, `${dir}/study.yaml`], ENV);
    assert.equal((await run()).code, 0);
    const before = await files(`${dir}/tidy`);
    const dcm = (m: Map<string, Uint8Array>) => [...m.keys()].filter((k) => k.endsWith(".dcm")).sort();
    // Like `dcmodify -m SeriesNumber=99`: P1S1E1I1's series number changes, so does its destination.
    await Deno.writeFile(`${dir}/raw/${names[0]}`, dicomFile(1, 1, 1, 1, { [tag(0x0020, 0x0011)]: "99" }));
    const moved = await run();
    assert.equal(moved.code, 0, moved.stdout + moved.stderr);
    assert.match(moved.stdout, /note: removed 1 output an earlier run wrote that the plan no longer makes/);
    assert.match(moved.stdout, /1 written, 15 already done/);
    const after = await files(`${dir}/tidy`);
    const gone = dcm(before).filter((k) => !after.has(k));
    const added = dcm(after).filter((k) => !before.has(k));
    assert.equal(gone.length, 1);
    assert.equal(added.length, 1);
    assert.match(added[0], /\/99\/0001\.dcm$/);
    assert.equal(dcm(after).length, 16, "one output per input, no stale one");

    // Its input changes again, and its output was edited by hand meanwhile: left in place, and told.
    await Deno.writeFile(`${dir}/tidy/${added[0]}`, new Uint8Array([1, 2, 3]));
    await Deno.writeFile(`${dir}/raw/${names[0]}`, dicomFile(1, 1, 1, 1, { [tag(0x0020, 0x0011)]: "98" }));
    const told = await run();
    assert.match(
      told.stdout,
      /note: 1 output an earlier run wrote that the plan no longer makes was changed since/,
    );
    assert.ok(await Deno.stat(`${dir}/tidy/${added[0]}`), "a changed output is never removed");

    // An input changed where the names do not show it: its output is made again, not taken as done.
    const target = names[5];
    const pixels = dicomFile(1, 2, 1, 2, { [tag(0x0018, 0x0060)]: "130" }); // KVP: kept
    const oldOut = await files(`${dir}/tidy`);
    await Deno.writeFile(`${dir}/raw/${target}`, pixels);
    const redone = await run();
    assert.match(redone.stdout, /1 written, 15 already done/);
    const newOut = await files(`${dir}/tidy`);
    assert.equal(
      dcm(newOut).filter((k) => sha(newOut.get(k)!) !== sha(oldOut.get(k) ?? new Uint8Array())).length,
      1,
      "exactly the changed input's output was rewritten",
    );

    // Shards: a shard removes only what its own journal says it wrote.
    const shard = (k: number) => run("--output", `${dir}/sharded`, "--shard", `${k}/2`);
    for (const k of [1, 2]) assert.equal((await shard(k)).code, 0);
    const sharded = await files(`${dir}/sharded`);
    // Patient 2's files move, whichever shard has them; both shards run again.
    for (const [i, name] of names.entries()) {
      if (name.startsWith("P2")) {
        await Deno.writeFile(
          `${dir}/raw/${name}`,
          dicomFile(2, 1 + (i >> 2) % 2, 3 + (i >> 1) % 2, 1 + i % 2),
        );
      }
    }
    const r1 = await shard(1);
    const r2 = await shard(2);
    const removed = (out: string) => Number(/removed (\d+) output/.exec(out)?.[1] ?? 0);
    assert.equal(removed(r1.stdout) + removed(r2.stdout), 8, r1.stdout + r2.stdout);
    const resharded = await files(`${dir}/sharded`);
    assert.equal(dcm(resharded).length, 16);
    const kept = dcm(sharded).filter((k) => resharded.has(k));
    assert.equal(kept.length, 8, "patient 1's outputs stay");
    for (const k of kept) assert.equal(sha(resharded.get(k)!), sha(sharded.get(k)!), k);
    assert.equal((await runCli(["merge", `${dir}/sharded`])).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("review 5: merge names shards run with other salts; parts keep a fingerprint, never the salt", async () => {
  const dir = await tempDir("dcmtidy-review5-");
  try {
    await dump(`${dir}/raw`, [1, 2, 3]);
    await Deno.writeTextFile(`${dir}/study.yaml`, protocolText());
    const other = "another-salt-9876543210";
    const shard = (k: number, salt: string) =>
      runCli(["run", "--yes", "--jobs", "1", "--shard", `${k}/2`, `${dir}/study.yaml`], {
        DCMTIDY_SALT: salt,
      });
    assert.equal((await shard(1, SALT)).code, 0);
    assert.equal((await shard(2, other)).code, 0);
    const merged = await runCli(["merge", `${dir}/tidy`]);
    assert.equal(merged.code, 2);
    assert.match(
      merged.stderr,
      /shards used different salts.*1-of-2: salt fingerprint \w+; 2-of-2: salt fingerprint \w+/,
    );
    assert.doesNotMatch(merged.stderr, /different inputs/);
    for (const k of [1, 2]) {
      const part = await Deno.readTextFile(`${dir}/tidy/.dcmtidy/shards/${k}-of-2/part.jsonl`);
      assert.ok(!part.includes(SALT) && !part.includes(other), "no salt in a part");
      for (const s of [SALT, other]) {
        const plain = createHash("sha256").update(s).digest("hex");
        assert.ok(!part.includes(plain.slice(0, 16)), "no plain hash of the salt either");
      }
    }
    // The same salt again: the merge goes through.
    assert.equal((await shard(2, SALT)).code, 0);
    assert.equal((await runCli(["merge", `${dir}/tidy`])).code, 0);

    // Sort only: no salt, nothing to fingerprint.
    await Deno.writeTextFile(
      `${dir}/sort.yaml`,
      `version: 1\nname: sort\ninput: { root: ./raw }\noutput: { root: ./sorted, path: "{PatientID}", file: "{SOPInstanceUID}.dcm" }\n`,
    );
    const sorted = await runCli(["run", "--yes", "--jobs", "1", "--shard", "1/1", `${dir}/sort.yaml`]);
    assert.equal(sorted.code, 0, sorted.stderr);
    assert.equal(
      (await readShardPart(`${dir}/sorted/.dcmtidy/shards/1-of-1/part.jsonl`)).head.salt,
      undefined,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("review 6: output root problems are refused before planning, with the path and exit 2", async () => {
  const dir = await tempDir("dcmtidy-review6-");
  try {
    await dump(`${dir}/raw`, [1]);
    await Deno.writeTextFile(`${dir}/study.yaml`, protocolText());
    const run = (output: string) => runCli(["run", "--yes", "--output", output, `${dir}/study.yaml`], ENV);

    await Deno.writeTextFile(`${dir}/afile`, "x");
    const file = await run(`${dir}/afile`);
    assert.equal(file.code, 2, file.stdout + file.stderr);
    assert.match(file.stderr, new RegExp(`output root ${dir}/afile exists and is not a folder`));
    assert.doesNotMatch(file.stdout, /files scanned/, "refused before the plan is shown");
    const plan = await runCli(["plan", "--output", `${dir}/afile`, `${dir}/study.yaml`], ENV);
    assert.equal(plan.code, 0);
    assert.match(plan.stderr, /warning: .*afile exists and is not a folder: dcmtidy run will refuse/);

    const under = await run(`${dir}/afile/tidy`);
    assert.equal(under.code, 2);
    assert.match(under.stderr, new RegExp(`cannot be made: ${dir}/afile is not a folder`));

    // Not writable: Deno's permissions stand in for a folder of another user (tests may run as root).
    await Deno.mkdir(`${dir}/readonly`);
    const denied = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-env",
        `--allow-write=${dir}/elsewhere`,
        `${ROOT}cli.ts`,
        "run",
        "--yes",
        "--output",
        `${dir}/readonly`,
        `${dir}/study.yaml`,
      ],
      env: ENV,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(denied.stderr);
    assert.equal(denied.code, 2, err);
    assert.match(
      err,
      new RegExp(
        `output root ${dir}/readonly is not writable: a Deno permission is missing \\(--allow-write`,
      ),
    );
    assert.doesNotMatch(new TextDecoder().decode(denied.stdout), /files scanned/);

    // A file in the way that no run of dcmtidy wrote: a clear refusal, not an internal error.
    assert.equal((await run(`${dir}/tidy`)).code, 0);
    await Deno.remove(`${dir}/tidy/.dcmtidy`, { recursive: true });
    const foreign = await run(`${dir}/tidy`);
    assert.equal(foreign.code, 2, foreign.stderr);
    assert.match(
      foreign.stderr,
      /^dcmtidy: .*\.dcm exists and was not written by dcmtidy: refusing to replace it/m,
    );
    assert.doesNotMatch(foreign.stderr, /internal error/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * A TypeScript protocol whose hook takes 10 ms a file (hooks are not written ahead): a run of it is
 * still writing when a test signals it.
 */
const SLOW_PROTOCOL = `export default {
  version: 1,
  name: "slow",
  input: { root: "./raw" },
  output: { root: "./tidy", path: "{pseudo_id}/{SeriesNumber}", file: "{SOPInstanceUID}.dcm" },
  key: "./secure/key.csv",
  deidentify: { salt: { env: "DCMTIDY_SALT" }, tags: { Manufacturer: { fn: "slow" } } },
  hooks: {
    slow: (v?: string) => {
      const until = Date.now() + 10;
      while (Date.now() < until);
      return v;
    },
  },
};
`;

Deno.test("review 7: run asks for --yes and checks the input before planning; Ctrl-C says what is kept", async () => {
  const dir = await tempDir("dcmtidy-review7-");
  try {
    await dump(`${dir}/raw`, [1]);
    await Deno.writeTextFile(`${dir}/study.yaml`, protocolText());
    const noYes = await runCli(["run", `${dir}/study.yaml`], ENV);
    assert.equal(noYes.code, 2);
    assert.match(noYes.stderr, /not a terminal: pass --yes/);
    assert.equal(noYes.stdout, "", "refused before the plan");
    const missing = await runCli(["run", "--yes", "--input", `${dir}/nowhere`, `${dir}/study.yaml`], ENV);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, new RegExp(`input root ${dir}/nowhere does not exist`));
    assert.doesNotMatch(missing.stdout, /files scanned/);

    // A hook that takes 10 ms a file: the run is still going when the signal comes.
    for (let p = 2; p <= 25; p++) await dump(`${dir}/raw`, [p]);
    await Deno.writeTextFile(`${dir}/slow.ts`, SLOW_PROTOCOL);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}cli.ts`, "run", "--yes", "--jobs", "1", `${dir}/slow.ts`],
      cwd: ROOT,
      env: ENV,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const journal = `${dir}/tidy/.dcmtidy/journal.jsonl`;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (await Deno.readTextFile(journal).then((t) => t.includes('"dest"'), () => false)) break;
      await new Promise((r) => setTimeout(r, 2));
    }
    // The run counts a file kept once its journal line is written: give it that moment (files
    // take 10 ms each here, so the run is still going).
    await new Promise((r) => setTimeout(r, 50));
    child.kill("SIGINT");
    const out = await child.output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 130, stderr);
    const m = /interrupted: (\d+) files? finished (are|is) kept; run again to resume/.exec(stderr);
    assert.ok(m, stderr);
    const kept = Number(m[1]);
    assert.ok(kept >= 1 && kept < 200, stderr);
    const resumed = await runCli(["run", "--yes", "--jobs", "1", `${dir}/slow.ts`], ENV);
    const done = /(\d+) written, (\d+) already done/.exec(resumed.stdout);
    assert.ok(done, resumed.stdout + resumed.stderr);
    assert.ok(Number(done[2]) >= kept, `${kept} kept, ${done[2]} found done`);
    assert.equal(Number(done[1]) + Number(done[2]), 200);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("review 7b: Ctrl-C while run --yes plans and writes ahead: nothing written, nothing staged left", async () => {
  const dir = await tempDir("dcmtidy-review7b-");
  try {
    for (let p = 1; p <= 50; p++) await dump(`${dir}/raw`, [p]);
    await Deno.writeTextFile(`${dir}/study.yaml`, protocolText());
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}cli.ts`, "run", "--yes", "--jobs", "1", `${dir}/study.yaml`],
      cwd: ROOT,
      env: ENV,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // Signalled once the plan's worker has written some output ahead.
    const state = `${dir}/tidy/.dcmtidy`;
    const staged = async () => {
      for await (const e of Deno.readDir(state)) {
        if (!e.name.startsWith("staging-")) continue;
        for await (const _ of Deno.readDir(`${state}/${e.name}`)) return true;
      }
      return false;
    };
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !(await staged().catch(() => false))) {
      await new Promise((r) => setTimeout(r, 2));
    }
    child.kill("SIGINT");
    const out = await child.output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 130, stderr);
    assert.match(stderr, /interrupted while planning: nothing written/);
    // Nothing staged is left, and the output root this run made is removed again (it is empty).
    assert.equal(await Deno.lstat(`${dir}/tidy`).then(() => "there", () => "gone"), "gone");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("review 7c: a termination (SIGTERM: kill, scancel, a stopped pod) ends a run as Ctrl-C does, exit 143", async () => {
  const dir = await tempDir("dcmtidy-review7c-");
  try {
    for (let p = 1; p <= 30; p++) await dump(`${dir}/raw`, [p]);
    await Deno.writeTextFile(`${dir}/study.yaml`, protocolText());
    await Deno.writeTextFile(`${dir}/slow.ts`, SLOW_PROTOCOL);
    const start = (protocol: string) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${ROOT}cli.ts`, "run", "--yes", "--jobs", "1", `${dir}/${protocol}`],
        cwd: ROOT,
        env: ENV,
        stdout: "null",
        stderr: "piped",
      }).spawn();
    const until = async (done: () => Promise<boolean>) => {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && !(await done().catch(() => false))) {
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    // While the plan writes ahead: nothing written, nothing staged left.
    const state = `${dir}/tidy/.dcmtidy`;
    const planning = start("study.yaml");
    await until(async () => {
      for await (const e of Deno.readDir(state)) {
        if (!e.name.startsWith("staging-")) continue;
        for await (const _ of Deno.readDir(`${state}/${e.name}`)) return true;
      }
      return false;
    });
    planning.kill("SIGTERM");
    let out = await planning.output();
    let stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 143, stderr);
    assert.match(stderr, /terminated \(SIGTERM\) while planning: nothing written/);
    assert.equal(await Deno.lstat(`${dir}/tidy`).then(() => "there", () => "gone"), "gone");

    // While it writes: what is finished is kept, and said; the next run resumes it.
    const writing = start("slow.ts");
    const journal = `${state}/journal.jsonl`;
    await until(() => Deno.readTextFile(journal).then((t) => t.includes('"dest"')));
    writing.kill("SIGTERM");
    out = await writing.output();
    stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 143, stderr);
    assert.match(stderr, /terminated \(SIGTERM\): \d+ files? finished (are|is) kept; run again to resume/);
    const resumed = await runCli(["run", "--yes", "--jobs", "1", `${dir}/slow.ts`], ENV);
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.match(resumed.stdout, /[1-9]\d* already done/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("review 8: files quarantined during a run are summed up by reason on the terminal", async () => {
  const dir = await tempDir("dcmtidy-review8-");
  try {
    const names = await dump(`${dir}/raw`, [1]);
    // A broken element after the pixels: the plan (headers only) writes them, the run cannot.
    const tail = new Uint8Array([0xe1, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 0xff, 0xff, 0, 0, 1, 2, 3]);
    for (const name of names.slice(0, 5)) {
      const bytes = await Deno.readFile(`${dir}/raw/${name}`);
      await Deno.writeFile(`${dir}/raw/${name}`, new Uint8Array([...bytes, ...tail]));
    }
    await Deno.writeTextFile(`${dir}/study.yaml`, protocolText());
    const run = await runCli(["run", "--yes", "--jobs", "1", `${dir}/study.yaml`], ENV);
    assert.equal(run.code, 3, run.stdout + run.stderr);
    assert.match(
      run.stdout,
      /quarantined during the run: 5 files, by reason:\n +5 +.*declares 65535 bytes.*: input #1, input #2, input #3, \.\.\. \(2 more\)/,
    );
    assert.doesNotMatch(run.stdout, /P1S1E1I1/, "input names only with --show-phi");
    const shown = await runCli(["run", "--yes", "--show-phi", "--jobs", "1", `${dir}/study.yaml`], ENV);
    assert.match(shown.stdout, /: P1S1E1I1\.dcm, P1S1E1I2\.dcm, P1S1E2I1\.dcm, \.\.\. \(2 more\)/);

    // File system errors name paths: grouped without them (a permission problem on every file).
    const protocol = await loadProtocol(`${dir}/study.yaml`, { env: () => SALT });
    const plan = await makePlan(protocol, keys());
    const outcomes = new Map(plan.files.map((f, index) => [index, {
      index,
      status: "quarantined" as const,
      reason: index === 7 ? "no PatientID" : `Permission denied (os error 13): open '${f.input.path}'`,
    }]));
    const lines = quarantinedLines(plan, { outcomes });
    assert.deepEqual(lines, [
      "quarantined during the run: 8 files, by reason:",
      "  7  Permission denied (os error 13): input #1, input #2, input #3, ... (4 more)",
      "  1  no PatientID: input #8",
    ]);
    assert.ok(!lines.join("\n").includes(dir), "no path shown");
    assert.deepEqual(quarantinedLines(plan, { outcomes: new Map() }), []);
    // A summary whose every outcome is written: the outcomes are not gone through (they may be on disk).
    const unread = new (class extends Map<number, never> {
      override get size() {
        return 8;
      }
      override values(): MapIterator<never> {
        throw new Error("read");
      }
    })();
    assert.deepEqual(quarantinedLines(plan, { outcomes: unread, written: 8 }), []);
    assert.throws(() => quarantinedLines(plan, { outcomes: unread, written: 7 }), /read/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
