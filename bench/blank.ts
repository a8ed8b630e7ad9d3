/**
 * The blank case (issue 15, item 5): blanking MB/s on uncompressed and JPEG-LS ultrasound, OCR
 * seconds per 640x480 frame, and `dcmtidy run` with `burned_in: blank` against `burned_in: allow` on
 * the same files. Uses the codec case's ultrasound files (`codec_data.ts`). See bench/README.md,
 * "The blank case".
 *
 * @module
 */
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BlankReport, OcrReport } from "./blank_child.ts";
import { CODEC_DATA_VERSION, type CodecData, ensureCodecData, US_COLUMNS, US_ROWS } from "./codec_data.ts";
import { pixelsOf } from "./codec_util.ts";
import { CACHE_DIR } from "./synthetic.ts";
import { readDicomFile } from "../src/dicom/read_file.ts";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const CHILD = join(REPO, "bench", "blank_child.ts");
const CLI = join(REPO, "cli.ts");
/** The permissions of `deno task dcmtidy`. */
const CLI_FLAGS = ["run", "--allow-read", "--allow-write", "--allow-env", "--allow-run=dcmdump", CLI];
const SALT = "dcmtidy-bench-salt-not-secret-0123456789";

/** A top band and a bottom-right box, as a rule for a 640x480 scanner would have. */
export const REGIONS = [
  { x: 0, y: 0, width: US_COLUMNS, height: 40 },
  { x: US_COLUMNS - 160, y: US_ROWS - 30, width: 160, height: 30 },
];
/** Text drawn on the OCR frames, inside the regions (the test font, 5x7 dots at 2 pixels a dot). */
export const LABELS = [
  { text: "ACME SONO 5", x: 12, y: 12, scale: 2 },
  { text: "12 03 2024", x: US_COLUMNS - 154, y: US_ROWS - 25, scale: 2 },
];

/** One line of the blank table. */
export interface BlankRow {
  label: string;
  files: number;
  /** Decoded pixel bytes of the row's files (a run: of its input). */
  pixelBytes: number;
  allMs: number[];
  wallMs: number | null;
  /** The child's own time (blanking rows), median. */
  inProcessMs?: number;
  ok: boolean;
  check: string;
}

/** Everything the blank case measured. */
export interface BlankResults {
  runs: number;
  usFiles: number;
  frames: number;
  dataDir: string;
  regions: typeof REGIONS;
  blank: BlankRow[];
  run: BlankRow[];
  ocr: {
    frames: number;
    binariesMs: number;
    firstMs: number;
    /** Median of the other calls. */
    perFrameMs: number | null;
    boxes: number[];
    ok: boolean;
    check: string;
  } | null;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2 : NaN;
};

async function command(cmd: string, args: string[], env?: Record<string, string>) {
  const t0 = performance.now();
  const out = await new Deno.Command(cmd, { args, env, stdin: "null", stdout: "piped", stderr: "piped" })
    .output();
  const wallMs = performance.now() - t0;
  const dec = new TextDecoder();
  return { wallMs, ok: out.success, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr).trim() };
}

async function child<T>(args: string[]): Promise<{ wallMs: number; report?: T; error?: string }> {
  const r = await command(Deno.execPath(), ["run", "-A", CHILD, ...args]);
  const text = r.stdout.trim();
  if (!r.ok || !text) return { wallMs: r.wallMs, error: r.stderr.split("\n").pop() || "failed" };
  return { wallMs: r.wallMs, report: JSON.parse(text.split("\n").pop()!) as T };
}

const inRegion = (x: number, y: number) =>
  REGIONS.some((r) => x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height);

/**
 * Compare a blanked file with its (uncompressed) source: every region sample 0 in every frame,
 * every other sample equal. Returns null when it holds, else what differs.
 */
