/**
 * The worker pool: sort-only runs in every mode through sandboxed workers (links are made by the
 * main thread: the workers may not write to inputs, and Deno asks for that to link), and a
 * de-identifying run gives the same files with one worker as with several.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { buildDicom, sampleDataset, tag } from "./fixtures/builder.ts";
import { runCli } from "./helpers.ts";
import type { PlannedFile } from "../src/plan/mod.ts";
import type { FileOutcome } from "../src/run/process.ts";

const SALT = "pool-test-salt-0123456789";

/** 12 files of 3 series, and a text file that is skipped. */
async function dump(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/raw`, { recursive: true });
  for (let i = 0; i < 12; i++) {
    const series = i % 3;
    const nodes = sampleDataset().map((n) => {
      if (!("tag" in n)) return n;
      if (n.tag === tag(0x0008, 0x0018)) {
        return { ...n, value: `1.2.826.0.1.3680043.10.1000.5.${series}.${i}` };
      }
      if (n.tag === tag(0x0020, 0x000e)) return { ...n, value: `1.2.826.0.1.3680043.10.1000.5.${series}` };
      if (n.tag === tag(0x0020, 0x0011)) return { ...n, value: String(series + 1) };
      if (n.tag === tag(0x0020, 0x0013)) return { ...n, value: String(i + 1) };
      return n;
    });
    await Deno.writeFile(`${dir}/raw/F${String(i).padStart(3, "0")}`, buildDicom(nodes));
  }
  await Deno.writeTextFile(`${dir}/raw/notes.txt`, "not DICOM\n");
}

async function treeHashes(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory && e.name !== ".dcmtidy") await walk(p);
      else if ((e.isFile || e.isSymlink) && p.endsWith(".dcm")) {
        out.set(p.slice(root.length), createHash("sha256").update(await Deno.readFile(p)).digest("hex"));
      }
    }
  };
  await walk(root);
  return out;
}

function sortOnly(mode: string, output: string): string {
  return `version: 1
name: pool-${mode}
input: { root: ./raw, exclude: ["**/*.txt"] }
output: { root: ${output}, path: "%i/%s", file: "{InstanceNumber:04}.dcm", mode: ${mode} }
`;
}

/** A de-identifying protocol for the dump, writing to ./out; `extra`: more lines under deidentify. */
function deidProtocol(name: string, extra = ""): string {
  return `version: 1
name: pool-${name}
input: { root: ./raw, exclude: ["**/*.txt"] }
output: { root: ./out, path: "{pseudo_id}/%s", file: "{InstanceNumber:04}.dcm" }
deidentify:
  salt: { env: DCMTIDY_SALT }
${extra}`;
}

/**
 * A plan of `<dir>/p.yaml` into `output` that writes ahead, as `run --yes` makes it (two workers,
 * the test salt's keys).
 */
async function planAhead(dir: string, output: string, shard?: { k: number; n: number }) {
  const { loadProtocol } = await import("../src/protocol/load.ts");
  const { makePlan } = await import("../src/plan/mod.ts");
  const { openStaging } = await import("../src/run/mod.ts");
  const { Keys } = await import("../src/deid/keys.ts");
  const salt = new TextEncoder().encode(SALT);
  const p = await loadProtocol(`${dir}/p.yaml`, { output, env: () => SALT });
  await Deno.mkdir(output, { recursive: true });
  const staging = (await openStaging(p, 2, shard))!;
  const plan = await makePlan(p, new Keys(salt), undefined, { workers: 2, salt, ahead: staging.ahead });
  return { plan, staging };
}

/** The lines of the journal in `output`'s state folder. */
async function journalOf(output: string): Promise<Record<string, unknown>[]> {
  return (await Deno.readTextFile(`${output}/.dcmtidy/journal.jsonl`)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
}

/** Whether no staging folder is left in `output`'s state folder. */
function stagingGone(output: string): boolean {
  return [...Deno.readDirSync(`${output}/.dcmtidy`)].filter((e) => e.name.startsWith("staging-")).length ===
    0;
}

Deno.test("pool: sort-only hardlink, symlink and copy runs through workers place every file", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-pool-" }));
  try {
    await dump(dir);
    const inputs = await Promise.all(
      [...Deno.readDirSync(`${dir}/raw`)].filter((e) => e.name.startsWith("F")).map(async (e) => ({
        ino: (await Deno.stat(`${dir}/raw/${e.name}`)).ino,
        bytes: await Deno.readFile(`${dir}/raw/${e.name}`),
      })),
    );
    for (const mode of ["hardlink", "symlink", "copy"]) {
      await Deno.writeTextFile(`${dir}/${mode}.yaml`, sortOnly(mode, `./out-${mode}`));
      const run = await runCli(["run", "--yes", "--jobs", "2", `${dir}/${mode}.yaml`]);
      assert.equal(run.code, 0, `${mode}: ${run.stdout}${run.stderr}`);
      const root = `${dir}/out-${mode}`;
      const files = (await Deno.readTextFile(`${root}/.dcmtidy/files.csv`)).trim().split("\n").slice(1);
      assert.equal(files.filter((l) => l.includes(",written,")).length, 12, `${mode}: ${files.join("\n")}`);
      const outputs = [...(await treeHashes(root)).keys()];
      assert.equal(outputs.length, 12, mode);
      for (const o of outputs) {
        const st = await Deno.lstat(`${root}${o}`);
        const bytes = await Deno.readFile(`${root}${o}`);
        const input = inputs.find((i) =>
          i.bytes.length === bytes.length && i.bytes.every((b, k) => b === bytes[k])
        );
        assert.ok(input, `${mode}: ${o} has the bytes of an input`);
        if (mode === "hardlink") assert.equal(st.ino, input.ino, `${o} is a hard link`);
        if (mode === "symlink") assert.ok(st.isSymlink, `${o} is a symbolic link`);
        if (mode === "copy") assert.ok(st.isFile && st.ino !== input.ino, `${o} is a copy`);
      }
      // The journal's hashes are the outputs' (a re-run resumes every file).
      const again = await runCli(["run", "--yes", "--jobs", "2", `${dir}/${mode}.yaml`]);
      assert.equal(again.code, 0, again.stdout + again.stderr);
      assert.match(again.stdout, /0 written, 12 already done/, `${mode}: ${again.stdout}`);
      // Nothing is hashed (that would read every input whole): links are journaled as links, a
      // copy by its inode, size and time. The same bytes put in an output's place are not what the
      // run made, so the next run makes it again; an output touched in place too.
      const journal = (await Deno.readTextFile(`${root}/.dcmtidy/journal.jsonl`)).trim().split("\n")
        .map((l) => JSON.parse(l)).filter((e) => e.dest);
      assert.equal(journal.length, 12);
      for (const e of journal) {
        assert.equal(e.sha256, undefined, `${mode}: ${JSON.stringify(e)}`);
        if (mode === "copy") assert.ok(e.output.ino > 0 && e.output.size > 0 && e.output.mtimeMs > 0);
        else assert.equal(e.link, mode === "hardlink" ? "hard" : "symbolic");
      }
      const first = `${root}/${journal[0].dest}`;
      const bytes = await Deno.readFile(first);
      await Deno.remove(first);
      await Deno.writeFile(first, bytes);
      const third = await runCli(["run", "--yes", "--jobs", "2", `${dir}/${mode}.yaml`]);
      assert.match(third.stdout, /1 written, 11 already done/, `${mode}: ${third.stdout}`);
      const st = await Deno.lstat(first);
      if (mode === "hardlink") assert.equal(st.ino, (await Deno.stat(journal[0].input)).ino);
      if (mode === "symlink") assert.ok(st.isSymlink);
      if (mode === "hardlink") {
        // An input replaced by another file (as editors save): its old output is still the link
        // the run made, so it is removed when the plan no longer makes it.
        const raw = `${dir}/raw`;
        const copy = `${dir}/F000.new`;
        await Deno.copyFile(`${raw}/F001`, copy);
        const before = await Deno.readFile(`${raw}/F000`);
        await Deno.rename(copy, `${raw}/F000`);
        const fourth = await runCli(["run", "--yes", "--jobs", "2", `${dir}/${mode}.yaml`]);
        assert.match(fourth.stdout, /removed 1 output an earlier run wrote/, fourth.stdout);
        await Deno.writeFile(`${raw}/F000`, before); // the other modes' runs see the dump as it was
        const fifth = await runCli(["run", "--yes", "--jobs", "2", `${dir}/${mode}.yaml`]);
        assert.equal(fifth.code, 0, fifth.stdout);
        // The same, edited in place (the inode stays, so its link changes with it): still removed.
        await Deno.writeFile(`${raw}/F000`, await Deno.readFile(`${raw}/F001`));
        const sixth = await runCli(["run", "--yes", "--jobs", "2", `${dir}/${mode}.yaml`]);
        assert.match(sixth.stdout, /removed 1 output an earlier run wrote/, sixth.stdout);
        await Deno.writeFile(`${raw}/F000`, before);
      }
      if (mode === "copy") {
        // Changed in place, same size: its time tells.
        const second = `${root}/${journal[1].dest}`;
        const before = await Deno.readFile(second);
        const f = await Deno.open(second, { write: true });
        await f.write(new Uint8Array([before[0] ^ 0xff]));
        f.close();
        await Deno.utime(second, new Date(), new Date(Date.now() + 5000));
        const fourth = await runCli(["run", "--yes", "--jobs", "2", `${dir}/${mode}.yaml`]);
        assert.match(fourth.stdout, /1 written, 11 already done/, `${mode}: ${fourth.stdout}`);
        assert.deepEqual(await Deno.readFile(second), before);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pool: a de-identifying run writes the same files with one worker, with two, and in-thread", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-pool-" }));
  try {
    await dump(dir);
    // One protocol file (its hash is in every output's DeidentificationMethod), several outputs.
    await Deno.writeTextFile(`${dir}/p.yaml`, deidProtocol("deid", "  dates: { shift: { days: -7 } }\n"));
    const trees: Map<string, string>[] = [];
    for (const jobs of ["1", "2"]) {
      const args = ["run", "--yes", "--jobs", jobs, "--output", `${dir}/out-${jobs}`, `${dir}/p.yaml`];
      const run = await runCli(args, { DCMTIDY_SALT: SALT });
      assert.equal(run.code, 0, run.stdout + run.stderr);
      trees.push(await treeHashes(`${dir}/out-${jobs}`));
    }
    assert.equal(trees[0].size, 12);
    assert.deepEqual(trees[1], trees[0]);
    // The library path (no workers) gives the same bytes.
    const { loadProtocol } = await import("../src/protocol/load.ts");
    const { makePlan } = await import("../src/plan/mod.ts");
    const { runPlan } = await import("../src/run/mod.ts");
    const { Keys } = await import("../src/deid/keys.ts");
    const p = await loadProtocol(`${dir}/p.yaml`, { output: `${dir}/out-0`, env: () => SALT });
    const keys = new Keys(new TextEncoder().encode(SALT));
    await runPlan(await makePlan(p, keys), { keys });
    assert.deepEqual(await treeHashes(`${dir}/out-0`), trees[0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pool: a run's plan writes outputs ahead: the same files, renamed into place, nothing left staged", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-pool-" }));
  try {
    await dump(dir);
    // A file whose Pixel Data is cut short is not written ahead: the plan quarantines it.
    const cut = await Deno.readFile(`${dir}/raw/F011`);
    await Deno.writeFile(`${dir}/raw/F011`, cut.subarray(0, cut.length - 10));
    await Deno.writeTextFile(`${dir}/p.yaml`, deidProtocol("stage"));
    const { loadProtocol } = await import("../src/protocol/load.ts");
    const { makePlan } = await import("../src/plan/mod.ts");
    const { runPlan } = await import("../src/run/mod.ts");
    const { Keys } = await import("../src/deid/keys.ts");
    const salt = new TextEncoder().encode(SALT);
    const keys = new Keys(salt);
    // A plan that writes ahead, as `run --yes` makes it: `staged` gives each file's staged output.
    const staged = async (output: string, shard?: { k: number; n: number }) => {
      const { plan, staging } = await planAhead(dir, output, shard);
      // Planned files are records (read back from disk past a bound): a file is known by its input.
      const stagedOf = (f: PlannedFile) =>
        staging.outputs.get(plan.files.findIndex((g) => g.input.path === f.input.path));
      return { ...plan, staging, stagedOf };
    };
    // Without staging, in this thread: the reference.
    const reference = await loadProtocol(`${dir}/p.yaml`, { output: `${dir}/ref`, env: () => SALT });
    await runPlan(await makePlan(reference, keys), { keys });

    const plan = await staged(`${dir}/out`);
    const written = plan.files.filter((f) => plan.stagedOf(f) !== undefined);
    assert.equal(written.length, 11, "every file the plan writes, but the cut one");
    assert.equal(plan.files.find((f) => f.input.rel === "F011")!.status, "quarantine");
    for (const f of written) assert.ok((await Deno.lstat(plan.stagedOf(f)!.path)).isFile);
    const summary = await runPlan(plan, { keys, salt, workers: 2, staging: plan.staging });
    assert.equal(summary.written, 11);
    assert.deepEqual(await treeHashes(`${dir}/out`), await treeHashes(`${dir}/ref`));
    assert.ok(stagingGone(`${dir}/out`));
    const report = await Deno.readTextFile(`${dir}/out/.dcmtidy/files.csv`);
    assert.equal(
      report.replace(/\.dcmtidy[^,\n]*/g, ""),
      (await Deno.readTextFile(`${dir}/ref/.dcmtidy/files.csv`)).replace(/\.dcmtidy[^,\n]*/g, ""),
    );

    // Run again: the plan leaves what the journal has finished to the run, which resumes it.
    const { finishedOutputs } = await import("../src/run/mod.ts");
    const finished = await finishedOutputs(`${dir}/out`);
    assert.equal(finished.size, 11);
    const resumedPlan = await staged(`${dir}/out`);
    assert.equal(resumedPlan.staging.outputs.size, 0, "nothing written ahead again");
    const again = await runPlan(resumedPlan, { keys, salt, workers: 2, staging: resumedPlan.staging });
    assert.equal(again.resumed, 11);
    assert.ok(stagingGone(`${dir}/out`));

    // What changed between the plan and the run is not taken from the staging folder: an input
    // changed since the plan read it, and a staged file that is not the one the plan wrote.
    const next = await staged(`${dir}/changed`);
    const [swapped, second] = next.files.filter((f) => next.stagedOf(f) !== undefined);
    // Taken before the run, which lets go of each staged output as it gets to it.
    const stagedIno = new Map([swapped, second].map((f) => [f, next.stagedOf(f)!.outcome.output!.ino]));
    const input = await Deno.readFile(second.input.path);
    await Deno.writeFile(second.input.path, input); // the same bytes, a later modification time
    await Deno.utime(second.input.path, new Date(), new Date(Date.now() + 5000));
    const swappedPath = next.stagedOf(swapped)!.path;
    await Deno.copyFile(swappedPath, `${swappedPath}.copy`);
    await Deno.rename(`${swappedPath}.copy`, swappedPath); // same bytes, another inode
    const changed = await runPlan(next, { keys, salt, workers: 2, staging: next.staging });
    assert.equal(changed.written, 11);
    const journal = (await Deno.readTextFile(`${dir}/changed/.dcmtidy/journal.jsonl`)).trim().split("\n")
      .map((l) => JSON.parse(l)).filter((e) => e.dest);
    const entry = journal.find((e) => e.input === second.input.path);
    assert.equal(
      entry.inputMtime,
      (await Deno.stat(second.input.path)).mtime!.getTime(),
      "written from the input as it is now",
    );
    for (const f of [swapped, second]) {
      const out = await Deno.lstat(`${dir}/changed/${f.dest}`);
      const e = journal.find((e) => e.dest === f.dest);
      assert.deepEqual(
        { ino: out.ino, size: out.size, mtimeMs: out.mtime!.getTime() },
        { ino: e.output.ino, size: e.output.size, mtimeMs: e.output.mtimeMs },
      );
      assert.notEqual(
        out.ino,
        stagedIno.get(f),
        `${f.input.rel} was written by the run, not staged`,
      );
    }
    assert.deepEqual(await treeHashes(`${dir}/changed`), await treeHashes(`${dir}/ref`));

    // An input edited after the plan read it, its modification time put back: its change time
    // tells (whole seconds here, so the edit comes a second later).
    const later = await staged(`${dir}/restored`);
    const edited = later.files.find((f) => later.stagedOf(f) !== undefined)!;
    const editedIno = later.stagedOf(edited)!.outcome.output!.ino;
    const original = await Deno.readFile(edited.input.path);
    const { mtime, atime } = await Deno.stat(edited.input.path);
    await new Promise((r) => setTimeout(r, 1100));
    const flipped = original.slice();
    flipped[flipped.length - 1] ^= 0xff; // the last Pixel Data byte
    await Deno.writeFile(edited.input.path, flipped);
    await Deno.utime(edited.input.path, atime!, mtime!);
    try {
      await runPlan(later, { keys, salt, workers: 2, staging: later.staging });
      const out = await Deno.readFile(`${dir}/restored/${edited.dest}`);
      assert.notEqual(
        (await Deno.lstat(`${dir}/restored/${edited.dest}`)).ino,
        editedIno,
      );
      assert.equal(out[out.length - 1], flipped[flipped.length - 1], "written from the input as it is now");
    } finally {
      await Deno.writeFile(edited.input.path, original);
    }

    // A shard writes ahead its own files only (they go by study: this dump has one, so all or none).
    const { shardOf } = await import("../src/plan/shard.ts");
    for (const k of [1, 2]) {
      const sharded = await staged(`${dir}/shard-${k}`, { k, n: 2 });
      for (const f of sharded.files.filter((f) => f.status === "write")) {
        assert.equal(
          sharded.stagedOf(f) !== undefined,
          shardOf(f.input, 2) === k,
          `shard ${k}: ${f.input.rel}`,
        );
      }
      await sharded.staging.remove();
    }

    // A run that refuses (a file it did not write is in the way) leaves nothing staged or placed.
    const blocked = await staged(`${dir}/blocked`);
    const first = blocked.files.find((f) => f.status === "write")!;
    await Deno.mkdir(`${dir}/blocked/${first.dest!.slice(0, first.dest!.lastIndexOf("/"))}`, {
      recursive: true,
    });
    await Deno.writeTextFile(`${dir}/blocked/${first.dest}`, "someone else's file\n");
    await assert.rejects(
      () => runPlan(blocked, { keys, salt, workers: 2, staging: blocked.staging }),
      /was not written by dcmtidy/,
    );
    assert.ok(stagingGone(`${dir}/blocked`));
    const placed = [...(await treeHashes(`${dir}/blocked`)).keys()];
    assert.deepEqual(placed, [`/${first.dest}`], "no output under its final name, the other file kept");
    assert.equal(await Deno.readTextFile(`${dir}/blocked/${first.dest}`), "someone else's file\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pool: outputs written ahead are moved into place a chunk at a time; a file in the way in a later chunk leaves the earlier chunks' files recorded", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-pool-" }));
  try {
    await dump(dir);
    await Deno.writeTextFile(`${dir}/p.yaml`, deidProtocol("chunks") + "key: ./key.csv\n");
    const { loadProtocol } = await import("../src/protocol/load.ts");
    const { makePlan } = await import("../src/plan/mod.ts");
    const { runPlan } = await import("../src/run/mod.ts");
    const { Keys } = await import("../src/deid/keys.ts");
    const salt = new TextEncoder().encode(SALT);
    const keys = new Keys(salt);
    const reference = await loadProtocol(`${dir}/p.yaml`, { output: `${dir}/ref`, env: () => SALT });
    await runPlan(await makePlan(reference, keys), { keys });
    const staged = async (output: string) => {
      const { plan, staging } = await planAhead(dir, output);
      // Each output's staged inode, by destination: a moved file keeps it.
      const inodes = new Map<string, number>();
      for (const [i, f] of plan.files.entries()) {
        const s = staging.outputs.get(i);
        if (s) inodes.set(f.dest!, s.outcome.output!.ino);
      }
      return { plan, staging, inodes };
    };
    const leftovers = (output: string) => {
      const found: string[] = [];
      const walk = (d: string) => {
        for (const e of Deno.readDirSync(d)) {
          if (e.isDirectory) walk(`${d}/${e.name}`);
          else if (e.name.includes("partial") || e.name.includes(".tmp")) found.push(`${d}/${e.name}`);
        }
      };
      walk(output);
      return found;
    };

    // 12 files in chunks of 5, 5 and 2: each chunk's moves go while the next is claimed.
    const run = await staged(`${dir}/out`);
    assert.equal(run.inodes.size, 12);
    const summary = await runPlan(run.plan, { keys, salt, workers: 2, staging: run.staging, chunk: 5 });
    assert.equal(summary.written, 12);
    assert.deepEqual(await treeHashes(`${dir}/out`), await treeHashes(`${dir}/ref`));
    for (const [dest, ino] of run.inodes) {
      assert.equal((await Deno.lstat(`${dir}/out/${dest}`)).ino, ino, `${dest} moved, not written again`);
    }
    const journal = await journalOf(`${dir}/out`);
    assert.equal(journal.filter((e) => e.claim).length, 12);
    assert.deepEqual(
      new Set(journal.filter((e) => e.dest).map((e) => e.dest)),
      new Set(run.inodes.keys()),
      "every file moved is recorded",
    );
    assert.deepEqual(leftovers(`${dir}/out`), []);
    // The key file's rows, gathered as the files were recorded: those of the outcomes, each once.
    const { keyRows, KEY_HEADER } = await import("../src/run/key_file.ts");
    const keyFile = await Deno.readTextFile(`${dir}/key.csv`);
    const expected = keyRows(run.plan, summary.outcomes).map((r) => r.join(",")).sort();
    assert.ok(expected.length > 0);
    assert.deepEqual(keyFile.trim().split("\n"), [KEY_HEADER.join(","), ...expected]);
    // Run again without the key file: every file is resumed, and its rows are gathered all the same.
    await Deno.remove(`${dir}/key.csv`);
    const again = await staged(`${dir}/out`);
    const resumed = await runPlan(again.plan, { keys, salt, workers: 2, staging: again.staging, chunk: 5 });
    assert.equal(resumed.resumed, 12);
    assert.equal(await Deno.readTextFile(`${dir}/key.csv`), keyFile);

    // A file not written by dcmtidy where the third chunk's first file goes: the run stops there,
    // after the first two chunks' files are in place and recorded, and with nothing left staged.
    const blocked = await staged(`${dir}/blocked`);
    const order = blocked.plan.files.filter((f) => f.status === "write").map((f) => f.dest!);
    const inTheWay = order[10];
    await Deno.mkdir(`${dir}/blocked/${inTheWay.slice(0, inTheWay.lastIndexOf("/"))}`, { recursive: true });
    await Deno.writeTextFile(`${dir}/blocked/${inTheWay}`, "someone else's file\n");
    await assert.rejects(
      () => runPlan(blocked.plan, { keys, salt, workers: 2, staging: blocked.staging, chunk: 5 }),
      /was not written by dcmtidy/,
    );
    const recorded = (await journalOf(`${dir}/blocked`)).filter((e) => e.dest).map((e) => e.dest);
    assert.deepEqual(new Set(recorded), new Set(order.slice(0, 10)), "the first two chunks' files");
    for (const dest of order.slice(0, 10)) {
      assert.equal((await Deno.lstat(`${dir}/blocked/${dest}`)).ino, blocked.inodes.get(dest));
    }
    for (const dest of order.slice(11)) {
      assert.equal(await Deno.lstat(`${dir}/blocked/${dest}`).catch(() => undefined), undefined, dest);
    }
    assert.equal(await Deno.readTextFile(`${dir}/blocked/${inTheWay}`), "someone else's file\n");
    assert.deepEqual(leftovers(`${dir}/blocked`), []);
    assert.ok(stagingGone(`${dir}/blocked`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pool: a run that resumes over several chunks finds a grown or touched input and a replaced or removed output in its later chunks", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-pool-" }));
  try {
    await dump(dir);
    await Deno.writeTextFile(`${dir}/p.yaml`, deidProtocol("resume-looks"));
    const { runPlan } = await import("../src/run/mod.ts");
    const { Keys } = await import("../src/deid/keys.ts");
    const salt = new TextEncoder().encode(SALT);
    const keys = new Keys(salt);
    const first = await planAhead(dir, `${dir}/out`);
    assert.equal(
      (await runPlan(first.plan, { keys, salt, workers: 2, staging: first.staging, chunk: 5 })).written,
      12,
    );
    const written = await treeHashes(`${dir}/out`);

    // Planned again (nothing is written ahead: every file is finished), then, in the second and third
    // chunks of 5 (the journal's lines are read a window at a time): an input grows, an
    // input is touched, an output is replaced, and a folder's file is removed.
    const again = await planAhead(dir, `${dir}/out`);
    const order = again.plan.files.filter((f) => f.status === "write");
    assert.equal(order.length, 12);
    const grown = order[6], touched = order[7], replaced = order[10], removed = order[11];
    await Deno.writeFile(grown.input.path, new Uint8Array(16), { append: true });
    const later = new Date(Date.now() + 5000);
    await Deno.utime(touched.input.path, later, later);
    await Deno.writeTextFile(`${dir}/out/${replaced.dest}`, "not the output any more\n");
    await Deno.remove(`${dir}/out/${removed.dest}`);
    const summary = await runPlan(again.plan, { keys, salt, workers: 2, staging: again.staging, chunk: 5 });
    assert.equal(summary.resumed, 8, "the first chunk's 5 and 3 of the others");
    assert.equal(summary.written, 11, "the resumed files and the 3 written again");
    assert.equal(summary.quarantined, 1);
    const grownAt = [...again.plan.files.entries()].find(([, f]) => f.dest === grown.dest)![0];
    const grownOutcome = summary.outcomes.get(grownAt);
    assert.match(grownOutcome?.status === "quarantined" ? grownOutcome.reason ?? "" : "", /changed/);
    // Written again as the first run wrote them (the grown input's output is what the first run left).
    assert.deepEqual(await treeHashes(`${dir}/out`), written);
    const lines = (await journalOf(`${dir}/out`)).slice(24);
    assert.deepEqual(
      new Set(lines.filter((e) => e.claim).map((e) => e.claim)),
      new Set([touched.dest, replaced.dest, removed.dest]),
      "only the files to write again are claimed",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pool: a chunk's moved files are recorded before the chunk before it writes what it could not move, and when that fails", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-pool-" }));
  try {
    await dump(dir);
    await Deno.writeTextFile(`${dir}/p.yaml`, deidProtocol("chunk-order"));
    const { runPlan } = await import("../src/run/mod.ts");
    const { Keys } = await import("../src/deid/keys.ts");
    const salt = new TextEncoder().encode(SALT);
    const keys = new Keys(salt);
    // The first file's input touched after the plan: its staged output is not moved, and the run
    // writes it while it finishes the first chunk of 5 (the second is prepared and moved by then).
    const planned = async (output: string) => {
      const { plan, staging } = await planAhead(dir, output);
      const order = plan.files.filter((f) => f.status === "write");
      const later = new Date(Date.now() + 5000);
      await Deno.utime(order[0].input.path, later, later);
      return { plan, staging, order };
    };

    const run = await planned(`${dir}/out`);
    await runPlan(run.plan, { keys, salt, workers: 2, staging: run.staging, chunk: 5 });
    const done = (await journalOf(`${dir}/out`)).filter((e) => e.dest).map((e) => e.dest);
    assert.equal(done.length, 12);
    assert.deepEqual(
      done.slice(0, 9),
      run.order.slice(1, 10).map((f) => f.dest),
      "the first two chunks' moved files, then the one written",
    );
    assert.equal(done[9], run.order[0].dest);

    // Writing it fails (sandboxed workers without the salt's bytes): the second chunk's moved files,
    // in place, are recorded all the same.
    const failing = await planned(`${dir}/failing`);
    await assert.rejects(
      () => runPlan(failing.plan, { keys, workers: 2, staging: failing.staging, chunk: 5 }),
      /salt's bytes/,
    );
    const recorded = new Set((await journalOf(`${dir}/failing`)).filter((e) => e.dest).map((e) => e.dest));
    const placed = failing.order.map((f) => f.dest!).filter((d) => {
      try {
        return Deno.statSync(`${dir}/failing/${d}`).isFile;
      } catch {
        return false;
      }
    });
    assert.ok(placed.length >= 9, `${placed.length} placed`);
    for (const d of placed) assert.ok(recorded.has(d), `${d} in place and recorded`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pool: an input made a FIFO after the plan read it is quarantined, never opened", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-pool-fifo-" }));
  try {
    await dump(dir);
    const { loadProtocol } = await import("../src/protocol/load.ts");
    const { makePlan } = await import("../src/plan/mod.ts");
    const { openStaging, runPlan } = await import("../src/run/mod.ts");
    const { Keys } = await import("../src/deid/keys.ts");
    const salt = new TextEncoder().encode(SALT);
    const keys = new Keys(salt);
    await Deno.writeTextFile(`${dir}/p.yaml`, deidProtocol("fifo"));
    await Deno.writeTextFile(`${dir}/copy.yaml`, sortOnly("copy", "./out"));
    await Deno.writeTextFile(`${dir}/q.yaml`, deidProtocol("fifo-q") + "quarantine: ./q\n");
    const fifo = `${dir}/raw/F003`;
    const original = await Deno.readFile(fifo);
    // De-identified in the workers, written ahead by the plan's workers, copied by this thread; and
    // with a quarantine folder, where quarantined inputs are copied (the FIFO is not).
    const ways = ["workers", "staged", "copy", "quarantine"] as const;
    const protocols = { workers: "p", staged: "p", copy: "copy", quarantine: "q" };
    for (const way of ways) {
      const output = `${dir}/out-${way}`;
      const p = await loadProtocol(`${dir}/${protocols[way]}.yaml`, {
        output,
        env: () => SALT,
      });
      await Deno.mkdir(output, { recursive: true });
      const staging = way === "staged" ? (await openStaging(p, 2))! : undefined;
      const plan = await makePlan(p, keys, undefined, { workers: 2, salt, ahead: staging?.ahead });
      await Deno.remove(fifo);
      const made = await new Deno.Command("mkfifo", { args: [fifo] }).output().then(
        (o) => o.success,
        () => false,
      );
      if (!made) {
        await Deno.writeFile(fifo, original);
        await staging?.remove();
        console.log("  (mkfifo not available: not checked)");
        return;
      }
      try {
        // A run that opened the FIFO would wait for a writer for ever: after 60 s the test opens it
        // for writing itself, which lets such a run go on, and fails.
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<"blocked">((resolve) =>
          timer = setTimeout(() => resolve("blocked"), 60_000)
        );
        const run = runPlan(plan, { keys, salt, workers: 2, staging });
        const first = await Promise.race([run, late]);
        clearTimeout(timer);
        if (first === "blocked") {
          (await Deno.open(fifo, { write: true })).close();
          await run.catch(() => {});
          assert.fail(`${way}: the run opened a FIFO and waited for a writer`);
        }
        assert.equal(first.written, 11, way);
        assert.equal(first.quarantined, 1, way);
        const reasons = [...first.outcomes.values()].map((o) => o.reason ?? "").filter((r) => r);
        assert.equal(reasons.length, 1, `${way}: ${reasons.join("; ")}`);
        assert.match(reasons[0], /not the file the plan read \(not a regular file now\)/, way);
        if (way === "quarantine") {
          assert.match(reasons[0], /not copied to quarantine: not a regular file/);
          assert.ok(!(await Deno.lstat(`${dir}/q/F003`).catch(() => undefined)), "nothing copied");
        }
      } finally {
        await Deno.remove(fifo);
        await Deno.writeFile(fifo, original);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pool: a plan and run that hold 2 records in memory (the rest in temporary files) write the same files and reports", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-pool-" }));
  try {
    await dump(dir);
    // One file quarantined by the run (replaced after the plan), one by the plan (cut short).
    const cut = await Deno.readFile(`${dir}/raw/F011`);
    await Deno.writeFile(`${dir}/raw/F011`, cut.subarray(0, cut.length - 10));
    // A duplicate (same bytes) and a file that shares a SOP Instance UID but not its bytes; two
    // files for one name (a collision).
    await Deno.copyFile(`${dir}/raw/F005`, `${dir}/raw/F005-copy`);
    const f006 = await Deno.readFile(`${dir}/raw/F006`);
    const twin = f006.slice();
    twin[twin.length - 1] ^= 0xff;
    await Deno.writeFile(`${dir}/raw/F006-twin`, twin);
    await Deno.writeTextFile(`${dir}/p.yaml`, deidProtocol("spill"));
    const { loadProtocol } = await import("../src/protocol/load.ts");
    const { makePlan, planJson } = await import("../src/plan/mod.ts");
    const { runPlan, openStaging } = await import("../src/run/mod.ts");
    const { Keys } = await import("../src/deid/keys.ts");
    const salt = new TextEncoder().encode(SALT);
    const keys = new Keys(salt);
    const reports = async (root: string) =>
      await Promise.all(
        [".dcmtidy/files.csv", "report.csv"].map(async (f) =>
          (await Deno.readTextFile(`${root}/${f}`)).replace(/\.dcmtidy[^,\n]*/g, "")
        ),
      );
    const original = await Deno.readFile(`${dir}/raw/F003`);
    const runs: {
      tree: Map<string, string>;
      reports: string[];
      plan: string;
      written: number;
      quarantined: number;
    }[] = [];
    for (const inMemory of [undefined, 2]) {
      const output = `${dir}/out-${inMemory ?? "all"}`;
      const p = await loadProtocol(`${dir}/p.yaml`, { output, env: () => SALT });
      await Deno.mkdir(output, { recursive: true });
      const staging = (await openStaging(p, 2, undefined, inMemory))!;
      const spill = inMemory ? { spill: { dir: () => `${output}/.dcmtidy`, inMemory } } : {};
      const plan = await makePlan(p, keys, undefined, { workers: 2, salt, ahead: staging.ahead, ...spill });
      const planText = JSON.stringify(planJson(plan, true)).replaceAll(output, "OUT");
      assert.equal(staging.outputs.size, 13, "the duplicate too: the workers do not know it is one");
      const replaced = plan.files.find((f) => f.input.rel === "F003")!;
      await Deno.writeFile(replaced.input.path, cut.subarray(0, 200)); // another size than the plan read
      const summary = await runPlan(plan, {
        keys,
        salt,
        workers: 2,
        staging,
        ...(inMemory ? { recordsInMemory: inMemory } : {}),
      });
      await Deno.writeFile(replaced.input.path, original);
      runs.push({
        tree: await treeHashes(output),
        reports: await reports(output),
        plan: planText,
        written: summary.written,
        quarantined: summary.quarantined,
      });
      assert.equal(summary.outcomes.size, 12);
      assert.equal([...summary.outcomes.values()].length, 12);
      // Nothing of the temporary files is left in the state folder.
      assert.deepEqual(
        [...Deno.readDirSync(`${output}/.dcmtidy`)].map((e) => e.name).filter((n) => n.includes("spill")),
        [],
      );
      summary.outcomes[Symbol.dispose]();
      plan.files.close();
    }
    assert.equal(runs[0].written, 11, JSON.stringify(runs[0].reports));
    assert.equal(runs[0].quarantined, 2);
    assert.match(runs[0].reports[0], /F005-copy,[^,]+,skipped,same SOP Instance UID and bytes as F005/);
    assert.match(runs[0].plan, /has the SOP Instance UID of F006 but other bytes/);
    assert.match(runs[0].plan, /is taken, written as [^"]*_2\.dcm/);
    assert.deepEqual(runs[1], runs[0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pool: retired workers: the rest take every job; with none left a map is refused", async () => {
  const { mapInPool, openPool } = await import("../src/workers/pool.ts");
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-pool-retire-" }));
  try {
    // A worker that answers each batch with its numbers doubled and its own name.
    await Deno.writeTextFile(
      `${dir}/w.ts`,
      `import { serveWorker } from ${
        JSON.stringify(new URL("../src/workers/serve.ts", import.meta.url).href)
      };
const me = crypto.randomUUID();
serveWorker<{ type: "init" } | { type: "jobs"; jobs: number[] }, { type: "done"; out: [number, string][] }>({
  init: () => {},
  handle: (msg) => ({ type: "done", out: msg.jobs.map((j) => [j * 2, me]) }),
});
`,
    );
    type In = { type: "init" } | { type: "jobs"; jobs: number[] };
    type Out = { type: "done"; out: [number, string][] };
    const pool = await openPool<In, Out>(new URL(`file://${dir}/w.ts`), 3, { read: true }, {
      type: "init",
    });
    try {
      const jobs = Array.from({ length: 40 }, (_, i) => i);
      const map = () =>
        mapInPool(pool, jobs, (batch): In => ({ type: "jobs", jobs: batch }), (m) => m.out, { maxBatch: 2 });
      const all = await map();
      assert.equal(new Set(all.map(([, w]) => w)).size, 3, "three workers at first");
      pool.retire(1);
      assert.equal(pool.workers.length, 1);
      const one = await map();
      assert.deepEqual(one.map(([n]) => n).sort((a, b) => a - b), jobs.map((j) => j * 2));
      assert.equal(new Set(one.map(([, w]) => w)).size, 1, "the one worker left took every job");
      pool.retire(0);
      await assert.rejects(map(), /workers are stopped/);
      // Nothing to do needs no worker.
      const none = await mapInPool(
        pool,
        [],
        (batch: number[]): In => ({ type: "jobs", jobs: batch }),
        (m) => m.out,
      );
      assert.deepEqual(none, []);
    } finally {
      pool.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pool: a plan that shows one diff keeps one worker for it: the same diffs as with every worker", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-pool-diffs-" }));
  try {
    await dump(dir);
    await Deno.writeTextFile(`${dir}/p.yaml`, deidProtocol("diffs"));
    const { loadProtocol } = await import("../src/protocol/load.ts");
    const { makePlan } = await import("../src/plan/mod.ts");
    const { Keys } = await import("../src/deid/keys.ts");
    const p = await loadProtocol(`${dir}/p.yaml`, { env: () => SALT });
    const salt = new TextEncoder().encode(SALT);
    const keys = new Keys(salt);
    const every = await makePlan(p, keys, undefined, { workers: 3, salt });
    const first = await makePlan(p, keys, undefined, { workers: 3, salt, diffs: 1 });
    assert.equal(every.series.length, 3);
    assert.ok(every.series.every((s) => s.changes && s.changes.length > 0));
    assert.deepEqual(first.series[0].changes, every.series[0].changes);
    assert.ok(first.series.slice(1).every((s) => s.changes.length === 0), "only the first series' diff");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pool: outputs written ahead are held as numbers and come back as set, past the bound too", async () => {
  const { StagedOutputs } = await import("../src/run/stage.ts");
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-pool-staged-" }));
  try {
    const held = new StagedOutputs(dir, 3);
    const fields = { PatientID: "P1", StudyDate: "20200101" };
    const counts = { X: 3, Z: 1 };
    const staged = (i: number) => ({
      path: `${dir}/${i}.partial`,
      input: {
        dev: 2049,
        ino: 1000 + i,
        size: 3000 + i,
        mtimeMs: 1764979200123.456 + i,
        ctimeMs: 1764979200999.5,
      },
      outcome: {
        status: "written" as const,
        output: { dev: 2049, ino: 5000 + i, size: 2900 + i, mtimeMs: 1764979300000.25 },
        bytes: 2900 + i,
        pseudoId: `PSEUDO${i % 2}`,
        dayOffset: -30,
        originalPatientId: `PID${i % 2}`,
        originalStudyUID: `1.2.3.${i % 2}`,
        newStudyUID: `2.25.${i % 2}`,
        fields,
        counts,
      },
    });
    for (let i = 0; i < 10; i++) assert.ok(held.set(i, staged(i)));
    assert.equal(held.size, 10);
    // What comes back: as set, without the original identities (never held, never journaled).
    const back = (i: number) => {
      const { originalPatientId: _id, originalStudyUID: _study, ...outcome } = staged(i).outcome;
      return { ...staged(i), outcome };
    };
    for (let i = 0; i < 10; i++) {
      const got = held.get(i)!;
      assert.deepEqual(got, back(i));
      // The fields in a worker's order: a journal line made from it is the same.
      assert.deepEqual(Object.keys(got.outcome), Object.keys(back(i).outcome));
    }
    assert.ok(held.delete(4));
    assert.equal(held.get(4), undefined);
    assert.equal(held.size, 9);
    // Not at its index's path, or without an identity to check it by: not held (the run writes it).
    assert.ok(!held.set(11, { ...staged(11), path: `${dir}/12.partial` }));
    assert.ok(!held.set(12, { ...staged(12), outcome: { ...staged(12).outcome, output: undefined } }));
    assert.equal(held.get(11), undefined);
    // A field of its own besides its output and size would be lost: not held either.
    const reasoned = staged(13);
    assert.ok(!held.set(13, { ...reasoned, outcome: { ...reasoned.outcome, reason: "why" } }));
    assert.equal(held.get(13), undefined);
    held.close();
    // Given a codec, the outputs are held through it: another map's outcomes through the same codec
    // find what a series shares already numbered (the run's outcomes and the staging's, held once).
    const { outcomeCodec } = await import("../src/run/process.ts");
    const codec = outcomeCodec<FileOutcome>();
    const sharing = new StagedOutputs(dir, 3, codec);
    for (let i = 0; i < 10; i++) assert.ok(sharing.set(i, staged(i)));
    const parts = new Set<number>();
    for (let i = 0; i < 10; i++) {
      const [part] = codec.encode({ index: i, ...back(i).outcome }) as [number, unknown];
      parts.add(part);
      assert.deepEqual(sharing.get(i), back(i));
    }
    assert.deepEqual([...parts].sort(), [0, 1], "the two combinations the staged outputs numbered");
    sharing.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
