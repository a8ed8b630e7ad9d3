/**
 * What a file costs in permission checks. Under scoped permissions (a narrowed process, its sandboxed
 * workers) Deno resolves a path again, one `readlink` a component, for some calls and not for
 * others: an open, a create and the stat of an open file resolve it; a path's stat, lstat and a
 * rename do not (Deno 2.9). A `run --yes` writes each output ahead as its plan reads the file, and a
 * file should then cost two resolved calls: its input's open and its staged output's create. A
 * stat of the open file (the input's stamp, the output's identity) cost two more, about 40 % of a
 * file's `readlink` calls (src/dicom/read_file.ts, write_file.ts). A run that writes its files in
 * its workers (nothing written ahead) should not stat a fresh output's path before writing it (that
 * failed stat cost a third of a small file's write), nor write its journal a line at a time.
 *
 * Counted with strace where it is installed and may trace (`.ci/run` installs it).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildDicom, type Node, sampleDataset, tag } from "./fixtures/builder.ts";
import { hasTool, noteOnce, ROOT, runTool } from "./helpers.ts";
import { taskFlags } from "../bench/tree.ts";

const SALT = "path-checks-test-salt-0123456789";

/** `count` files of one series in two folders of `dir`/in (`dir`, in, a or b, the file: four components). */
async function writeInputs(dir: string, count: number): Promise<void> {
  for (const sub of ["a", "b"]) await Deno.mkdir(join(dir, "in", sub), { recursive: true });
  for (let i = 1; i <= count; i++) {
    const nodes: Node[] = sampleDataset().map((n) =>
      "tag" in n && n.tag === tag(0x0008, 0x0018)
        ? { ...n, value: `1.2.826.0.1.3680043.10.1000.45.${i}` }
        : "tag" in n && n.tag === tag(0x0020, 0x0013)
        ? { ...n, value: String(i) }
        : n
    );
    await Deno.writeFile(join(dir, "in", i % 2 ? "a" : "b", `IM${i}`), buildDicom(nodes));
  }
}

/** The protocol both tests run: `dir`/in to `dir`/out, de-identified. */
async function writeProtocol(dir: string): Promise<string> {
  const path = join(dir, "p.yaml");
  await Deno.writeTextFile(
    path,
    "version: 1\nname: checks\ninput: { root: ./in }\noutput:\n  root: ./out\n" +
      '  path: "{pseudo_id}/%s"\n  file: "{InstanceNumber:04}.dcm"\nkey: ./key.csv\n' +
      "deidentify:\n  salt: { env: DCMTIDY_SALT }\n",
  );
  return path;
}

/**
 * `dcmtidy ARGS`, the CLI started as `deno task dcmtidy` does (after `before`: a tracer's command
 * line): its exit code (and its stderr, to say why).
 */
