/**
 * Crash safety: a run killed with SIGKILL after some files, then run again, gives a tree
 * byte-identical to an uninterrupted run, with no temporary files left behind.
 */
import assert from "node:assert/strict";
import { buildDicom, type Node, sampleDataset, tag } from "./fixtures/builder.ts";
import { killCliWhen, runCli, treeHashes } from "./helpers.ts";

const SALT = "crash-test-salt-0123456789";
const FILES = 80;

Deno.test("crash: SIGKILL mid-run, run again: same tree as an uninterrupted run, no partial files", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-crash-" }));
  try {
    await Deno.mkdir(`${dir}/raw`);
    // Large enough Pixel Data that the kill lands while files are being written.
    const pixels = new Uint8Array(2 * 1024 * 1024).map((_, i) => i & 0xff);
    for (let i = 1; i <= FILES; i++) {
      const nodes: Node[] = sampleDataset().map((n) => {
        if (!("tag" in n)) return n;
        if (n.tag === tag(0x0008, 0x0018)) return { ...n, value: `1.2.826.0.1.3680043.10.1000.8.${i}` };
        if (n.tag === tag(0x0020, 0x0013)) return { ...n, value: String(i) };
        if (n.tag === tag(0x0010, 0x0020)) return { ...n, value: `PID-${i % 4}` };
        if (n.tag === tag(0x7fe0, 0x0010)) return { ...n, vr: "OB", value: pixels } as Node;
        return n;
      });
      await Deno.writeFile(`${dir}/raw/IM${i}`, buildDicom(nodes));
    }
    // One protocol (its sha256 is in every file's DeidentificationMethod); --output picks the tree.
    await Deno.writeTextFile(
      `${dir}/a.yaml`,
      `version: 1\nname: crash\ninput: { root: ./raw }\noutput: { root: ./killed }\n` +
        `deidentify:\n  salt: { env: DCMTIDY_SALT }\n`,
    );

    // Finished files only (the journal also holds the run's claims, written up front), or files
    // written ahead into the staging folder while the plan surveys (with --yes most files are
    // written there, then renamed into place at once: the kill must land before that).
    const lines = await killCliWhen(
      ["run", "--yes", "--jobs", "1", `${dir}/a.yaml`],
      { DCMTIDY_SALT: SALT },
      `${dir}/killed/.dcmtidy/journal.jsonl`,
      (l) => l.includes('"dest"'),
      5,
      `${dir}/killed/.dcmtidy`,
    );
    assert.ok(lines >= 5 && lines < FILES, `killed after ${lines} of ${FILES} files`);

    const again = await runCli(["run", "--yes", `${dir}/a.yaml`], { DCMTIDY_SALT: SALT });
    assert.equal(again.code, 0, again.stderr);
    const whole = await runCli(["run", "--yes", "--output", `${dir}/whole`, `${dir}/a.yaml`], {
      DCMTIDY_SALT: SALT,
    });
    assert.equal(whole.code, 0, whole.stderr);
    const a = await treeHashes(`${dir}/killed`);
    const b = await treeHashes(`${dir}/whole`);
    assert.equal(a.size, FILES + 1, "every file and the report");
    assert.deepEqual(a, b);
    assert.ok(![...a.keys()].some((p) => p.endsWith(".partial")), "no temporary files left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
