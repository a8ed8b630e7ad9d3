/**
 * End to end, as a user runs it: `plan`, `run --yes` (sandboxed workers) and `verify` through the
 * command line, on a built raw dump and on ../shared/corpus. Every input is accounted for, every
 * output reads in dcmdump, verify passes, and the input tree is byte-identical afterwards.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { buildRawDump } from "./fixtures/raw_dump.ts";
import { readFileRows } from "../src/verify/records.ts";
import { CORPUS, hasTool, noteOnce, runCli, runTool } from "./helpers.ts";

const SALT = "e2e-test-salt-0123456789";

/** Every file under a folder: sha256 of its bytes and its modification time. */
async function snapshot(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory) await walk(p);
      else {
        const st = await Deno.lstat(p);
        const hash = e.isFile ? createHash("sha256").update(await Deno.readFile(p)).digest("hex") : "link";
        out.set(p.slice(root.length), `${hash} ${st.mtime?.getTime()} ${st.size}`);
      }
    }
  };
  await walk(root);
  return out;
}

function protocol(input: string, dir: string): string {
  return `version: 1
name: e2e
input: { root: ${JSON.stringify(input)} }
output: { root: ${
    JSON.stringify(`${dir}/tidy`)
  }, path: "{pseudo_id}/%t_%x/%s_%d", file: "{InstanceNumber:04}.dcm" }
key: ${JSON.stringify(`${dir}/secure/key.csv`)}
deidentify:
  options: [retain-longitudinal-modified-dates, clean-descriptors]
  salt: { env: DCMTIDY_SALT }
  patient_id: { hash: { prefix: "SUBJ-", length: 8 } }
  dates: { shift: { min_days: -730, max_days: -30 } }
  private_tags: keep-safe
  burned_in: warn
  tags:
    "(0010,0010)": { replace: "{pseudo_id}" }
`;
}

async function endToEnd(input: string): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-e2e-" }));
  const env = { DCMTIDY_SALT: SALT };
  try {
    const yaml = `${dir}/study.yaml`;
    await Deno.writeTextFile(yaml, protocol(input, dir));
    const before = await snapshot(input);

    const plan = await runCli(["plan", "--out", `${dir}/plan.json`, yaml], env);
    assert.equal(plan.code, 0, plan.stdout + plan.stderr);
    const planned = JSON.parse(await Deno.readTextFile(`${dir}/plan.json`)) as {
      totals: { write: number; skip: number; quarantine: number };
      files: unknown[];
    };
    assert.equal(planned.files.length, before.size, "the plan lists every input file");

    const run = await runCli(["run", "--yes", "--jobs", "2", yaml], env);
    assert.ok(run.code === 0 || run.code === 3, run.stdout + run.stderr);
    const rows = await readFileRows(`${dir}/tidy`);
    assert.deepEqual(
      rows.map((r) => `/${r.input}`).sort(),
      [...before.keys()].sort(),
      "files.csv has one row per input file",
    );
    const count = (s: string) => rows.filter((r) => r.status === s).length;
    const [written, skipped, quarantined] = [count("written"), count("skipped"), count("quarantined")];
    assert.equal(written + skipped + quarantined, before.size, "written + skipped + quarantined = scanned");
    assert.match(
      run.stdout,
      new RegExp(`${written} written, .* ${skipped} skipped, ${quarantined} quarantined`),
    );
    assert.equal(run.code, quarantined > 0 ? 3 : 0);
    assert.ok(written > 0);

    if (await hasTool("dcmdump")) {
      for (const r of rows.filter((r) => r.status === "written")) {
        const dump = await runTool("dcmdump", ["-q", `${dir}/tidy/${r.output}`]);
        assert.equal(dump!.code, 0, `dcmdump ${r.output}: ${dump!.stderr}`);
      }
    }

    const verify = await runCli(["verify", yaml], env);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, new RegExp(`${written} of ${written} written outputs read back`));
    assert.match(verify.stdout, /no findings/);

    assert.deepEqual(await snapshot(input), before, "the input tree is byte-identical, mtimes included");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("e2e: plan, run and verify on a built raw dump", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-e2e-raw-" }));
  try {
    const dump = await buildRawDump(dir);
    assert.equal((await snapshot(dir)).size, dump.files);
    await endToEnd(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("e2e: plan, run and verify on ../shared/corpus", async () => {
  try {
    await Deno.stat(CORPUS);
  } catch {
    noteOnce("../shared/corpus not found: the corpus end-to-end test is skipped");
    return;
  }
  await endToEnd(CORPUS.replace(/\/$/, ""));
});
