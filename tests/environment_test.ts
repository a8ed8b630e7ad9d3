/**
 * The environment's faults are told in words, never as an internal error: a run whose output disk
 * fills up (a small tmpfs, mounted when the test may: root, mount allowed) stops with "the disk is
 * full", how many files were finished and that running again resumes; after making room, running
 * again gives the same tree as an uninterrupted run.
 *
 * @module
 */
import assert from "node:assert/strict";
import { buildDicom, type Node, sampleDataset, tag } from "./fixtures/builder.ts";
import { noteOnce, runCli, treeHashes } from "./helpers.ts";

const SALT = "environment-test-salt-0123456789";
const FILES = 12;

async function sh(cmd: string, args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output()).success;
  } catch {
    return false;
  }
}

Deno.test("a full output disk: said in words with what was kept; after making room, running again finishes the same tree", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-env-" }));
  const mnt = `${dir}/disk`;
  await Deno.mkdir(mnt);
  if (Deno.uid() !== 0 || !(await sh("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]))) {
    noteOnce(
      "environment: cannot mount a small tmpfs here (needs root and mount): the full-disk test is skipped",
    );
    await Deno.remove(dir, { recursive: true });
    return;
  }
  try {
    await Deno.mkdir(`${dir}/raw`);
    const pixels = new Uint8Array(200 * 1024).map((_, i) => (i * 7) & 0xff);
    for (let i = 1; i <= FILES; i++) {
      const nodes: Node[] = sampleDataset().map((n) => {
        if (!("tag" in n)) return n;
        if (n.tag === tag(0x0008, 0x0018)) return { ...n, value: `1.2.826.0.1.3680043.10.1000.55.${i}` };
        if (n.tag === tag(0x0020, 0x0013)) return { ...n, value: String(i) };
        if (n.tag === tag(0x7fe0, 0x0010)) return { ...n, vr: "OB", value: pixels } as Node;
        return n;
      });
      await Deno.writeFile(`${dir}/raw/IM${i}`, buildDicom(nodes));
    }
    await Deno.writeTextFile(
      `${dir}/p.yaml`,
      `version: 1\nname: env\ninput: { root: ./raw }\noutput: { root: ./disk/out }\n` +
        `deidentify:\n  salt: { env: DCMTIDY_SALT }\n`,
    );
    const env = { DCMTIDY_SALT: SALT };
    const full = await runCli(["run", "--yes", "--jobs", "1", `${dir}/p.yaml`], env);
    assert.equal(full.code, 1, full.stdout + full.stderr);
    assert.doesNotMatch(full.stderr, /internal error/);
    assert.match(full.stderr, /the disk is full \(no space left on device\)/);
    assert.match(full.stderr, /run the same command again: it resumes/);
    console.log(`full disk: ${full.stderr.trim().split("\n").pop()}`);

    // A read-only file system: said so, not an internal error; nothing changes on it.
    assert.ok(await sh("mount", ["-o", "remount,ro", mnt]), "remount read-only");
    const ro = await runCli(["run", "--yes", `${dir}/p.yaml`], env);
    assert.equal(ro.code, 1, ro.stdout + ro.stderr);
    assert.doesNotMatch(ro.stderr, /internal error/);
    assert.match(ro.stderr, /the file system is read-only/);

    assert.ok(await sh("mount", ["-o", "remount,rw,size=16m", mnt]), "remount with room");
    const again = await runCli(["run", "--yes", `${dir}/p.yaml`], env);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    const whole = await runCli(["run", "--yes", "--output", `${dir}/whole`, `${dir}/p.yaml`], env);
    assert.equal(whole.code, 0, whole.stderr);
    const a = await treeHashes(`${mnt}/out`);
    const b = await treeHashes(`${dir}/whole`);
    assert.equal(a.size, FILES + 1, "every file and the report");
    assert.deepEqual(a, b);
    assert.ok(![...a.keys()].some((p) => p.endsWith(".partial")), "no temporary files left");
  } finally {
    await sh("umount", [mnt]);
    await Deno.remove(dir, { recursive: true });
  }
});
