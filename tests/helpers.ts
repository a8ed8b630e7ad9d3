/** Shared test helpers: where ../shared/corpus is, and running the external validators. */
import { createHash } from "node:crypto";
import { fileURLToPath as fromFileUrl } from "node:url";

/** The repository root. */
export const ROOT = fromFileUrl(new URL("../", import.meta.url));

/** ../shared/corpus from the repository root. */
export const CORPUS = fromFileUrl(new URL("../../shared/corpus/", import.meta.url));

const announced = new Set<string>();

/** Print a line once per test module (for "skipped because ..." notes). */
export function noteOnce(line: string): void {
  if (announced.has(line)) return;
  announced.add(line);
  console.log(line);
}

/** Every regular file under ../shared/corpus (sorted), or [] with one printed line when it is absent. */
export async function corpusFiles(): Promise<string[]> {
  const files: string[] = [];
  const walkDir = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = `${dir}${e.name}`;
      if (e.isDirectory) await walkDir(p + "/");
      else if (e.isFile && e.name !== "MANIFEST.tsv") files.push(p);
    }
  };
  try {
    await walkDir(CORPUS);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    noteOnce("../shared/corpus not found: corpus checks skipped (the repo's own fixtures still run)");
  }
  return files.sort();
}

/** The output of a command. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a program; resolves with undefined when it is not installed. */
export async function runTool(cmd: string, args: string[]): Promise<RunResult | undefined> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** Whether a program is on PATH (checked once). */
export async function hasTool(cmd: string, probeArgs: string[] = ["--version"]): Promise<boolean> {
  const ok = (await runTool(cmd, probeArgs)) !== undefined;
  if (!ok) noteOnce(`${cmd} not installed: checks that need it are skipped (.ci/run installs it)`);
  return ok;
}

/** Run our CLI as a user would: `deno run -A cli.ts ...` from the repo root. */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}cli.ts`, ...args],
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * The data set part of a `dcmdump` listing as (path, VR, value) lines, without lengths, file names
 * or the meta header: what must match between an input and its rewrite.
 */
export function dcmdumpDataSet(listing: string): string[] {
  const lines = listing.split("\n");
  const start = lines.findIndex((l) => l.startsWith("# Dicom-Data-Set"));
  return lines.slice(start < 0 ? 0 : start + 1)
    .filter((l) => l.trim() !== "" && !l.startsWith("# Used TransferSyntax"))
    .map((l) => l.replace(/\s+#\s*(\d+|u\/l),\s*(\d+|\?)\s+(\S+)\s*$/, " $3").replace(/#=\d+/, "").trimEnd());
}

/**
 * Every file under `dir` (path relative to it, `/`-separated, sorted) with its sha256: what must
 * match between two runs. The run's own state folder `.dcmtidy` is left out.
 */
export async function treeHashes(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) {
        if (e.name !== ".dcmtidy") await walk(p);
      } else {
        out.set(p.slice(dir.length + 1), createHash("sha256").update(await Deno.readFile(p)).digest("hex"));
      }
    }
  };
  await walk(dir);
  return new Map([...out].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
}

/**
 * Start our CLI with `args` and SIGKILL it once `journal` holds at least `atLeast` lines that
 * `finished` accepts (checked every few milliseconds, for at most a minute). Returns how many
 * such lines there were when it was killed.
 */
/** Files in the subfolders of `dir` (0 when it is not there). */
function stagedFiles(dir: string): number {
  let n = 0;
  try {
    for (const d of Deno.readDirSync(dir)) {
      if (!d.isDirectory) continue;
      for (const f of Deno.readDirSync(`${dir}/${d.name}`)) if (f.isFile) n++;
    }
  } catch {
    // not made yet, or removed while we looked
  }
  return n;
}

export async function killCliWhen(
  args: string[],
  env: Record<string, string>,
  journal: string,
  finished: (line: string) => boolean,
  atLeast: number,
  /** Also counts as progress: files in these folders' subfolders (a run's staging, written ahead). */
  staged?: string,
): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}cli.ts`, ...args],
    cwd: ROOT,
    // The kill must land on the process that writes: no narrowed child (src/cli/narrow.ts).
    env: { ...env, DCMTIDY_NARROW: "0" },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const deadline = Date.now() + 60_000;
  let done = 0;
  while (Date.now() < deadline) {
    done = await Deno.readTextFile(journal).then((t) => t.split("\n").filter(finished).length, () => 0);
    if (staged) done = Math.max(done, stagedFiles(staged));
    if (done >= atLeast) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  child.kill("SIGKILL");
  await child.status;
  return done;
}

/**
 * Send `message` to a worker of `script` that may read, write and reach nothing at all, and give
 * its one answer (the sandbox tests: what it can do with only the bytes it is handed).
 */
export function askSandboxedWorker<T>(script: URL, message: unknown): Promise<T> {
  const w = new Worker(script, {
    type: "module",
    deno: {
      permissions: { read: false, write: false, net: false, env: false, run: false, ffi: false, sys: false },
    },
  });
  return new Promise((resolve) => {
    w.onmessage = (e) => {
      w.terminate();
      resolve(e.data as T);
    };
    w.postMessage(message);
  });
}

/**
 * A shard's part (`<output>/.dcmtidy/shards/K-of-N/part.jsonl`), read as the test sees it: its
 * first line, and the outcomes of its file lines.
 */
export async function readShardPart(
  path: string,
): Promise<
  { head: Record<string, unknown>; outcomes: { index: number; status: string; reason?: string }[] }
> {
  const [first, ...rest] = (await Deno.readTextFile(path)).split("\n").filter((l) => l !== "");
  const lines = rest.map((l) => JSON.parse(l));
  return { head: JSON.parse(first), outcomes: lines.flatMap((l) => l.outcome ?? []) };
}
