/**
 * plan + run end to end on a built raw dump: every input accounted for, outputs readable and
 * de-identified, the input tree untouched, and a second run that changes nothing.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { buildDicom, nestedPatientNameDataset, type Node, sampleDataset, tag } from "./fixtures/builder.ts";
import { loadProtocol } from "../src/protocol/load.ts";
import { makePlan } from "../src/plan/mod.ts";
import { runPlan, runWork } from "../src/run/mod.ts";
import { Keys } from "../src/deid/keys.ts";
import { readDicomFile } from "../src/dicom/read_file.ts";
import { hasTool, runCli, runTool } from "./helpers.ts";

const SALT = "run-test-salt-0123456789";

function withValues(nodes: Node[], values: Record<number, string>): Node[] {
  const out = nodes.map((
    n,
  ) => ("tag" in n && values[n.tag] !== undefined ? { ...n, value: values[n.tag] } as Node : n));
  for (const [t, v] of Object.entries(values)) {
    if (!out.some((n) => "tag" in n && n.tag === Number(t))) out.push({ tag: Number(t), vr: "LO", value: v });
  }
  return out;
}

/** 3 patients x 2 studies x 2 series x 2 images, a text file, a cut file and a duplicate. */
async function rawDump(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/raw/a/b`, { recursive: true });
  let n = 0;
  for (const p of [1, 2, 3]) {
    for (const s of [1, 2]) {
      for (const se of [1, 2]) {
        for (const im of [1, 2]) {
          const study = `1.2.826.0.1.3680043.10.1000.${p}.${s}`;
          const nodes = withValues(
            p === 1 ? nestedPatientNameDataset({ depth: 2, undefinedLength: true }) : sampleDataset(),
            {
              [tag(0x0010, 0x0010)]: `Patient^Number${p}`,
              [tag(0x0010, 0x0020)]: `PID-${p}`,
              [tag(0x0020, 0x000d)]: study,
              [tag(0x0020, 0x000e)]: `${study}.${se}`,
              [tag(0x0008, 0x0018)]: `${study}.${se}.${im}`,
              [tag(0x0020, 0x0011)]: String(se),
              [tag(0x0020, 0x0013)]: String(im),
              [tag(0x0008, 0x0020)]: `2020010${s}`,
            },
          );
          await Deno.writeFile(
            `${dir}/raw/${n % 2 ? "a/b/" : ""}IM${String(++n).padStart(4, "0")}`,
            buildDicom(nodes),
          );
        }
      }
    }
  }
  await Deno.copyFile(`${dir}/raw/a/b/IM0002`, `${dir}/raw/a/copy-of-IM0002`);
  const whole = await Deno.readFile(`${dir}/raw/a/b/IM0004`);
  await Deno.writeFile(`${dir}/raw/cut`, whole.subarray(0, whole.length - 7));
  await Deno.writeTextFile(`${dir}/raw/notes.txt`, "not DICOM\n");
}

async function treeHash(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else out.set(p.slice(dir.length), createHash("sha256").update(await Deno.readFile(p)).digest("hex"));
    }
  };
  await walk(dir);
  return out;
}

const PROTOCOL = `version: 1
name: run-test
input: { root: ./raw }
output: { root: ./tidy, path: "{pseudo_id}/%t/%s", file: "{InstanceNumber:04}.dcm" }
key: ./secure/key.csv
deidentify:
  options: [retain-longitudinal-modified-dates]
  dates: { shift: { min_days: -100, max_days: -10 } }
  salt: { env: DCMTIDY_SALT }
  private_tags: remove
`;

Deno.test("run: every input accounted for, outputs de-identified, inputs untouched, re-run is a no-op", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-run-" }));
  try {
    await rawDump(dir);
    await Deno.writeTextFile(`${dir}/study.yaml`, PROTOCOL);
    const before = await treeHash(`${dir}/raw`);
    const protocol = await loadProtocol(`${dir}/study.yaml`, { env: () => SALT });
    const keys = new Keys(new TextEncoder().encode(SALT));
    const plan = await makePlan(protocol, keys);
    const progress: [number, number][] = [];
    const work: { files: number; bytes: number }[] = [];
    const s = await runPlan(plan, {
      keys,
      onWork: (files, bytes) => work.push({ files, bytes }),
      onProgress: (done, total) => progress.push([done, total]),
    });
    // Progress counts every file written, against the total `runWork` gives, from the first file on,
    // told once before it.
    assert.equal(runWork(plan).files, 24);
    assert.deepEqual(work, [runWork(plan)]);
    assert.deepEqual(progress, Array.from({ length: 24 }, (_, i) => [i + 1, 24]));
    const scanned = plan.files.length;
    assert.equal(scanned, 24 + 3);
    assert.equal(s.written + s.skipped + s.quarantined, scanned, "written + skipped + quarantined = scanned");
    assert.deepEqual([s.written, s.skipped, s.quarantined], [24, 2, 1]);
    const files = (await Deno.readTextFile(`${dir}/tidy/.dcmtidy/files.csv`)).trim().split("\n");
    assert.equal(files.length, scanned + 1);

    const outputs = [...(await treeHash(`${dir}/tidy`)).keys()].filter((p) => p.endsWith(".dcm"));
    assert.equal(outputs.length, 24);
    const dcmdump = await hasTool("dcmdump");
    for (const p of outputs) {
      const bytes = await Deno.readFile(`${dir}/tidy${p}`);
      const text = new TextDecoder("latin1").decode(bytes);
      assert.doesNotMatch(
        text,
        /Patient\^Number|PID-\d|Nested\^Name|1\.2\.826\.0\.1\.3680043\.10\.1000\.\d\.\d/,
        p,
      );
      const f = await readDicomFile(`${dir}/tidy${p}`);
      assert.ok(f.dataset.elements.some((e) => e.tag === 0x00120062), "PatientIdentityRemoved");
      if (dcmdump) assert.equal((await runTool("dcmdump", ["-q", `${dir}/tidy${p}`]))!.code, 0, p);
    }
    const key = await Deno.readTextFile(`${dir}/secure/key.csv`);
    assert.equal(key.trim().split("\n").length, 1 + 6, "one row per patient and study");
    assert.match(
      await Deno.readTextFile(`${dir}/tidy/report.csv`),
      /^SubjectID,ExamDate,ExamID,SeriesID,SeriesDescription/,
    );
    assert.ok(!(await Deno.readTextFile(`${dir}/tidy/.dcmtidy/audit.json`)).includes(SALT));
    assert.deepEqual(await treeHash(`${dir}/raw`), before, "the input tree is byte-identical");

    const firstTree = await treeHash(`${dir}/tidy`);
    const again = await runPlan(await makePlan(protocol, keys), { keys });
    assert.equal(again.resumed, 24);
    const secondTree = await treeHash(`${dir}/tidy`);
    for (const [p, h] of firstTree) if (!p.startsWith("/.dcmtidy/")) assert.equal(secondTree.get(p), h, p);

    // A kill between an output's rename and its journal entry: claimed but not recorded, so redone.
    const journal = `${dir}/tidy/.dcmtidy/journal.jsonl`;
    const lines = (await Deno.readTextFile(journal)).split("\n");
    await Deno.writeTextFile(journal, lines.filter((l) => l.includes('"claim"')).join("\n") + "\n");
    const redone = await runPlan(await makePlan(protocol, keys), { keys });
    assert.deepEqual([redone.resumed, redone.written], [0, 24]);
    const thirdTree = await treeHash(`${dir}/tidy`);
    for (const [p, h] of firstTree) if (!p.startsWith("/.dcmtidy/")) assert.equal(thirdTree.get(p), h, p);
    // Files in the output that no run of ours claimed are never replaced.
    await Deno.remove(journal);
    await assert.rejects(
      () => makePlan(protocol, keys).then((pl) => runPlan(pl, { keys })),
      /was not written by dcmtidy/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run: the CLI exits 3 with quarantined files and never prints the salt", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-run-cli-" }));
  try {
    await rawDump(dir);
    await Deno.writeTextFile(`${dir}/study.yaml`, PROTOCOL);
    const plan = await runCli(["plan", `${dir}/study.yaml`], { DCMTIDY_SALT: SALT });
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /27 files scanned: 24 to write, 2 skipped, 1 quarantined/);
    assert.doesNotMatch(plan.stdout, /Patient\^Number|PID-/);
    // Input paths may name patients: numbers on screen, the paths only with --show-phi.
    assert.doesNotMatch(plan.stdout, /copy-of-IM0002|a\/b\/IM/);
    assert.match(plan.stdout, /skip +input #\d+: same SOP Instance UID and bytes as input #\d+/);
    const shown = await runCli(["plan", "--show-phi", `${dir}/study.yaml`], { DCMTIDY_SALT: SALT });
    assert.match(shown.stdout, /a\/copy-of-IM0002: same SOP Instance UID and bytes as a\/b\/IM0002/);
    assert.match(shown.stdout, /cut: Pixel Data is cut short/);
    const run = await runCli(["run", "--yes", `${dir}/study.yaml`], { DCMTIDY_SALT: SALT });
    assert.equal(run.code, 3, run.stderr);
    assert.ok(!(run.stdout + run.stderr + plan.stdout + plan.stderr).includes(SALT));
    const noTty = await runCli(["run", `${dir}/study.yaml`], { DCMTIDY_SALT: SALT });
    assert.equal(noTty.code, 2);
    assert.match(noTty.stderr, /pass --yes/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("key file: a run that waits on the key file's lock says so once, then merges when it is let go", async () => {
  const { mergeKeyFile, readKeyFile } = await import("../src/run/key_file.ts");
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-key-lock-" });
  try {
    const key = `${dir}/key.csv`;
    await Deno.writeTextFile(`${key}.lock`, ""); // another run's turn
    const told: string[] = [];
    const started = Date.now();
    setTimeout(() => Deno.removeSync(`${key}.lock`), 1600);
    await mergeKeyFile(key, [["PID1", "SUBJ1", "-10", "1.2.3", "2.25.1"]], (why) => told.push(why));
    assert.ok(Date.now() - started >= 1500, "it waited for the lock");
    assert.equal(told.length, 1, told.join("\n"));
    assert.match(told[0], /key\.csv\.lock is held by another run, or was left by one that was killed/);
    assert.match(told[0], /taken over when it is 2 minutes old, in \d+ s/);
    assert.deepEqual(await readKeyFile(key), [["PID1", "SUBJ1", "-10", "1.2.3", "2.25.1"]]);
    // Free at once: nothing said.
    const quiet: string[] = [];
    await mergeKeyFile(key, [], (why) => quiet.push(why));
    assert.deepEqual(quiet, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Whether `check` says so; false when it throws (the file is not there). */
function tryExists(check: () => boolean): boolean {
  try {
    return check();
  } catch {
    return false;
  }
}

Deno.test("key file: a process stopped by a signal lets go of its key file lock, never of another's", async () => {
  const { mergeKeyFile, readKeyFile } = await import("../src/run/key_file.ts");
  const { releaseKeyLocksSync } = await import("../src/run/mod.ts");
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-key-release-" });
  try {
    const key = `${dir}/key.csv`;
    // Another's lock: not ours to remove.
    await Deno.writeTextFile(`${key}.lock`, "");
    releaseKeyLocksSync();
    assert.ok((await Deno.lstat(`${key}.lock`)).isFile);
    await Deno.remove(`${key}.lock`);
    // Ours, while the merge holds it: looked at, and let go, as the merge goes through its rows (the
    // signal handler's call at that moment). Polling for the lock from outside raced the merge.
    const rows = Array.from(
      { length: 1000 },
      (_, i) => [`PID${i}`, `SUBJ${i}`, "-10", `1.2.${i}`, `2.25.${i}`],
    );
    const exists = () => Deno.lstatSync(`${key}.lock`).isFile;
    const during: string[] = [];
    const watched = new Proxy(rows, {
      get(target, property, receiver) {
        if (property === Symbol.iterator && !during.length) {
          during.push(tryExists(exists) ? "held" : "not held");
          releaseKeyLocksSync();
          during.push(tryExists(exists) ? "still there" : "gone");
        }
        return Reflect.get(target, property, receiver);
      },
    });
    await mergeKeyFile(key, watched);
    assert.deepEqual(during, ["held", "gone"], "the merge took the lock, and the release removed it");
    assert.equal((await readKeyFile(key)).length, 1000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("journal: appends go out in order, each resolved once it is in the file; a failed write fails what follows", async () => {
  const { openJournalAppender } = await import("../src/run/journal.ts");
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-journal-" });
  try {
    const path = `${dir}/journal.jsonl`;
    const lines = Array.from(
      { length: 2000 },
      (_, i) => JSON.stringify({ line: i, pad: "x".repeat(i % 97) }) + "\n",
    );
    {
      using journal = await openJournalAppender(path);
      // Appended without waiting, as a run records its files: each resolves with its line on disk.
      const late: string[] = [];
      await Promise.all(lines.map((line) =>
        journal.append(line).then(() => {
          if (!Deno.readTextFileSync(path).includes(line)) late.push(line);
        })
      ));
      assert.deepEqual(late, [], "an append resolved before its text was written");
      await journal.append(lines[0]); // one more, awaited alone
    }
    assert.equal(await Deno.readTextFile(path), lines.join("") + lines[0], "every line, in order, once");
    // /dev/full refuses every write (ENOSPC): the append fails, and so does every one after it.
    if ((await Deno.stat("/dev/full").catch(() => undefined))?.isCharDevice) {
      using full = await openJournalAppender("/dev/full");
      const results = await Promise.allSettled([full.append("a\n"), full.append("b\n")]);
      const after = await full.append("c\n").then(() => "written", (e) => e);
      assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
      assert.ok(after instanceof Error, "an append after a failed write fails too");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