async function dcmtidy(args: string[], before: string[] = []): Promise<{ code: number; stderr: string }> {
  const [command, ...rest] = [...before, Deno.execPath()];
  const out = await new Deno.Command(command, {
    args: [...rest, "run", ...taskFlags(), join(ROOT, "cli.ts"), ...args],
    env: { DCMTIDY_SALT: SALT },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/**
 * The lines of an strace of `dcmtidy ARGS` for the system calls `calls`, file descriptors shown
 * with their paths (`write(5</path>, ...)`).
 */
async function traced(dir: string, calls: string, args: string[]): Promise<string[]> {
  const trace = join(dir, "trace.txt");
  const run = await dcmtidy(args, ["strace", "-f", "-qq", "-y", "-e", `trace=${calls}`, "-o", trace]);
  assert.equal(run.code, 0, run.stderr);
  return (await Deno.readTextFile(trace)).split("\n");
}

/** The `lines` whose call's path is under `under` (`readlinkat(AT_FDCWD, "/path", ...)` too). */
function onPathsUnder(lines: string[], under: string): string[] {
  const escaped = under.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const path = new RegExp(`^\\d+ +\\w+\\((AT_FDCWD(<[^>]*>)?, )?"${escaped}`);
  return lines.filter((l) => path.test(l));
}

/** `readlink` calls on paths under `dir` in a `run --yes` of `dir`. */
async function readlinksOfRun(dir: string): Promise<number> {
  const args = ["run", "--yes", "--jobs", "2", await writeProtocol(dir)];
  // readlink, or readlinkat where there is no readlink (aarch64).
  return onPathsUnder(await traced(dir, "readlink,readlinkat", args), dir).length;
}

/** Whether strace is here and may trace (noted once when it may not). */
async function canTrace(): Promise<boolean> {
  if (!(await hasTool("strace", ["-V"]))) return false;
  const traced = await runTool("strace", ["-qq", "-o", "/dev/null", "true"]);
  if (traced?.code !== 0) {
    noteOnce("strace cannot trace here (ptrace refused): the path checks tests are skipped");
    return false;
  }
  return true;
}

Deno.test("path checks: a file written ahead costs its input's open and its staged output's create, nothing more", async () => {
  if (!(await canTrace())) return;
  const base = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-checks-" }));
  try {
    // Two runs alike but for their number of files (one series, the same folders): what the second
    // costs more is what its files cost.
    const [few, many] = [20, 60];
    const counts: number[] = [];
    for (const n of [few, many]) {
      const dir = join(base, `n${n}`);
      await writeInputs(dir, n);
      counts.push(await readlinksOfRun(dir));
    }
    const perFile = (counts[1] - counts[0]) / (many - few);
    // Under each run's folder: an input is 4 components (the folder, in, a or b, the file), a staged
    // output 5 (the folder, out, .dcmtidy, its staging folder, the file); a create resolves the path
    // and then, the file not being there, its folder again.
    const open = 4;
    const create = 5 + 4;
    assert.ok(
      perFile <= open + create + 0.5,
      `${perFile.toFixed(1)} readlink calls a file (runs of ${few} and ${many} files: ${
        counts.join(", ")
      }); ` +
        `its input's open and staged output's create take ${open + create}: another call resolves a path ` +
        "each file (or Deno resolves one more kind of call)",
    );
    // And the count is of what it means to count (not of nothing, were strace's lines not matched).
    assert.ok(
      perFile >= open + create - 0.5,
      `${
        perFile.toFixed(1)
      } readlink calls a file, fewer than an open and a create take: the trace's lines ` +
        "are not matched, or Deno resolves fewer calls than 2.9 did (then lower the bound above)",
    );
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("path checks: a file its run writes in a worker is not looked for at its output path first, and its journal lines go out several a write", async () => {
  if (!(await canTrace())) return;
  const base = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-checks-" }));
  try {
    // A run from a split scan's parts writes every file in its workers (nothing was written ahead).
    // Its outputs' folders are new: the run knows nothing is at their paths, and a failed stat costs
    // an error object (10 to 50 us) a file.
    const [few, many] = [40, 200];
    const misses: number[] = [];
    const journalWrites: number[] = [];
    for (const n of [few, many]) {
      const dir = join(base, `n${n}`);
      await writeInputs(dir, n);
      const protocol = await writeProtocol(dir);
      const scan = await dcmtidy(["scan", "--shard", "1/1", protocol]);
      assert.equal(scan.code, 0, scan.stderr);
      const args = ["run", "--yes", "--jobs", "2", "--shard", "1/1", protocol];
      const lines = await traced(dir, "stat,lstat,newfstatat,fstatat64,statx,write", args);
      const stats = onPathsUnder(lines, join(dir, "out"));
      assert.ok(stats.length > n, `the trace's stat lines are matched (${stats.length} for ${n} files)`);
      misses.push(stats.filter((l) => l.includes("ENOENT") && !l.includes("/.dcmtidy")).length);
      journalWrites.push(lines.filter((l) => /^\d+ +write\(\d+<[^>]*\/journal\.jsonl>/.test(l)).length);
    }
    const perFile = (misses[1] - misses[0]) / (many - few);
    // Its journal lines (a claim and a record a file) go out as they come, several a write: 1.00 writes
    // a file on the code before, 0.24 to 0.56 since (how many lines queue during a write depends on
    // the machine's timing, and a fresh clone's CI read 0.56 once).
    const writesPerFile = (journalWrites[1] - journalWrites[0]) / (many - few);
    assert.ok(
      journalWrites[0] > 0 && writesPerFile < 0.75,
      `${writesPerFile.toFixed(2)} journal writes a file (runs of ${few} and ${many} files: ${
        journalWrites.join(", ")
      }): each file's line is written alone`,
    );
    assert.ok(
      perFile < 0.5,
      `${perFile.toFixed(1)} failed stats of output paths a file (runs of ${few} and ${many} files: ${
        misses.join(", ")
      }): a fresh output is looked for before it is written`,
    );
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});
