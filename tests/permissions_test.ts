/**
 * Least privilege: `dcmtidy permissions` prints the flags a command needs for a protocol; `run` and
 * `verify` under exactly those flags give the same bytes as an unrestricted run; what they leave
 * out (a file beside the inputs, the environment) cannot be read; a missing permission is said with
 * its flag, never as an internal error.
 *
 * @module
 */
import assert from "node:assert/strict";
import { buildDicom, type Node, sampleDataset, tag } from "./fixtures/builder.ts";
import { ROOT, runCli, treeHashes } from "./helpers.ts";

const SALT = "permissions-test-salt-0123456789";

async function deno(flags: string[], args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, `${ROOT}cli.ts`, ...args],
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("permissions: run and verify under exactly the printed flags give the same bytes; nothing else is readable", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-perm-" }));
  try {
    await Deno.mkdir(`${dir}/study/raw`, { recursive: true });
    for (let i = 1; i <= 4; i++) {
      const nodes: Node[] = sampleDataset().map((n) =>
        "tag" in n && n.tag === tag(0x0008, 0x0018)
          ? { ...n, value: `1.2.826.0.1.3680043.10.1000.44.${i}` }
          : n
      );
      await Deno.writeFile(`${dir}/study/raw/IM${i}`, buildDicom(nodes));
    }
    // A secret beside the study folder: no command may read it.
    await Deno.writeTextFile(`${dir}/secret.txt`, "not for dcmtidy");
    await Deno.writeTextFile(
      `${dir}/study/p.yaml`,
      "version: 1\nname: perm\ninput: { root: ./raw }\noutput: { root: ./out }\nkey: ./secure/key.csv\n" +
        "quarantine: ./quarantine\ndeidentify:\n  salt: { env: DCMTIDY_SALT }\n",
    );
    const env = { DCMTIDY_SALT: SALT, HOME: "/nonexistent", PATH: Deno.env.get("PATH") ?? "" };
    const flagsOf = async (command: string) => {
      const r = await runCli(["permissions", "--command", command, `${dir}/study/p.yaml`], env);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.split("\n")[0].split(" ");
    };
    const runFlags = await flagsOf("run");
    assert.ok(runFlags.every((f) => /^--allow-(read|write|env)=/.test(f)), runFlags.join(" "));
    assert.ok(!runFlags.some((f) => f.includes(`${dir}/secret.txt`) || f === `--allow-read=${dir}`));

    const narrow = await deno(runFlags, ["run", "--yes", `${dir}/study/p.yaml`], env);
    assert.equal(narrow.code, 0, narrow.stdout + narrow.stderr);
    const verify = await deno(await flagsOf("verify"), ["verify", `${dir}/study/p.yaml`], env);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);

    const wide = await runCli(["run", "--yes", "--output", `${dir}/wide`, `${dir}/study/p.yaml`], env);
    assert.equal(wide.code, 0, wide.stderr);
    assert.deepEqual(await treeHashes(`${dir}/study/out`), await treeHashes(`${dir}/wide`));

    // Under those flags the process cannot read what they leave out, and says which flag is missing.
    await Deno.writeTextFile(
      `${dir}/study/probe.ts`,
      `await Deno.readTextFile(${JSON.stringify(`${dir}/secret.txt`)});`,
    );
    const probe = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...runFlags, `${dir}/study/probe.ts`],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.notEqual(probe.code, 0);
    assert.match(new TextDecoder().decode(probe.stderr), /Requires read access/);

    // Too few flags: said with the flag, exit 2, never an internal error.
    const few = await deno(runFlags.filter((f) => !f.startsWith("--allow-write")), [
      "run",
      "--yes",
      "--output",
      `${dir}/study/out2`,
      `${dir}/study/p.yaml`,
    ], env);
    assert.equal(few.code, 2, few.stdout + few.stderr);
    assert.match(
      few.stderr,
      /a Deno permission is missing \(--allow-write; dcmtidy permissions PROTOCOL prints them\)/,
    );
    assert.doesNotMatch(few.stderr, /internal error/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a TypeScript protocol that reads outside its folder when it loads is refused, exit 2, and nothing of the file leaks", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-tsperm-" }));
  try {
    await Deno.mkdir(`${dir}/study/raw`, { recursive: true });
    await Deno.writeFile(`${dir}/study/raw/IM1`, buildDicom(sampleDataset()));
    await Deno.writeTextFile(`${dir}/outside.txt`, "SECRET-OUTSIDE-VALUE");
    await Deno.writeTextFile(
      `${dir}/study/p.ts`,
      `import { defineProtocol } from "${ROOT}mod.ts";
const stolen = await Deno.readTextFile(${JSON.stringify(`${dir}/outside.txt`)});
export default defineProtocol({
  version: 1, name: "steal", input: { root: "./raw" },
  output: { root: "./out", path: "{pseudo_id}", file: "{InstanceNumber:04}.dcm" },
  deidentify: { salt: { env: "DCMTIDY_SALT" }, tags: { StudyDescription: { replace: stolen } } },
});
`,
    );
    const env = { DCMTIDY_SALT: SALT };
    for (const command of [["validate"], ["run", "--yes"]]) {
      const r = await runCli([...command, `${dir}/study/p.ts`], env);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(
        r.stderr,
        /Requires read access to .*outside\.txt.*a TypeScript protocol may read only its own folder/,
      );
      assert.doesNotMatch(r.stdout + r.stderr, /SECRET-OUTSIDE-VALUE|internal error/);
    }
    const written = await Array.fromAsync(Deno.readDir(`${dir}/study`));
    assert.ok(!written.some((e) => e.name === "out"), "nothing written");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plan --out: never over an input, the key file, the protocol or a file that is not a plan; owner-only", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-planout-" }));
  try {
    await Deno.mkdir(`${dir}/study/raw`, { recursive: true });
    await Deno.mkdir(`${dir}/study/secure`);
    await Deno.writeFile(`${dir}/study/raw/IM1`, buildDicom(sampleDataset()));
    await Deno.writeTextFile(`${dir}/notes.txt`, "mine");
    const protocol = `${dir}/study/p.yaml`;
    await Deno.writeTextFile(
      protocol,
      "version: 1\nname: planout\ninput: { root: ./raw }\noutput: { root: ./out }\nkey: ./secure/key.csv\n" +
        "deidentify:\n  salt: { env: DCMTIDY_SALT }\n",
    );
    const env = { DCMTIDY_SALT: SALT };
    for (
      const [out, why] of [
        [`${dir}/study/raw/IM1`, /inside the input root/],
        [`${dir}/study/raw/plan.json`, /inside the input root/],
        [protocol, /is the protocol: not replaced/],
        [`${dir}/notes.txt`, /exists and is not a plan: not replaced/],
        [dir, /is a folder/],
        [`${dir}/nowhere/plan.json`, /does not exist/],
      ] as const
    ) {
      const r = await runCli(["plan", "--out", out, protocol], env);
      assert.equal(r.code, 2, `${out}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, why, out);
    }
    assert.equal(await Deno.readTextFile(`${dir}/notes.txt`), "mine");
    const ok = await runCli(["plan", "--out", `${dir}/plan.json`, protocol], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((await Deno.stat(`${dir}/plan.json`)).mode! & 0o777, 0o600);
    const again = await runCli(["plan", "--out", `${dir}/plan.json`, protocol], env);
    assert.equal(again.code, 0, "a plan may replace a plan");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("roots reached through a symlinked folder (a mount link): scan and run narrow themselves and work", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-perm-link-" }));
  try {
    await Deno.mkdir(`${dir}/real/raw`, { recursive: true });
    for (let i = 1; i <= 3; i++) {
      const nodes: Node[] = sampleDataset().map((n) =>
        "tag" in n && n.tag === tag(0x0008, 0x0018)
          ? { ...n, value: `1.2.826.0.1.3680043.10.1000.45.${i}` }
          : n
      );
      await Deno.writeFile(`${dir}/real/raw/IM${i}`, buildDicom(nodes));
    }
    await Deno.symlink(`${dir}/real`, `${dir}/link`);
    await Deno.mkdir(`${dir}/study`);
    // The output root does not exist yet: it is made under the linked folder.
    await Deno.writeTextFile(
      `${dir}/study/p.yaml`,
      `version: 1\nname: link\ninput: { root: ${dir}/link/raw }\noutput: { root: ${dir}/link/out }\n` +
        `key: ${dir}/link/key.csv\ndeidentify:\n  salt: { env: DCMTIDY_SALT }\n`,
    );
    const env = { DCMTIDY_SALT: SALT, HOME: "/nonexistent", PATH: Deno.env.get("PATH") ?? "" };
    // As `deno task dcmtidy` starts it: the process narrows itself to what the protocol needs.
    const wide = ["--allow-read", "--allow-write", "--allow-env", "--allow-run=deno"];
    const scan = await deno(wide, ["scan", "--shard", "1/1", `${dir}/study/p.yaml`], env);
    assert.equal(scan.code, 0, scan.stdout + scan.stderr);
    // The shard from a Slurm job array, in the narrowed process too.
    const slurm = {
      ...env,
      SLURM_ARRAY_TASK_ID: "1",
      SLURM_ARRAY_TASK_MIN: "1",
      SLURM_ARRAY_TASK_COUNT: "1",
    };
    const fromEnv = await deno(wide, ["scan", "--shard-from-env", `${dir}/study/p.yaml`], slurm);
    assert.equal(fromEnv.code, 0, fromEnv.stdout + fromEnv.stderr);
    const run = await deno(wide, ["run", "--yes", `${dir}/study/p.yaml`], env);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /3 written/);
    const flags = (await runCli(["permissions", "--command", "scan", `${dir}/study/p.yaml`], env)).stdout;
    assert.match(flags, new RegExp(`--allow-write=${dir}/link/out,${dir}/real/out `));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "with the task's flags (--allow-ffi) the process started becomes the narrowed one, and writes what a child would",
  ignore: Deno.build.os !== "linux", // it looks at the process in /proc
  fn: async () => {
    const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-perm-exec-" }));
    try {
      await Deno.mkdir(`${dir}/raw`);
      for (let i = 1; i <= 3; i++) {
        const nodes: Node[] = sampleDataset().map((n) =>
          "tag" in n && n.tag === tag(0x0008, 0x0018)
            ? { ...n, value: `1.2.826.0.1.3680043.10.1000.46.${i}` }
            : n
        );
        await Deno.writeFile(`${dir}/raw/IM${i}`, buildDicom(nodes));
      }
      // The same protocol in two folders: one run each way.
      for (const way of ["child", "replaced"]) {
        await Deno.mkdir(`${dir}/${way}`);
        await Deno.writeTextFile(
          `${dir}/${way}/p.yaml`,
          "version: 1\nname: exec\ninput: { root: ../raw }\noutput: { root: ./out }\nkey: ./key.csv\n" +
            "deidentify:\n  salt: { env: DCMTIDY_SALT }\n",
        );
      }
      const env = { DCMTIDY_SALT: SALT, HOME: "/nonexistent", PATH: Deno.env.get("PATH") ?? "" };
      const wide = ["--allow-read", "--allow-write", "--allow-env", "--allow-run=deno"];
      // Without --allow-ffi: a narrowed child, started and waited for.
      const child = await deno(wide, ["run", "--yes", `${dir}/child/p.yaml`], env);
      assert.equal(child.code, 0, child.stdout + child.stderr);

      const started = new Deno.Command(Deno.execPath(), {
        args: ["run", ...wide, "--allow-ffi", `${ROOT}cli.ts`, "run", "--yes", `${dir}/replaced/p.yaml`],
        // Said from outside, a parent to watch is not passed on (the process has none of ours).
        env: { ...env, DCMTIDY_PARENT_WAITS: "1" },
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      // The process started turns into the narrowed one (its command line has the narrowed flags).
      let narrowedCommand = "";
      let narrowedEnv: string[] = [];
      for (let i = 0; i < 2000 && !narrowedCommand; i++) {
        try {
          const cmdline = (await Deno.readTextFile(`/proc/${started.pid}/cmdline`)).split("\0");
          if (cmdline.includes("--no-prompt")) {
            narrowedEnv = (await Deno.readTextFile(`/proc/${started.pid}/environ`)).split("\0");
            narrowedCommand = cmdline.join(" ");
          }
        } catch {
          break; // gone
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      const replaced = await started.output();
      const text = (b: Uint8Array) => new TextDecoder().decode(b);
      assert.equal(replaced.code, 0, text(replaced.stdout) + text(replaced.stderr));
      assert.match(narrowedCommand, new RegExp(`--allow-write=${dir}/replaced `), narrowedCommand);
      assert.ok(!narrowedCommand.includes("--allow-ffi"), narrowedCommand);
      assert.ok(narrowedEnv.some((v) => v.startsWith("DCMTIDY_NARROWED=--allow-read=")), "its flags said");
      assert.ok(!narrowedEnv.some((v) => v.startsWith("DCMTIDY_PARENT_WAITS=")), "no parent to watch");
      assert.ok(narrowedEnv.includes(`DCMTIDY_SALT=${SALT}`), "the rest of the environment");
      assert.ok(narrowedEnv.includes("MALLOC_ARENA_MAX=1"), "one malloc arena");
      assert.match(text(replaced.stdout), /3 written/);
      assert.deepEqual(await treeHashes(`${dir}/replaced/out`), await treeHashes(`${dir}/child/out`));
      assert.equal(
        await Deno.readTextFile(`${dir}/replaced/key.csv`),
        await Deno.readTextFile(`${dir}/child/key.csv`),
      );
      // A process that does not narrow (DCMTIDY_NARROW=0) gives FFI up before it touches data.
      await Deno.mkdir(`${dir}/kept`);
      await Deno.copyFile(`${dir}/child/p.yaml`, `${dir}/kept/p.yaml`);
      const kept = await deno([...wide, "--allow-ffi"], ["run", "--yes", `${dir}/kept/p.yaml`], {
        ...env,
        DCMTIDY_NARROW: "0",
      });
      assert.equal(kept.code, 0, kept.stdout + kept.stderr);
      const audit = JSON.parse(await Deno.readTextFile(`${dir}/kept/out/.dcmtidy/audit.json`));
      assert.match(audit.permissions, /read: all/);
      assert.doesNotMatch(audit.permissions, /ffi: all/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
