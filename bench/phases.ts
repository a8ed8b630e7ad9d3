/**
 * Where a run's time goes, file by file, in one thread: every phase of a plan's survey and of a
 * `run --yes` survey that writes ahead (see src/run/stage.ts), timed separately over the cached
 * synthetic dump (run `deno task bench` once first) or any folder of DICOM files (`--dir`, e.g. the
 * small-file case's tree). A companion to the CPU profiles: it turns them into a per-file budget.
 *
 *   deno run -A bench/phases.ts [--files N | --dir DIR] [--rounds N] [--old]
 *
 * Phases of `dcmtidy plan` (a worker: blocking reads): header read, header de-identification.
 * Phases of `dcmtidy run --yes` (a worker, as `surveyAndStage` does them): read (whole up to 1 MiB,
 * the input's stamp from the open file), plan (de-identify, name the output: `planFile`), encode,
 * write (the encoding again, one exclusive create, the writes, the output's fstat for the journal),
 * report columns, and the message to the main thread (a structured clone of what the worker
 * posts). `--old` adds the write as it was before (a stat of the input and the destination, a
 * temporary name, a rename, an lstat). The output goes to a fresh folder each round, deleted only
 * at the end (see `settle` in tree.ts for why).
 *
 * @module
 */
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { deidConfig } from "../src/deid/config.ts";
import { DeidSession } from "../src/deid/session.ts";
import { Keys } from "../src/deid/keys.ts";
import { readDicomFileSync } from "../src/dicom/read_file.ts";
import { ReusableBuffer } from "../src/dicom/reusable_buffer.ts";
import { writeDicomFileSync } from "../src/dicom/write_file.ts";
import { identityOf, identityOfInfo, stampOf } from "../src/util/file_identity.ts";
import { encodeFile } from "../src/dicom/writer.ts";
import { planFile } from "../src/plan/survey.ts";
import { reportFields } from "../src/plan/report_fields.ts";
import { compileTemplate } from "../src/protocol/template.ts";
import { DEFAULT_DUMP_FILES, DUMP_VERSION } from "./dump.ts";
import { CACHE_DIR } from "./synthetic.ts";
import { deleteOutputs } from "./tree.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    files: { type: "string" },
    dir: { type: "string" },
    rounds: { type: "string" },
    old: { type: "boolean" },
  },
});
const count = Number(values.files ?? DEFAULT_DUMP_FILES);
const rounds = Number(values.rounds ?? 3);
const dir = values.dir ?? join(CACHE_DIR, `dump-v${DUMP_VERSION}-${count}`);

function listFiles(d: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(d)) {
    if (e.isDirectory) out.push(...listFiles(join(d, e.name)));
    else if (e.isFile) out.push(join(d, e.name));
  }
  return out;
}
const files = listFiles(dir).sort();
const config = deidConfig({ dates: { shift: { min_days: -100, max_days: -10 } } });
const session = () => new DeidSession(config, new Keys(new TextEncoder().encode("phases-salt-0123456789")));
const outRoot = join(CACHE_DIR, "phases");
const buffer = new ReusableBuffer();
const us = (ms: number) => `${((ms / files.length) * 1000).toFixed(0).padStart(4)} us`;

console.log(`${files.length} files of ${dir}, ${rounds} rounds; per-file times, one thread`);
for (let round = 1; round <= rounds; round++) {
  const plan = { read: 0, deid: 0 };
  let s = session();
  for (const f of files) {
    const t0 = performance.now();
    const file = readDicomFileSync(f, { headerOnly: true, reuse: buffer });
    const t1 = performance.now();
    s.deidentify(file);
    plan.read += t1 - t0;
    plan.deid += performance.now() - t1;
  }
  const run: Record<string, number> = { read: 0, plan: 0, encode: 0, write: 0, fields: 0, message: 0 };
  if (values.old) run["old write"] = 0;
  s = session();
  const out = join(outRoot, `round-${round}-${Date.now()}`);
  Deno.mkdirSync(out, { recursive: true });
  const ctx = {
    session: s,
    config,
    burnedIn: "warn" as const,
    root: out,
    folder: compileTemplate("{pseudo_id}/%t/%s", "folder"),
    file: compileTemplate("{InstanceNumber:04}.dcm", "file"),
  };
  let i = 0;
  for (const f of files) {
    let t = performance.now();
    const lap = (k: string) => {
      const now = performance.now();
      run[k] += now - t;
      t = now;
    };
    let stamp;
    const file = readDicomFileSync(f, {
      wholeFileLimit: 1024 * 1024,
      reuse: buffer,
      onOpen: (info) => stamp = stampOf(info),
    });
    lap("read");
    const { facts, result } = planFile(file, relative(dir, f), i, ctx);
    lap("plan");
    encodeFile(file, { zeroPreamble: true });
    lap("encode");
    const dest = join(out, `${i++}.partial`);
    let identity;
    const bytes = writeDicomFileSync(file, dest, {
      zeroPreamble: true,
      direct: true,
      onWritten: (info) => identity = identityOfInfo(info),
    });
    lap("write");
    const fields = reportFields(file.dataset);
    lap("fields");
    structuredClone({
      facts,
      extra: { path: dest, input: stamp, identity, bytes, fields, counts: result?.counts },
    });
    lap("message");
    if (values.old) {
      writeDicomFileSync(file, `${dest}.old`, { zeroPreamble: true, overwrite: true });
      identityOf(`${dest}.old`);
      lap("old write");
    }
  }
  const total = Object.entries(run).reduce((a, [k, v]) => a + (k === "old write" ? 0 : v), 0);
  console.log(
    `round ${round}: plan: header read ${us(plan.read)}, header de-identify ${us(plan.deid)} | run: ${
      Object.entries(run).filter(([k]) => k !== "old write").map(([k, v]) => `${k} ${us(v)}`).join(", ")
    } = ${us(total)}${values.old ? ` | write as before ${us(run["old write"])}` : ""}`,
  );
}
await deleteOutputs(outRoot);
