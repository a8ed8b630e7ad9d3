/**
 * The per-file engine of this checkout against an earlier commit's, in one process: both are
 * imported (the earlier one from a git worktree made for it), the files of a folder are read into
 * memory once, and rounds of parse, `planFile` (de-identification with the basic profile and a
 * date shift, the output's name) and encode (gathered as the write does) alternate between the
 * two, so a slow moment of the machine falls on both. Prints each phase's best round per file and
 * whether the two gave the same bytes and the same facts for every file.
 *
 *   deno run -A bench/engine_ab.ts [--against REF] [--dir DIR] [--rounds N]
 *
 * REF defaults to `HEAD` (what the working tree changed); DIR to the small-file case's 3,000-file
 * tree when it is cached (`deno task bench --only small --quick` makes it), else `../shared/corpus`;
 * N to 6 (the first is left out: both are still compiling). No disk, worker or message is timed:
 * for those, `bench/phases.ts` and a run's `--cpu-prof`. The earlier commit's modules resolve their
 * packages through this checkout's `deno.json`. Exit code 0 when the outputs are identical, 1
 * otherwise.
 *
 * @module
 */
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import type * as Config from "../src/deid/config.ts";
import type * as Keys from "../src/deid/keys.ts";
import type * as Session from "../src/deid/session.ts";
import type * as Chunks from "../src/dicom/_write_chunks.ts";
import type * as Reader from "../src/dicom/reader.ts";
import type * as Writer from "../src/dicom/writer.ts";
import type * as Survey from "../src/plan/survey.ts";
import type * as Template from "../src/protocol/template.ts";
import { listFiles } from "./engine.ts";
import { CACHE_DIR } from "./synthetic.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { against: { type: "string" }, dir: { type: "string" }, rounds: { type: "string" } },
});
const here = resolve(new URL("..", import.meta.url).pathname);
const against = values.against ?? "HEAD";
const rounds = Math.max(2, Number(values.rounds ?? 6));
const smallTree = join(CACHE_DIR, "smalltree-v1-3000");
const dir = resolve(
  values.dir ??
    (await Deno.stat(smallTree).then(() => true, () => false) ? smallTree : join(here, "../shared/corpus")),
);

/** What one side is made of: the engine's entry points, from its own `src/`. */
interface Engine {
  deidConfig: typeof Config.deidConfig;
  DeidSession: typeof Session.DeidSession;
  Keys: typeof Keys.Keys;
  parseDicom: typeof Reader.parseDicom;
  encodeFile: typeof Writer.encodeFile;
  gather: typeof Chunks.gather;
  planFile: typeof Survey.planFile;
  compileTemplate: typeof Template.compileTemplate;
}

async function load(src: string): Promise<Engine> {
  const from = (path: string) => import(new URL(`file://${join(src, path)}`).href);
  return {
    deidConfig: (await from("deid/config.ts")).deidConfig,
    DeidSession: (await from("deid/session.ts")).DeidSession,
    Keys: (await from("deid/keys.ts")).Keys,
    parseDicom: (await from("dicom/reader.ts")).parseDicom,
    encodeFile: (await from("dicom/writer.ts")).encodeFile,
    gather: (await from("dicom/_write_chunks.ts")).gather,
    planFile: (await from("plan/survey.ts")).planFile,
    compileTemplate: (await from("protocol/template.ts")).compileTemplate,
  };
}

/** A running hash of bytes and text, to compare two sides' outputs file by file. */
function hashBytes(h: number, bytes: Uint8Array): number {
  for (let k = 0; k < bytes.length; k++) h = (Math.imul(h, 31) + bytes[k]) | 0;
  return h;
}
function hashText(h: number, text: string): number {
  for (let k = 0; k < text.length; k++) h = (Math.imul(h, 31) + text.charCodeAt(k)) | 0;
  return h;
}

type Times = { parse: number; plan: number; encode: number };