export async function checkBlanked(out: string, source: string, syntax?: string): Promise<string | null> {
  if (syntax) {
    const ts = (await readDicomFile(out)).transferSyntax.uid;
    if (ts !== syntax) return `written in ${ts}, not ${syntax}`;
  }
  const [a, b] = [(await pixelsOf(out)).bytes, (await pixelsOf(source)).bytes];
  if (a.length !== b.length) return `${a.length} pixel bytes, the source has ${b.length}`;
  const frame = US_ROWS * US_COLUMNS * 3;
  for (let i = 0; i < a.length; i++) {
    const p = (i % frame) / 3 | 0;
    const x = p % US_COLUMNS, y = (p / US_COLUMNS) | 0;
    const want = inRegion(x, y) ? 0 : b[i];
    if (a[i] !== want) return `frame ${(i / frame) | 0} (${x}, ${y}): ${a[i]}, not ${want}`;
  }
  return null;
}

/** Every file under `dir`. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...await filesUnder(p));
    else if (e.isFile) out.push(p);
  }
  return out.sort();
}

function protocol(name: string, input: string, output: string, key: string, burnedIn: "blank" | "allow") {
  const [t, b] = REGIONS;
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
  salt: { env: DCMTIDY_SALT }
  uids: remap
  burned_in: ${burnedIn}
${
    burnedIn === "blank"
      ? `  pixels:
    - name: bench-us-640x480
      when: { Modality: US, Rows: ${US_ROWS}, Columns: ${US_COLUMNS} }
      blank: [[${t.x}, ${t.y}, ${t.width}, ${t.height}], [-${b.width}, -${b.height}, ${b.width}, ${b.height}]]
`
      : ""
  }`;
}

/** The codec data of `us` ultrasound files: any complete cache with them, else only those made. */
async function usData(us: number, log: (l: string) => void): Promise<CodecData> {
  let ct = 0;
  const re = new RegExp(`^codecs-v${CODEC_DATA_VERSION}-(\\d+)ct-${us}us$`);
  let names: string[] = [];
  try {
    names = [...Deno.readDirSync(CACHE_DIR)].map((e) => e.name).sort();
  } catch {
    // no cache yet
  }
  for (const name of names) {
    const m = re.exec(name);
    if (m && await Deno.stat(join(CACHE_DIR, name, ".complete.json")).then(() => true, () => false)) {
      ct = Number(m[1]);
      break;
    }
  }
  return await ensureCodecData(ct, us, () => Promise.resolve("not needed for the blank case"), log);
}

/**
 * Build (or reuse) `us` ultrasound files, then time blanking them (uncompressed, JPEG-LS), OCR
 * on `ocrFrames` frames, and `dcmtidy run` with `burned_in: blank` and `allow`, `runs` rounds.
 */
