/**
 * The run's workers are sandboxed: a TypeScript protocol hook that reads a file outside the
 * inputs, opens the network, reads the environment or starts a program is refused, its file is
 * quarantined with that reason, and the run goes on. A template cannot leave the output root.
 */
import assert from "node:assert/strict";
import { buildDicom, type Node, sampleDataset, tag } from "./fixtures/builder.ts";
import { ROOT, runCli } from "./helpers.ts";

const SALT = "sandbox-test-salt-0123456789";

function withDescription(text: string): Node[] {
  return [...sampleDataset(), { tag: tag(0x0008, 0x103e), vr: "LO", value: text }].map((n) =>
    "tag" in n && n.tag === tag(0x0008, 0x0018)
      ? { ...n, value: `1.2.826.0.1.3680043.10.1000.9.${text.length}` }
      : n
  );
}

Deno.test("sandbox: hooks cannot read files, the network, the environment or run programs", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-sandbox-" }));
  try {
    await Deno.mkdir(`${dir}/raw`);
    const cases = ["read", "fetch", "env", "command", "fine"];
    for (const c of cases) await Deno.writeFile(`${dir}/raw/${c}.dcm`, buildDicom(withDescription(c)));
    await Deno.writeTextFile(
      `${dir}/study.ts`,
      `import { defineProtocol } from "${ROOT}mod.ts";
export default defineProtocol({
  version: 1, name: "sandbox", input: { root: "./raw" },
  output: { root: "./tidy", path: "{pseudo_id}", file: "{InstanceNumber:04}.dcm" },
  deidentify: {
    salt: { env: "DCMTIDY_SALT" }, burned_in: "allow",
    tags: { SeriesDescription: { fn: "probe" } },
  },
  hooks: {
    probe: (value) => {
      if (value === "read") return Deno.readTextFileSync("/etc/passwd").slice(0, 10);
      if (value === "fetch") return fetch("http://127.0.0.1:9/") as unknown as string;
      if (value === "env") return Deno.env.get("DCMTIDY_SALT") ?? "no-salt";
      if (value === "command") return new TextDecoder().decode(new Deno.Command("true").outputSync().stdout);
      return "OK";
    },
  },
});
`,
    );
    const run = await runCli(["run", "--yes", "--jobs", "2", `${dir}/study.ts`], { DCMTIDY_SALT: SALT });
    assert.equal(run.code, 3, run.stdout + run.stderr);
    assert.ok(!(run.stdout + run.stderr).includes(SALT));
    const files = await Deno.readTextFile(`${dir}/tidy/.dcmtidy/files.csv`);
    const row = (name: string) => files.split("\n").find((l) => l.startsWith(`${name}.dcm,`)) ?? "";
    assert.match(row("read"), /quarantined,.*Requires read access to ""\/etc\/passwd""/);
    // A promise is refused whatever it would do; the worker has no net permission either.
    assert.match(row("fetch"), /quarantined,.*must return a string or undefined, synchronously/);
    assert.match(row("env"), /quarantined,.*Requires env access to ""DCMTIDY_SALT""/);
    assert.match(row("command"), /quarantined,.*Requires run access/);
    assert.match(row("fine"), /written/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sandbox: an input root reached through a symlink, and followed links out of it, are readable", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-sandbox-link-" }));
  try {
    await Deno.mkdir(`${dir}/disk/raw`, { recursive: true });
    await Deno.mkdir(`${dir}/elsewhere`);
    for (const name of ["a", "bb"]) {
      await Deno.writeFile(`${dir}/disk/raw/${name}.dcm`, buildDicom(withDescription(name)));
    }
    await Deno.writeFile(`${dir}/elsewhere/ccc.dcm`, buildDicom(withDescription("ccc")));
    await Deno.symlink(`${dir}/disk/raw`, `${dir}/raw`); // like macOS /tmp, or a mount link
    await Deno.symlink(`${dir}/elsewhere/ccc.dcm`, `${dir}/disk/raw/linked.dcm`);
    await Deno.writeTextFile(
      `${dir}/study.yaml`,
      `version: 1\nname: links\ninput: { root: ./raw, follow_symlinks: true }\noutput: { root: ./tidy }\n` +
        `deidentify:\n  salt: { env: DCMTIDY_SALT }\n  burned_in: allow\n`,
    );
    const run = await runCli(["run", "--yes", "--jobs", "2", `${dir}/study.yaml`], { DCMTIDY_SALT: SALT });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const files = await Deno.readTextFile(`${dir}/tidy/.dcmtidy/files.csv`);
    assert.equal(files.split("\n").filter((l) => l.includes(",written,")).length, 3, files);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sandbox: the placer may read and write the output root, read its code and the input roots, and nothing else", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-sandbox-" }));
  try {
    await Deno.mkdir(`${dir}/raw`);
    await Deno.mkdir(`${dir}/real-out`);
    // The output root through a link: Deno checks the resolved path, so both are granted.
    await Deno.symlink(`${dir}/real-out`, `${dir}/out`);
    await Deno.writeTextFile(
      `${dir}/p.yaml`,
      `version: 1\nname: placer\ninput: { root: ./raw }\noutput: { root: ./out }\n`,
    );
    const { loadProtocol } = await import("../src/protocol/load.ts");
    const { placerPermissions } = await import("../src/run/placer.ts");
    const perms = placerPermissions(await loadProtocol(`${dir}/p.yaml`));
    const code = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
    assert.deepEqual(perms.write, [`${dir}/out`, `${dir}/real-out`]);
    assert.deepEqual(perms.read, [code, `${dir}/out`, `${dir}/real-out`, `${dir}/raw`]);
    for (const k of ["net", "env", "run", "ffi", "sys", "import"] as const) assert.equal(perms[k], false, k);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