/** One round of one side over every file: its times and a hash per file (or of its error). */
function round(
  e: Engine,
  files: readonly string[],
  bytes: readonly Uint8Array[],
): { t: Times; hashes: number[] } {
  const config = e.deidConfig({ dates: { shift: { min_days: -100, max_days: -10 } } });
  const session = new e.DeidSession(
    config,
    new e.Keys(new TextEncoder().encode("engine-ab-salt-0123456789")),
  );
  const ctx = {
    session,
    config,
    burnedIn: "warn" as const,
    root: "/out",
    folder: e.compileTemplate("{pseudo_id}/%t/%s", "folder"),
    file: e.compileTemplate("{InstanceNumber:04}.dcm", "file"),
  };
  const t: Times = { parse: 0, plan: 0, encode: 0 };
  const hashes: number[] = [];
  for (let i = 0; i < files.length; i++) {
    try {
      const t0 = performance.now();
      const { file } = e.parseDicom(bytes[i], { file: files[i] });
      const t1 = performance.now();
      const { facts } = e.planFile(file, relative(dir, files[i]), i, ctx);
      const t2 = performance.now();
      const chunks = e.gather(e.encodeFile(file, { zeroPreamble: true }));
      const t3 = performance.now();
      t.parse += t1 - t0;
      t.plan += t2 - t1;
      t.encode += t3 - t2;
      let h = hashText(17, JSON.stringify(facts));
      for (const c of chunks) if (c instanceof Uint8Array) h = hashBytes(h, c);
      hashes.push(h);
    } catch (err) {
      hashes.push(hashText(19, String((err as Error).message)));
    }
  }
  return { t, hashes };
}

const work = await Deno.makeTempDir({ prefix: "dcmtidy-engine-ab-" });
const old = join(work, "old");
const add = await new Deno.Command("git", { args: ["worktree", "add", "--detach", old, against], cwd: here })
  .output();
if (add.code !== 0) {
  console.error(new TextDecoder().decode(add.stderr));
  Deno.exit(2);
}
let same = true;
try {
  const files = await listFiles(dir);
  const bytes = files.map((f) => Deno.readFileSync(f));
  const sides = { [against]: await load(join(old, "src")), "this checkout": await load(join(here, "src")) };
  const best = new Map<string, Times>();
  const hashes = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++) {
    for (const [name, engine] of Object.entries(sides)) {
      const { t, hashes: h } = round(engine, files, bytes);
      hashes.set(name, h);
      if (r === 0) continue;
      const b = best.get(name) ?? { parse: Infinity, plan: Infinity, encode: Infinity };
      best.set(name, {
        parse: Math.min(b.parse, t.parse),
        plan: Math.min(b.plan, t.plan),
        encode: Math.min(b.encode, t.encode),
      });
    }
  }
  const us = (ms: number) => `${((ms / files.length) * 1000).toFixed(1).padStart(7)} us`;
  console.log(`${files.length} files of ${dir}; best of ${rounds - 1} rounds each, per file, one thread`);
  for (const [name, b] of best) {
    console.log(
      `${name.padEnd(14)} parse ${us(b.parse)}, plan ${us(b.plan)}, encode ${us(b.encode)}, all ${
        us(b.parse + b.plan + b.encode)
      }`,
    );
  }
  const [a, b] = [...hashes.values()];
  const differ = a.flatMap((h, i) => (h === b[i] ? [] : [files[i]]));
  same = differ.length === 0;
  console.log(
    same
      ? "outputs identical: the same bytes and facts for every file"
      : `OUTPUTS DIFFER for ${differ.length} files, first: ${differ.slice(0, 5).join(", ")}`,
  );
} finally {
  await new Deno.Command("git", { args: ["worktree", "remove", "--force", old], cwd: here }).output();
  await Deno.remove(work, { recursive: true }).catch(() => {});
}
Deno.exit(same ? 0 : 1);
