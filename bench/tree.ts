/**
 * The tree benchmarks: the synthetic raw dump (`dump.ts`) through the real command line, next to
 * the limits (`cp -r`, `cp -al`) and the peers (`gdcmanon --dumb`, `dcmodify`), all on the same tree
 * with a warm page cache; then the synthetic multi-frame file through `dcmtidy run`.
 *
 * Every step is one child process measured from outside (wall time, peak RSS: `rss.ts`), with
 * `sync` (untimed) before it so it does not pay for the previous step's write-back. Outputs are
 * checked cheaply: file counts and sizes, and a sample of files read back.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readDicomFile } from "../src/dicom/read_file.ts";
import type { DataSet, DicomFile } from "../src/dicom/model.ts";
import { PIXEL_DATA } from "../src/dicom/model.ts";
import { decodeStrings } from "../src/dicom/values.ts";
import { parseCsv } from "../src/util/csv.ts";
import type { DumpSet } from "./dump.ts";
import { comparePixelWindows } from "./engine.ts";
import { type Measured, runMeasured } from "./rss.ts";
import { CACHE_DIR, MIB, type SyntheticFile } from "./synthetic.ts";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const CLI = join(REPO, "cli.ts");
/**
 * Wide permissions that do not narrow (`--allow-run=dcmdump`, not `deno`): one Deno start-up, as this
 * case has always been measured (bench/README.md). `taskFlags()` are what `deno task dcmtidy` gives.
 */
const CLI_FLAGS = ["run", "--allow-read", "--allow-write", "--allow-env", "--allow-run=dcmdump", CLI];

/**
 * The permission flags of `deno task dcmtidy`, read from deno.json: what users run (the process
 * narrows itself, src/cli/narrow.ts).
 */
export function taskFlags(): string[] {
  const task: string = JSON.parse(Deno.readTextFileSync(join(REPO, "deno.json"))).tasks.dcmtidy;
  return task.split(/\s+/).filter((word) => word.startsWith("--"));
}
/** A fixed benchmark salt: only ever used on synthetic data. */
const SALT = "dcmtidy-bench-salt-not-secret-0123456789";
const MB = 1e6;

/** The targets of issue 6. */
export const TARGETS = {
  runRatioToCp: 1.5,
  planFilesPerS: 5000,
  linkFilesPerS: 10000,
  peakRssMB: 150,
} as const;

/** One measured command. */
export interface StepResult {
  id: string;
  label: string;
  /** The command, with the cache folder written as `$CACHE`. */
  command: string;
  files: number;
  /** Input bytes the step reads. */
  bytes: number;
  wallMs: number | null;
  /** User + system CPU seconds (GNU time only). */
  cpuS: number | null;
  filesPerS: number | null;
  mbPerS: number | null;
  /** Every round's wall time (the figure above is their median). */
  wallMsAll: number[];
  /** Every round's CPU seconds (GNU time only). */
  cpuSAll: (number | null)[];
  /**
   * Wall time / the reference copy's (`cp -r` for the tree, `cp` for the multi-frame file): the
   * median of the rounds' ratios, each against the same round's copy, so drift in the machine's
   * load between rounds cancels out.
   */
  ratio: number | null;
  /** The same for CPU seconds: how much more work than the copy, whatever the load. */
  cpuRatio: number | null;
  ratioTo: string;
  peakRssKiB: number | null;
  rssSource: string;
  exitCode: number | null;
  ok: boolean;
  check: string;
  /** Why the step did not run (a tool not installed, a part not selected). */
  skipped?: string;
  /** The run's own "done in X s" (the part after planning), when it printed one. */
  runPhaseS?: number;
}

/** A target of issue 6 and whether it holds (null: not measured in this run). */
export interface TargetResult {
  name: string;
  pass: boolean | null;
  detail: string;
}

/** Everything the tree benchmarks found. */
export interface TreeResults {
  dump: Omit<DumpSet, "dir"> & { dir: string };
  /** `dcmtidy --version`: Deno's start-up and module loading, which every dcmtidy step pays. */
  startup: { wallMs: number; peakRssKiB: number | null };
  steps: StepResult[];
  targets: TargetResult[];
  /** Rounds each step ran. */
  runs: number;
}

async function sync(): Promise<void> {
  await new Deno.Command("sync", { stdout: "null", stderr: "null" }).output().catch(() => {});
}