export async function measureBlank(opts: {
  us: number;
  ocrFrames: number;
  runs: number;
  log: (line: string) => void;
}): Promise<BlankResults> {
  const { log, runs } = opts;
  const data = await usData(opts.us, log);
  const tmp = await Deno.makeTempDir({ prefix: "dcmtidy-blank-" });
  try {
    const list = join(tmp, "list.txt");
    const regionsJson = JSON.stringify(REGIONS);
    const sets = [{ label: "uncompressed US", syntax: "1.2.840.10008.1.2.1", files: data.usFiles }];
    const jls = data.sets.find((s) => s.kind === "us" && s.label === "jpeg-ls lossless US");
    if (jls) sets.push({ label: "jpeg-ls lossless US", syntax: jls.syntax, files: jls.files });
    const row = (label: string, files: number): BlankRow => ({
      label,
      files,
      pixelBytes: data.usPixelBytes,
      allMs: [],
      wallMs: null,
      ok: true,
      check: "",
    });
    const blankRows = sets.map((s) => row(`blank ${s.label}`, s.files.length));
    const runRows = sets.flatMap((s) => [
      row(`dcmtidy run, ${s.label}, burned_in: allow`, s.files.length),
      row(`dcmtidy run, ${s.label}, burned_in: blank`, s.files.length),
    ]);
    const inProc = blankRows.map(() => [] as number[]);
    const fail = (r: BlankRow, why: string) => {
      if (r.ok) r.check = why;
      r.ok = false;
    };
    const key = (n: string) => join(tmp, `${n}-key.csv`);
    for (let round = 1; round <= runs; round++) {
      log(`blank: round ${round} of ${runs}`);
      for (const [k, s] of sets.entries()) {
        const r = blankRows[k];
        const out = join(tmp, `blank-${k}`);
        await Deno.mkdir(out, { recursive: true });
        await Deno.writeTextFile(list, s.files.join("\n") + "\n");
        const c = await child<BlankReport>(["blank", out, list, regionsJson]);
        if (c.error || c.report!.errors.length) fail(r, c.error ?? c.report!.errors[0]);
        else {
          r.allMs.push(c.wallMs);
          inProc[k].push(c.report!.ms);
        }
        if (round === 1 && r.ok) {
          const why = await checkBlanked(join(out, basename(s.files[0])), data.usFiles[0], s.syntax);
          if (why) fail(r, `${basename(s.files[0])}: ${why}`);
          else r.check = `${basename(s.files[0])}: regions black in every frame, the rest equal, same syntax`;
        }
        await Deno.remove(out, { recursive: true });
        for (const [j, mode] of (["allow", "blank"] as const).entries()) {
          const rr = runRows[2 * k + j];
          const name = `run-${k}-${mode}`;
          const proto = join(tmp, `${name}.yaml`);
          const outRoot = join(tmp, name);
          await Deno.writeTextFile(proto, protocol(name, dirOf(s.files[0]), outRoot, key(name), mode));
          const res = await command(Deno.execPath(), [...CLI_FLAGS, "run", proto, "--yes"], {
            DCMTIDY_SALT: SALT,
          });
          if (!res.ok) fail(rr, `exit: ${(res.stderr || res.stdout).split("\n").slice(-1)[0]}`);
          else rr.allMs.push(res.wallMs);
          if (round === 1 && rr.ok) await checkRun(rr, outRoot, s, data.usFiles[0], mode);
          await Deno.remove(outRoot, { recursive: true }).catch(() => {});
          await Deno.remove(key(name)).catch(() => {});
        }
      }
    }
    for (const [k, r] of [...blankRows, ...runRows].entries()) {
      if (r.allMs.length) r.wallMs = median(r.allMs);
      if (k < inProc.length && inProc[k].length) r.inProcessMs = median(inProc[k]);
    }
    const ocr = opts.ocrFrames > 0 ? await measureOcr(data.usFiles, opts.ocrFrames, list, log) : null;
    return {
      runs,
      usFiles: opts.us,
      frames: data.usPixelBytes / (US_ROWS * US_COLUMNS * 3),
      dataDir: data.dir,
      regions: REGIONS,
      blank: blankRows,
      run: runRows,
      ocr,
    };
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

const dirOf = (path: string) => path.slice(0, path.lastIndexOf("/"));

/** A run's output: one file per input; the first (InstanceNumber 1) blanked, or equal to the source. */
async function checkRun(
  r: BlankRow,
  outRoot: string,
  set: { files: string[]; syntax: string },
  source: string,
  mode: string,
) {
  const inputs = set.files;
  const outs = (await filesUnder(outRoot)).filter((f) => f.endsWith(".dcm"));
  if (outs.length !== inputs.length) {
    r.ok = false;
    r.check = `${outs.length} files written, not ${inputs.length}`;
    return;
  }
  const first = outs.find((f) => f.endsWith("/0001.dcm")) ?? outs[0];
  if (mode === "blank") {
    const why = await checkBlanked(first, source, set.syntax);
    r.ok = why === null;
    r.check = why ?? `${inputs.length} files; ${basename(first)}: regions black, the rest equal, same syntax`;
  } else {
    const [a, b] = [(await pixelsOf(first)).bytes, (await pixelsOf(source)).bytes];
    r.ok = a.length === b.length && a.every((v, i) => v === b[i]);
    r.check = r.ok ? `${inputs.length} files; ${basename(first)}: pixels as the source's` : "pixels changed";
  }
}

async function measureOcr(
  files: string[],
  frames: number,
  list: string,
  log: (l: string) => void,
): Promise<BlankResults["ocr"]> {
  log(`blank: OCR of ${frames} frames`);
  await Deno.writeTextFile(list, files.join("\n") + "\n");
  const c = await child<OcrReport>(["ocr", list, String(frames), JSON.stringify(LABELS)]);
  if (c.error) {
    return { frames, binariesMs: 0, firstMs: 0, perFrameMs: null, boxes: [], ok: false, check: c.error };
  }
  const r = c.report!;
  const ok = r.found === r.planted && r.planted > 0;
  return {
    frames: r.frames,
    binariesMs: r.binariesMs,
    firstMs: r.firstMs,
    perFrameMs: r.restMs.length ? median(r.restMs) : null,
    boxes: r.boxes,
    ok,
    check: `frame 1: ${r.found} of ${r.planted} planted words boxed; boxes per frame ${
      Math.min(...r.boxes)
    } to ${Math.max(...r.boxes)}`,
  };
}

/** The blank case's lines for the terminal. */
export function formatBlank(b: BlankResults): string[] {
  const f = (n: number, d = 1) => n.toFixed(d);
  const cols = ["step", "files", "pixel MB", "wall s", "MB/s", "in-proc", "check"];
  const cells = [...b.blank, ...b.run].map((r) => [
    r.label,
    String(r.files),
    f(r.pixelBytes / 1e6),
    r.wallMs ? f(r.wallMs / 1000, 2) : "-",
    r.wallMs ? f(r.pixelBytes / 1e3 / r.wallMs) : "-",
    r.inProcessMs ? f(r.pixelBytes / 1e3 / r.inProcessMs) : "-",
    `${r.ok ? "OK" : "FAIL"} ${r.check}`,
  ]);
  const width = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === r.length - 1 ? c : i === 0 ? c.padEnd(width[i]) : c.padStart(width[i]))).join(
      "  ",
    );
  const lines = [
    "",
    `blank: ${b.usFiles} US files (${b.frames / Math.max(1, b.usFiles)} frames 640x480 RGB each), regions ${
      b.regions.map((r) => `[${r.x},${r.y},${r.width},${r.height}]`).join(" ")
    }, ${b.runs} round${b.runs === 1 ? "" : "s"}: median wall times`,
    line(cols),
    ...cells.map(line),
  ];
  const allow = b.run.filter((_, i) => i % 2 === 0), blank = b.run.filter((_, i) => i % 2 === 1);
  for (const [i, a] of allow.entries()) {
    if (a.wallMs && blank[i]?.wallMs) {
      lines.push(
        `  ${a.label.replace(/, burned_in: allow$/, "")}: blanking adds ${
          f((blank[i].wallMs! - a.wallMs) / 1000, 2)
        } s (x ${f(blank[i].wallMs! / a.wallMs, 2)})`,
      );
    }
  }
  const o = b.ocr;
  if (o) {
    lines.push(
      `OCR (findText, 640x480 RGB frames with text drawn in the regions, one thread): ${o.frames} frames; ` +
        `binaries read ${f(o.binariesMs / 1000, 2)} s, first frame ${
          f(o.firstMs / 1000, 2)
        } s (engine start-up), ` +
        `then ${o.perFrameMs === null ? "-" : f(o.perFrameMs / 1000, 3)} s per frame (median); ` +
        `${o.ok ? "OK" : "FAIL"} ${o.check}`,
    );
  }
  lines.push(
    "(MB/s: decoded pixel bytes / wall time, MB = 10^6 bytes. blank: one `deno run` child per row over all its",
    " files (read, blankSync, write, close), start-up included; in-proc: from the first read to the last close.",
    " dcmtidy run: the whole command (`deno task dcmtidy run --yes`), plan, workers and report included.)",
  );
  return lines;
}
