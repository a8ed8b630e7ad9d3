/**
 * Same output before and after a change: runs this checkout's `dcmtidy run --yes` and that of an
 * earlier commit (a git worktree made for it) on the same input with the same salt, for every
 * example protocol, and compares the two output trees (plus the report, key and audit files)
 * byte for byte. In the state folder's JSON (journal, audit record), the run's times and the
 * written files' inodes are left out and journal lines sorted (workers finish in any order);
 * everything else must be identical.
 *
 *   deno run -A bench/same_output.ts [--against REF] [--input DIR]
 *
 * REF defaults to `origin/main` when there is one, else `HEAD`; DIR to `../shared/corpus`.
 * Exit code 0 when every tree is identical, 1 otherwise (the differences are listed).
 */
import { join, relative, resolve } from "node:path";

const args = Deno.args;
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const here = resolve(new URL("..", import.meta.url).pathname);
const input = resolve(opt("--input") ?? join(here, "../shared/corpus"));
const against = opt("--against") ?? "HEAD";

async function sh(cmd: string, argv: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const out = await new Deno.Command(cmd, {
    args: argv,
    cwd: opts.cwd,
    env: opts.env,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** Every regular file and link under `dir`, relative path to its bytes (a link: its target). */
async function tree(dir: string): Promise<Map<string, Uint8Array | string>> {
  const out = new Map<string, Uint8Array | string>();
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = join(d, e.name);
      if (e.isDirectory) await walk(p);
      else if (e.isSymlink) out.set(relative(dir, p), `-> ${await Deno.readLink(p)}`);
      else out.set(relative(dir, p), await Deno.readFile(p));
    }
  };
  try {
    await walk(dir);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out;
}

/**
 * What may differ between two runs of one build: the run's times, the written files' identities
 * (inode, device, time) and the order in which workers finished (journal lines are sorted).
 */
const VOLATILE = new Set([
  "dev",
  "ino",
  "mtimeMs",
  "ctimeMs",
  "durationSeconds",
  "started",
  "finished",
  "at",
]);
function normalise(path: string, bytes: Uint8Array | string): Uint8Array | string {
  if (typeof bytes === "string") return bytes;
  if (!/(^|\/)\.dcmtidy\/[^/]*\.(json|jsonl)$/.test(path)) return bytes;
  const strip = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(strip)
      : v && typeof v === "object"
      ? Object.fromEntries(Object.entries(v).filter(([k]) => !VOLATILE.has(k)).map(([k, x]) => [k, strip(x)]))
      : v;
  const text = new TextDecoder().decode(bytes);
  if (path.endsWith(".json")) return JSON.stringify(strip(JSON.parse(text)));
  return text.split("\n").filter((l) => l.trim()).map((l) => JSON.stringify(strip(JSON.parse(l)))).sort()
    .join("\n");
}

const same = (a: Uint8Array | string, b: Uint8Array | string) => {
  if (typeof a === "string" || typeof b === "string") return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

try {
  await Deno.stat(input);
} catch {
  console.log(`same_output: ${input} is absent; nothing to compare`);
  Deno.exit(0);
}

const work = await Deno.makeTempDir({ prefix: "dcmtidy-same-" });
const old = join(work, "old");
const add = await sh("git", ["worktree", "add", "--detach", old, against], { cwd: here });
if (add.code !== 0) {
  console.error(add.stderr);
  Deno.exit(2);
}
const rev = (await sh("git", ["rev-parse", "--short", against], { cwd: here })).stdout.trim();
let failed = false;
try {
  const protocols = [...Deno.readDirSync(join(here, "examples"))]
    .map((e) => e.name)
    .filter((n) => n.endsWith(".yaml"))
    .sort();
  for (const name of protocols) {
    const results: Map<string, Uint8Array | string>[] = [];
    for (const [label, code] of [["old", old], ["new", here]] as const) {
      const dir = join(work, `${name}-${label}`);
      // The protocol's report and key paths are relative to it: a copy per side keeps them apart.
      const text = (await Deno.readTextFile(join(here, "examples", name)))
        .replace(/^key: .*$/m, "key: ./key.csv")
        .replace(/^report: .*$/m, "report: ./report.csv");
      await Deno.mkdir(dir, { recursive: true });
      await Deno.writeTextFile(join(dir, "protocol.yaml"), text);
      // Files a protocol names beside itself (dcm2dir's config).
      for (const e of Deno.readDirSync(join(here, "examples"))) {
        if (e.isFile && e.name.endsWith(".json")) {
          await Deno.copyFile(join(here, "examples", e.name), join(dir, e.name));
        }
      }
      const r = await sh(
        "deno",
        [
          "run",
          "-A",
          join(code, "cli.ts"),
          "run",
          "protocol.yaml",
          "--input",
          input,
          "--output",
          "out",
          "--yes",
        ],
        { cwd: dir, env: { DCMTIDY_SALT: "same-output-check-salt-0001", NO_COLOR: "1" } },
      );
      if (r.code !== 0 && r.code !== 3) {
        console.error(`${name} (${label}): exit ${r.code}\n${r.stderr}`);
        failed = true;
      }
      const files = await tree(dir);
      files.delete("protocol.yaml");
      for (const p of [...files.keys()]) if (!p.includes("/") && p.endsWith(".json")) files.delete(p);
      results.push(new Map([...files].map(([p, b]) => [p, normalise(p, b)])));
    }
    const [a, b] = results;
    const diffs: string[] = [];
    for (const [p, bytes] of a) {
      if (!b.has(p)) diffs.push(`only before: ${p}`);
      else if (!same(bytes, b.get(p)!)) diffs.push(`differs: ${p}`);
    }
    for (const p of b.keys()) if (!a.has(p)) diffs.push(`only after: ${p}`);
    const outputs = [...a.keys()].filter((p) => p.startsWith("out/") && !p.includes("/.dcmtidy/")).length;
    if (diffs.length) {
      failed = true;
      console.log(`${name}: ${diffs.length} differences against ${rev}`);
      for (const d of diffs.slice(0, 20)) console.log(`  ${d}`);
    } else console.log(`${name}: identical to ${rev} (${a.size} files, ${outputs} outputs)`);
  }
} finally {
  await sh("git", ["worktree", "remove", "--force", old], { cwd: here });
  await Deno.remove(work, { recursive: true }).catch(() => {});
}
Deno.exit(failed ? 1 : 0);