async function removeTree(path: string): Promise<void> {
  await Deno.remove(path, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

/**
 * On ext4 without a journal (this development machine's disk), creating a file soon after deleting
 * many others is slow: the inode allocator skips every recently freed inode one at a time
 * (`recently_deleted` in a kernel profile): for 60 s after the deletion, and for 360 s while the
 * freed inode's table block is dirty again, which the next file created in that block group makes
 * it. So the benchmark deletes nothing while it measures (every round writes to its own folder,
 * `dcmodify`, which replaces files in place, runs after all the others) and deletes its outputs at
 * the end; the time and count of that deletion are kept in the cache, and a run that starts within
 * 361 s of a large deletion waits.
 */
const DELETION_MARK = join(CACHE_DIR, ".last-deletion");
const RECENTLY_DELETED_S = 361;
/** Fewer deleted files than this cost the next creations little (a quick run deletes ~1,400). */
const DELETIONS_THAT_MATTER = 2000;

async function lastDeletion(): Promise<{ at: number; files: number }> {
  try {
    const m = JSON.parse(await Deno.readTextFile(DELETION_MARK));
    if (typeof m?.at === "number" && typeof m?.files === "number") return m;
  } catch { /* none yet */ }
  return { at: 0, files: 0 };
}

/** Delete an output folder, write the deletions back and note when it happened and how many files went. */
export async function deleteOutputs(path: string): Promise<void> {
  if (!(await Deno.stat(path).then(() => true, () => false))) return;
  const files = (await walkFiles(path)).length;
  await removeTree(path);
  await sync();
  const earlier = await lastDeletion();
  // Deletions within the window add up.
  const total = Date.now() - earlier.at < RECENTLY_DELETED_S * 1000 ? earlier.files + files : files;
  await Deno.writeTextFile(DELETION_MARK, JSON.stringify({ at: Date.now(), files: total }) + "\n");
}

/** Wait until the files the benchmark deleted last no longer count as recently deleted (see above). */
export async function settle(log: (line: string) => void): Promise<void> {
  const last = await lastDeletion();
  const waitMs = last.at + RECENTLY_DELETED_S * 1000 - Date.now();
  if (waitMs <= 0 || last.files < DELETIONS_THAT_MATTER) return;
  log(
    `waiting ${Math.ceil(waitMs / 1000)} s: ${last.files} files were deleted ${
      Math.round((Date.now() - last.at) / 1000)
    } s ago, and creating files soon after that is slow on this file system (see tree.ts)`,
  );
  await new Promise((resolve) => setTimeout(resolve, waitMs));
}

/** Whether `cmd` is an executable on PATH (or an absolute path that exists). */
export async function which(cmd: string): Promise<string | null> {
  const dirs = cmd.includes("/") ? [""] : (Deno.env.get("PATH") ?? "").split(":");
  for (const d of dirs) {
    const p = d ? join(d, cmd) : cmd;
    try {
      const st = await Deno.stat(p);
      if (st.isFile && ((st.mode ?? 0o111) & 0o111)) return p;
    } catch { /* not here */ }
  }
  return null;
}

/** Every regular file under `dir` (recursively), with sizes; `skip` names folders not entered. */
async function walkFiles(dir: string, skip: (name: string) => boolean = () => false) {
  const out: { path: string; size: number }[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = join(d, e.name);
      if (e.isDirectory) {
        if (!skip(e.name)) await walk(p);
      } else if (e.isFile) out.push({ path: p, size: (await Deno.stat(p)).size });
    }
  };
  await walk(dir);
  return out;
}

/** Read every file once so the timed steps start from the page cache. */
async function warm(dir: string, only: (path: string) => boolean = () => true): Promise<void> {
  const buf = new Uint8Array(8 * MIB);
  for (const { path } of (await walkFiles(dir)).filter((f) => only(f.path))) {
    const f = await Deno.open(path);
    try {
      while ((await f.read(buf)) !== null) { /* read */ }
    } finally {
      f.close();
    }
  }
}

function str(ds: DataSet, tag: number): string | undefined {
  const el = ds.elements.find((e) => e.tag === tag);
  return el ? decodeStrings(el, ds).join("\\") : undefined;
}

function pixelBytes(f: DicomFile): Uint8Array | undefined {
  const el = f.dataset.elements.find((e) => e.tag === PIXEL_DATA);
  return el?.span ? el.span.src.subarray(el.span.valueStart, el.span.end) : undefined;
}

function equalBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Evenly spaced sample of `n` items. */
function sample<T>(xs: T[], n: number): T[] {
  if (xs.length <= n) return xs;
  return Array.from({ length: n }, (_, i) => xs[Math.floor((i * (xs.length - 1)) / Math.max(1, n - 1))]);
}

type Check = { ok: boolean; detail: string; runPhaseS?: number };

/** The run's own duration (after planning) from its audit record, which keeps milliseconds. */
async function runPhase(root: string): Promise<number | undefined> {
  try {
    const audit = JSON.parse(await Deno.readTextFile(join(root, ".dcmtidy", "audit.json")));
    return typeof audit.durationSeconds === "number" ? audit.durationSeconds : undefined;
  } catch {
    return undefined;
  }
}

/** files.csv of a run: input path -> output path, for written files. */
async function writtenPairs(root: string): Promise<{ input: string; output: string }[]> {
  const rows = parseCsv(await Deno.readTextFile(join(root, ".dcmtidy", "files.csv")));
  const [head, ...body] = rows;
  const col = (name: string) => head.indexOf(name);
  const [iIn, iRoot, iStatus, iOut] = [col("Input"), col("Root"), col("Status"), col("Output")];
  return body.filter((r) => r[iStatus] === "written").map((r) => ({
    input: join(r[iRoot], r[iIn]),
    output: join(root, r[iOut]),
  }));
}

/** A de-identified output against its input: what the basic profile must have changed or kept. */
async function checkDeidentified(input: string, output: string, wholePixels: boolean): Promise<string[]> {
  const problems: string[] = [];
  const [a, b] = await Promise.all([
    readDicomFile(input, { headerOnly: !wholePixels }),
    readDicomFile(output, { headerOnly: !wholePixels }),
  ]);
  const [da, db] = [a.dataset, b.dataset];
  if (str(db, 0x00120062) !== "YES") problems.push("no PatientIdentityRemoved YES");
  for (const [tag, name] of [[0x00100010, "PatientName"], [0x00100020, "PatientID"]] as const) {
    if (str(da, tag) && str(db, tag) === str(da, tag)) problems.push(`${name} unchanged`);
  }
  for (const [tag, name] of [[0x0020000d, "StudyInstanceUID"], [0x00080018, "SOPInstanceUID"]] as const) {
    if (!str(db, tag) || str(db, tag) === str(da, tag)) problems.push(`${name} not remapped`);
  }
  const dateA = str(da, 0x00080020);
  const dateB = str(db, 0x00080020);
  if (dateA && (!dateB || dateB === dateA)) problems.push(`StudyDate not shifted (${dateB ?? "gone"})`);
  if (db.elements.some((e) => (e.tag >>> 16) % 2 === 1)) problems.push("private elements left");
  if (str(db, 0x00280010) !== str(da, 0x00280010)) problems.push("Rows changed");
  if (wholePixels && !equalBytes(pixelBytes(a), pixelBytes(b))) problems.push("Pixel Data differs");
  return problems;
}

async function sameBytes(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([Deno.readFile(a), Deno.readFile(b)]);
  return equalBytes(x, y);
}

/** The basic-profile protocol the tree and small-file cases run: keyed pseudonyms, shifted dates, remapped UIDs. */
export function basicProtocol(name: string, input: string, output: string, key: string): string {
  return `version: 1
name: ${name}
input: { root: ${JSON.stringify(input)} }
output:
  root: ${JSON.stringify(output)}
  path: "{pseudo_id}/%t/%s"
  file: "{InstanceNumber:04}.dcm"
key: ${JSON.stringify(key)}
deidentify:
  profile: basic
  options: [retain-longitudinal-modified-dates]
  salt: { env: DCMTIDY_SALT }
  dates: { shift: { min_days: -100, max_days: -10 } }
  uids: remap
  private_tags: remove
`;
}

/** The protocols the benchmark runs, written to the cache folder. */
export function protocols(dumpDir: string, out: string, mfIn: string) {
  const sort = (name: string, output: string, mode: string) =>
    `version: 1
name: ${name}
input: { root: ${JSON.stringify(dumpDir)} }
output:
  root: ${JSON.stringify(output)}
  path: "%i/%t_%x/%s_%d"
  file: "{InstanceNumber:04}.dcm"
  mode: ${mode}
`;
  return {
    "basic.yaml": basicProtocol("bench-basic", dumpDir, join(out, "run-basic"), join(out, "basic-key.csv")),
    "sort-copy.yaml": sort("bench-sort-copy", join(out, "run-sort-copy"), "copy"),
    "sort-link.yaml": sort("bench-sort-link", join(out, "run-sort-link"), "hardlink"),
    "multiframe.yaml": basicProtocol(
      "bench-multiframe",
      mfIn,
      join(out, "run-multiframe"),
      join(out, "mf-key.csv"),
    ),
  };
}

/** Options for `measureTree`. */
export interface TreeOptions {
  useTime: boolean;
  keep: boolean;
  /** Rounds of every step; medians of times are reported, the highest peak RSS. */
  runs: number;
  /** Where outputs and protocols go (a folder of the cache). */
  workDir: string;
  /** Run the peers (gdcmanon, dcmodify). */
  peers: boolean;
  /** Run the dump steps (cp, plan, run). */
  tree: boolean;
  /** The multi-frame file to run through `dcmtidy run`, if that part is selected. */
  multiframe?: SyntheticFile;
  log: (line: string) => void;
}

/** One step to measure: a command, what it reads, how its output is checked. */
interface StepSpec {
  id: string;
  label: string;
  files: number;
  bytes: number;
  ratioTo: "cp -r" | "cp";
  cmd: string;
  /** The arguments for the current round (outputs go to the round's folder). */
  args: () => string[];
  /** File names appended to the command line (shown shortened). */
  extraArgs?: string[];
  cwd?: string;
  /** Untimed, before the step: remove its last output, copy what it edits in place. */
  prepare?: () => Promise<void>;
  check: (m: Measured) => Promise<Check>;
  /** Why it does not run. */
  skipped?: string;
}

const RUN_DONE = /done in ([\d.]+) s: (\d+) written/;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Run the tree benchmarks; see the module doc. */
export async function measureTree(dump: DumpSet, opts: TreeOptions): Promise<TreeResults> {
  const out = opts.workDir;
  const protoDir = join(out, "protocols");
  const mfIn = join(out, "mf-in");
  await deleteOutputs(out); // what an interrupted or --keep run left
  await Deno.mkdir(protoDir, { recursive: true });
  for (const [name, text] of Object.entries(protocols(dump.dir, out, mfIn))) {
    await Deno.writeTextFile(join(protoDir, name), text);
  }
  const deno = Deno.execPath();
  const env = { DCMTIDY_SALT: SALT };
  const shown = (args: string[]) =>
    args.map((a) => a.replaceAll(out, "$OUT").replaceAll(dump.dir, "$DUMP").replaceAll(REPO, "")).join(" ");
  const countCheck = async (dir: string, want: number, wantBytes?: number): Promise<Check> => {
    const files = await walkFiles(dir, (n) => n === ".dcmtidy");
    const dcm = files.filter((f) => !f.path.endsWith(".csv"));
    const bytes = dcm.reduce((n, f) => n + f.size, 0);
    const ok = dcm.length === want && (wantBytes === undefined || bytes === wantBytes);
    return {
      ok,
      detail: `${dcm.length} files${wantBytes !== undefined ? `, ${bytes} bytes` : ""}${
        ok ? "" : ` (want ${want})`
      }`,
    };
  };
  const N = dump.files;
  const tree = { files: N, bytes: dump.bytes, ratioTo: "cp -r" as const };
  const notSelected = opts.tree ? undefined : "not selected (--only)";
  /** This round's output folder: nothing is deleted until every round is over (see `settle`). */
  let roundDir = out;
  const o = (name: string) => join(roundDir, name);
  const dcmtidy = (sub: string, proto: string, output?: string) => ({
    cmd: deno,
    args: () => [
      ...CLI_FLAGS,
      sub,
      join(protoDir, proto),
      ...(output ? ["--yes", "--output", o(output)] : []),
    ],
  });
  const planCheck = (m: Measured): Promise<Check> => {
    const want = `${N} files scanned: ${N} to write`;
    const ok = m.stdout.includes(want);
    return Promise.resolve({ ok, detail: ok ? want : `plan said: ${m.stdout.split("\n")[0]}` });
  };

  const specs: StepSpec[] = [
    {
      id: "cp-r",
      label: "cp -r (limit)",
      ...tree,
      cmd: "cp",
      args: () => ["-r", dump.dir, o("cp-r")],
      check: () => countCheck(o("cp-r"), N, dump.bytes),
      skipped: notSelected,
    },
    {
      id: "cp-al",
      label: "cp -al (limit)",
      ...tree,
      cmd: "cp",
      args: () => ["-al", dump.dir, o("cp-al")],
      check: async () => {
        const c = await countCheck(o("cp-al"), N);
        const name = (await walkFiles(dump.dir))[0].path.slice(dump.dir.length + 1);
        const linked =
          (await Deno.stat(join(o("cp-al"), name))).ino === (await Deno.stat(join(dump.dir, name))).ino;
        return { ok: c.ok && linked, detail: `${c.detail}${linked ? ", hard links" : ", NOT linked"}` };
      },
      skipped: notSelected,
    },
    {
      id: "plan",
      label: "dcmtidy plan (basic profile)",
      ...tree,
      ...dcmtidy("plan", "basic.yaml"),
      check: planCheck,
      skipped: notSelected,
    },
    {
      id: "plan-sort",
      label: "dcmtidy plan (sort only)",
      ...tree,
      ...dcmtidy("plan", "sort-link.yaml"),
      check: planCheck,
      skipped: notSelected,
    },
    {
      id: "run-basic",
      label: "dcmtidy run (basic profile + sort)",
      ...tree,
      ...dcmtidy("run", "basic.yaml", "run-basic"),
      check: async () => {
        const root = o("run-basic");
        const c = await countCheck(root, N);
        const pairs = await writtenPairs(root);
        const problems: string[] = [];
        for (const p of sample(pairs, 5)) {
          for (const why of await checkDeidentified(p.input, p.output, true)) problems.push(why);
        }
        return {
          ok: c.ok && pairs.length === N && problems.length === 0,
          detail: `${c.detail}; 5 read back: ${
            problems.length ? problems.join("; ") : "de-identified, pixels equal"
          }`,
          runPhaseS: await runPhase(root),
        };
      },
      skipped: notSelected,
    },
    {
      id: "run-sort-copy",
      label: "dcmtidy run, sort only, copy",
      ...tree,
      ...dcmtidy("run", "sort-copy.yaml", "run-sort-copy"),
      check: async () => {
        const root = o("run-sort-copy");
        const c = await countCheck(root, N, dump.bytes);
        const pairs = await writtenPairs(root);
        let same = 0;
        for (const p of sample(pairs, 5)) if (await sameBytes(p.input, p.output)) same++;
        return {
          ok: c.ok && same === Math.min(5, pairs.length),
          detail: `${c.detail}; ${same}/5 byte-equal`,
          runPhaseS: await runPhase(root),
        };
      },
      skipped: notSelected,
    },
    {
      id: "run-sort-link",
      label: "dcmtidy run, sort only, hardlink",
      ...tree,
      ...dcmtidy("run", "sort-link.yaml", "run-sort-link"),
      check: async () => {
        const root = o("run-sort-link");
        const c = await countCheck(root, N);
        const pairs = await writtenPairs(root);
        let linked = 0;
        for (const p of sample(pairs, 5)) {
          if ((await Deno.stat(p.input)).ino === (await Deno.stat(p.output)).ino) linked++;
        }
        return {
          ok: c.ok && linked === Math.min(5, pairs.length),
          detail: `${c.detail}; ${linked}/5 hard links`,
          runPhaseS: await runPhase(root),
        };
      },
      skipped: notSelected,
    },
  ];

  const gdcmanon = opts.peers ? await which("gdcmanon") : null;
  specs.push({
    id: "gdcmanon",
    label: "gdcmanon --dumb (peer)",
    ...tree,
    cmd: gdcmanon ?? "gdcmanon",
    args: () => [
      "--dumb",
      "-i",
      dump.dir,
      "-o",
      o("gdcmanon"),
      "-r",
      "--continue",
      // Names, IDs and dates emptied or removed, and the private block: what a dumb mode can do.
      ...["--empty", "10,10", "--empty", "10,20", "--remove", "10,30", "--empty", "8,50"],
      ...["--remove", "8,80", "--remove", "8,81", "--empty", "8,90", "--remove", "8,1050"],
      ...["--remove", "8,1010", "--remove", "18,1000", "--empty", "20,10"],
      ...["--remove", "29,1001,DCMTIDY BENCH", "--remove", "29,1010,DCMTIDY BENCH"],
      ...["--remove", "29,1020,DCMTIDY BENCH"],
    ],
    check: async () => {
      const c = await countCheck(o("gdcmanon"), N);
      const first = (await walkFiles(o("gdcmanon")))[0];
      const name = first
        ? str((await readDicomFile(first.path, { headerOnly: true })).dataset, 0x00100010)
        : "?";
      return {
        ok: c.ok && name === "",
        detail: `${c.detail}; PatientName ${name === "" ? "emptied" : name}`,
      };
    },
    skipped: !opts.peers
      ? "not selected (--only)"
      : gdcmanon
      ? undefined
      : "gdcmanon not installed (Debian package libgdcm-tools)",
  });
  const dcmodify = opts.peers ? await which("dcmodify") : null;
  const modTarget = () => o("dcmodify");
  let modNames: string[] = [];
  specs.push({
    id: "dcmodify",
    label: "dcmodify, 4 tags + private erased, in place (peer)",
    ...tree,
    cmd: dcmodify ?? "dcmodify",
    args: () => [
      "-nb",
      "-imt",
      "-e",
      "(0010,0010)",
      "-e",
      "(0010,0030)",
      "-e",
      "(0008,0080)",
      "-e",
      "(0008,0090)",
      "-ep",
    ],
    get extraArgs() {
      return modNames;
    },
    // dcmodify edits in place: it gets a copy (untimed), named relative to it to keep argv short.
    get cwd() {
      return modTarget();
    },
    prepare: async () => {
      await new Deno.Command("cp", { args: ["-r", dump.dir, modTarget()] }).output();
      modNames = (await walkFiles(modTarget())).map((f) => f.path.slice(modTarget().length + 1)).sort();
    },
    check: async () => {
      const c = await countCheck(modTarget(), N);
      const f = await readDicomFile(join(modTarget(), modNames[0]), { headerOnly: true });
      const gone = str(f.dataset, 0x00100010) === undefined;
      return { ok: c.ok && gone, detail: `${c.detail}; PatientName ${gone ? "erased" : "still there"}` };
    },
    skipped: !opts.peers
      ? "not selected (--only)"
      : dcmodify
      ? undefined
      : "dcmodify not installed (Debian package dcmtk)",
  });

  const mf = opts.multiframe;
  const one = { files: 1, bytes: mf?.size ?? 0, ratioTo: "cp" as const };
  const mfSkipped = mf ? undefined : "not selected (--only)";
  specs.push(
    {
      id: "mf-cp",
      label: `cp of the ${((mf?.size ?? 0) / 2 ** 30).toFixed(2)} GiB multi-frame file (limit)`,
      ...one,
      cmd: "cp",
      args: () => [mf?.path ?? "", o("mf-cp.dcm")],
      check: async () => {
        const size = (await Deno.stat(o("mf-cp.dcm"))).size;
        return { ok: size === mf!.size, detail: `${size} bytes` };
      },
      skipped: mfSkipped,
    },
    {
      id: "mf-run",
      label: "dcmtidy run (basic profile) of the multi-frame file",
      ...one,
      ...dcmtidy("run", "multiframe.yaml", "run-multiframe"),
      prepare: async () => {
        if (await Deno.stat(join(mfIn, "multiframe.dcm")).then(() => true, () => false)) return;
        await Deno.mkdir(mfIn, { recursive: true });
        try {
          await Deno.link(mf!.path, join(mfIn, "multiframe.dcm"));
        } catch {
          await Deno.copyFile(mf!.path, join(mfIn, "multiframe.dcm"));
        }
      },
      check: async () => {
        const root = o("run-multiframe");
        const c = await countCheck(root, 1);
        const [pair] = await writtenPairs(root);
        if (!pair) return { ok: false, detail: `${c.detail}; no written file in files.csv` };
        const problems = await checkDeidentified(pair.input, pair.output, false);
        const win = await comparePixelWindows(pair.input, pair.output, mf!.pixelLength);
        if (win.equal !== win.checked) problems.push(`${win.checked - win.equal} pixel windows differ`);
        const size = (await Deno.stat(pair.output)).size;
        return {
          runPhaseS: await runPhase(root),
          ok: c.ok && problems.length === 0,
          detail: `${size} bytes (${size - mf!.size >= 0 ? "+" : ""}${size - mf!.size}); ${
            problems.length
              ? problems.join("; ")
              : `de-identified, ${win.equal}/${win.checked} pixel windows equal`
          }`,
        };
      },
      skipped: mfSkipped,
    },
  );

  opts.log(`warming the page cache with ${dump.dir}`);
  await warm(dump.dir);
  if (mf) await warm(dirname(mf.path), (p) => p === mf.path);
  // The first run of the CLI fills Deno's module cache; the next ones are the start-up reference.
  await runMeasured(deno, [...CLI_FLAGS, "--version"], { useTime: false, cwd: REPO });

  const rounds = new Map<string, { m: Measured; c: Check }[]>();
  const startups: Measured[] = [];
  await settle(opts.log);
  // dcmodify replaces every file it edits (a deletion each): its rounds come after all the others.
  const inPlace = new Set(["dcmodify"]);
  const groups = [specs.filter((s) => !inPlace.has(s.id)), specs.filter((s) => inPlace.has(s.id))];
  for (const group of groups) {
    for (let round = 1; round <= Math.max(1, opts.runs); round++) {
      roundDir = join(out, `round-${round}`);
      await Deno.mkdir(roundDir, { recursive: true });
      if (group === groups[0]) {
        startups.push(
          await runMeasured(deno, [...CLI_FLAGS, "--version"], { useTime: opts.useTime, cwd: REPO }),
        );
      }
      for (const spec of group) {
        if (spec.skipped) continue;
        await spec.prepare?.();
        const args = spec.args();
        const extra = spec.extraArgs ?? [];
        const tail = extra.length > 3 ? [...extra.slice(0, 2), `... (${extra.length} files)`] : extra;
        opts.log(`round ${round}, ${spec.id}: ${shown([spec.cmd, ...args, ...tail])}`);
        await sync();
        const m = await runMeasured(spec.cmd, [...args, ...extra], {
          useTime: opts.useTime,
          env,
          cwd: spec.cwd ?? REPO,
        });
        let c: Check;
        try {
          c = await spec.check(m);
        } catch (e) {
          c = { ok: false, detail: `check failed: ${(e as Error).message}` };
        }
        if (!m.success && c.ok) c = { ok: false, detail: `exit ${m.code}: ${m.stderr.slice(0, 300)}` };
        const done = RUN_DONE.exec(m.stdout);
        if (c.runPhaseS === undefined && done) c.runPhaseS = Number(done[1]);
        if (!rounds.has(spec.id)) rounds.set(spec.id, []);
        rounds.get(spec.id)!.push({ m, c });
      }
    }
  }
  if (!opts.keep) await deleteOutputs(out);

  const steps: StepResult[] = specs.map((spec) => {
    const base = {
      id: spec.id,
      label: spec.label,
      files: spec.files,
      bytes: spec.bytes,
      ratioTo: spec.ratioTo,
      ratio: null,
      cpuRatio: null,
    };
    const rs = rounds.get(spec.id);
    if (spec.skipped || !rs) {
      return {
        ...base,
        command: "",
        wallMs: null,
        cpuS: null,
        wallMsAll: [],
        cpuSAll: [],
        filesPerS: null,
        mbPerS: null,
        peakRssKiB: null,
        rssSource: "none",
        exitCode: null,
        ok: true,
        check: "",
        skipped: spec.skipped ?? "did not run",
      };
    }
    const extra = spec.extraArgs ?? [];
    const tail = extra.length > 3 ? [...extra.slice(0, 2), `... (${extra.length} files)`] : extra;
    const wallMs = median(rs.map((r) => r.m.wallMs));
    const cpus = rs.map((r) => r.m.cpuS).filter((x): x is number => x !== null);
    const rss = rs.map((r) => r.m.peakRssKiB).filter((x): x is number => x !== null);
    const phases = rs.map((r) => r.c.runPhaseS).filter((x): x is number => x !== undefined);
    const failed = rs.find((r) => !r.c.ok);
    return {
      ...base,
      command: shown([spec.cmd === deno ? "deno" : spec.cmd, ...spec.args(), ...tail]),
      wallMs,
      wallMsAll: rs.map((r) => r.m.wallMs),
      cpuSAll: rs.map((r) => r.m.cpuS),
      cpuS: cpus.length ? median(cpus) : null,
      filesPerS: spec.files / (wallMs / 1000),
      mbPerS: spec.bytes / MB / (wallMs / 1000),
      peakRssKiB: rss.length ? Math.max(...rss) : null,
      rssSource: rs[0].m.rssSource,
      exitCode: (failed ?? rs[0]).m.code,
      ok: !failed,
      check: (failed ?? rs[rs.length - 1]).c.detail,
      ...(phases.length ? { runPhaseS: median(phases) } : {}),
    };
  });
  const byId = new Map(steps.map((s) => [s.id, s]));
  const cpr = byId.get("cp-r");
  const mfcp = byId.get("mf-cp");
  const roundRatios = (xs: (number | null)[], refs: (number | null)[]) => {
    const rs = xs.flatMap((x, i) => (x !== null && refs[i] ? [x / refs[i]!] : []));
    return rs.length ? median(rs) : null;
  };
  for (const s of steps) {
    const ref = s.ratioTo === "cp" ? mfcp : cpr;
    if (s.wallMs === null || !ref?.wallMs) continue;
    s.ratio = roundRatios(s.wallMsAll, ref.wallMsAll);
    s.cpuRatio = roundRatios(s.cpuSAll, ref.cpuSAll);
  }
  const startup = {
    wallMs: median(startups.map((m) => m.wallMs)),
    peakRssKiB: Math.max(...startups.map((m) => m.peakRssKiB ?? 0)) || null,
  };
  return {
    dump: { ...dump },
    startup,
    steps,
    targets: evaluateTargets(byId, N, startup.wallMs),
    runs: opts.runs,
  };
}

function evaluateTargets(byId: Map<string, StepResult>, files: number, startupMs: number): TargetResult[] {
  const ran = (id: string) => {
    const s = byId.get(id);
    return s && !s.skipped && s.wallMs !== null ? s : undefined;
  };
  const mb = (kib: number | null) => (kib === null ? null : (kib * 1024) / MB);
  const t: TargetResult[] = [];
  const run = ran("run-basic");
  t.push(
    run && run.ratio !== null
      ? {
        name: `run (basic profile + sort) wall <= ${TARGETS.runRatioToCp}x cp -r`,
        pass: run.ok && run.ratio <= TARGETS.runRatioToCp,
        detail: `${run.ratio.toFixed(2)}x (median of the rounds' ratios; medians ${
          (run.wallMs! / 1000).toFixed(2)
        } s vs ${(ran("cp-r")!.wallMs! / 1000).toFixed(2)} s; CPU ${run.cpuRatio?.toFixed(1) ?? "n/a"}x)`,
      }
      : { name: `run wall <= ${TARGETS.runRatioToCp}x cp -r`, pass: null, detail: "not measured" },
  );
  // A files/s target on a tree this size: how much of it start-up takes before a file is read (one
  // Deno start-up: this bench's flags do not narrow, see CLI_FLAGS), and the rate that alone allows.
  const startupBound = (s: StepResult, target: number) => {
    if (s.filesPerS! >= target || !(startupMs > 0)) return "";
    const floor = startupMs / 1000;
    const cap = files / floor;
    return `; bound by: start-up, ${floor.toFixed(2)} s of the ${
      (s.wallMs! / 1000).toFixed(2)
    } s (dcmtidy --version takes that here), which alone caps ${files} files at ${cap.toFixed(0)} files/s${
      cap >= target ? "; the rest is the survey's per-file work" : ""
    }${
      s.runPhaseS !== undefined ? `; the run's own phase took ${s.runPhaseS.toFixed(2)} s` : ""
    }; see bench/README.md, "Start-up"`;
  };
  const plan = ran("plan");
  t.push({
    name: `plan >= ${TARGETS.planFilesPerS} files/s`,
    pass: plan ? plan.ok && plan.filesPerS! >= TARGETS.planFilesPerS : null,
    detail: plan
      ? `${plan.filesPerS!.toFixed(0)} files/s${startupBound(plan, TARGETS.planFilesPerS)}`
      : "not measured",
  });
  const link = ran("run-sort-link");
  t.push({
    name: `sort-only hardlink run >= ${TARGETS.linkFilesPerS} files/s`,
    pass: link ? link.ok && link.filesPerS! >= TARGETS.linkFilesPerS : null,
    detail: link
      ? `${link.filesPerS!.toFixed(0)} files/s${startupBound(link, TARGETS.linkFilesPerS)}`
      : "not measured",
  });
  const mf = ran("mf-run");
  t.push({
    name: `peak RSS <= ${TARGETS.peakRssMB} MB on the multi-frame file`,
    pass: mf && mb(mf.peakRssKiB) !== null ? mf.ok && mb(mf.peakRssKiB)! <= TARGETS.peakRssMB : null,
    detail: mf ? `${mb(mf.peakRssKiB)?.toFixed(1) ?? "n/a"} MB` : "not measured",
  });
  t.push({
    name: `peak RSS <= ${TARGETS.peakRssMB} MB on the ${files}-file run`,
    pass: run && mb(run.peakRssKiB) !== null ? run.ok && mb(run.peakRssKiB)! <= TARGETS.peakRssMB : null,
    detail: run ? `${mb(run.peakRssKiB)?.toFixed(1) ?? "n/a"} MB` : "not measured",
  });
  const gdcm = ran("gdcmanon");
  t.push({
    name: "run faster than gdcmanon --dumb over the same files",
    pass: run && gdcm ? run.ok && run.wallMs! < gdcm.wallMs! : null,
    detail: run && gdcm
      ? `${(run.wallMs! / 1000).toFixed(2)} s vs ${(gdcm.wallMs! / 1000).toFixed(2)} s`
      : "not measured",
  });
  return t;
}
