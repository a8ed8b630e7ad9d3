/**
 * Where a run's time goes, file by file, in one thread: every phase of a plan's survey and of a
 * `run --yes` survey that writes ahead (see src/plan/survey.ts), timed separately over the cached
 * synthetic dump (run `deno task bench` once first). A companion to the CPU profiles: it turns
 * them into a per-file budget.
 *
 *   deno run -A bench/phases.ts [--files N] [--rounds N]
 *
 * Phases of `dcmtidy plan` (a worker: blocking reads): header read, header de-identification.
 * Phases of `dcmtidy run --yes` (a worker): streamed read (the header, Pixel Data left in the
 * file), de-identify, encode, write (the encoding again, a temporary file, rename; Pixel Data
 * copied from the input in pieces), the output's identity for the journal (one lstat). The output
 * goes to a fresh folder each round, deleted only at the end (see `settle` in tree.ts for why).
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { deidConfig } from "../src/deid/config.ts";
import { DeidSession } from "../src/deid/session.ts";
import { Keys } from "../src/deid/keys.ts";
import { readDicomFileSync } from "../src/dicom/read_file.ts";
import { ReusableBuffer } from "../src/dicom/reusable_buffer.ts";
import { writeDicomFileSync } from "../src/dicom/write_file.ts";
import { identityOf } from "../src/util/file_identity.ts";
import { encodeFile } from "../src/dicom/writer.ts";
import { DEFAULT_DUMP_FILES, DUMP_VERSION } from "./dump.ts";
import { CACHE_DIR } from "./synthetic.ts";
import { deleteOutputs } from "./tree.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { files: { type: "string" }, rounds: { type: "string" } },
});
const count = Number(values.files ?? DEFAULT_DUMP_FILES);
const rounds = Number(values.rounds ?? 3);
const dir = join(CACHE_DIR, `dump-v${DUMP_VERSION}-${count}`);
const files = [...Deno.readDirSync(dir)].map((e) => join(dir, e.name)).sort();
const session = () =>
  new DeidSession(
    deidConfig({ dates: { shift: { min_days: -100, max_days: -10 } } }),
    new Keys(new TextEncoder().encode("phases-salt-0123456789")),
  );
const outRoot = join(CACHE_DIR, "phases");
const buffer = new ReusableBuffer();
const us = (ms: number) => `${((ms / files.length) * 1000).toFixed(0).padStart(5)} us`;

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
  const run = { read: 0, deid: 0, encode: 0, write: 0, identity: 0 };
  s = session();
  const out = join(outRoot, `round-${round}`);
  Deno.mkdirSync(out, { recursive: true });
  let i = 0;
  for (const f of files) {
    let t = performance.now();
    const lap = (k: keyof typeof run) => {
      const now = performance.now();
      run[k] += now - t;
      t = now;
    };
    const file = readDicomFileSync(f, { wholeFileLimit: 0, reuse: buffer });
    lap("read");
    s.deidentify(file);
    lap("deid");
    encodeFile(file, { zeroPreamble: true });
    lap("encode");
    const dest = join(out, `${i++}.dcm`);
    writeDicomFileSync(file, dest, { zeroPreamble: true });
    lap("write");
    identityOf(dest);
    lap("identity");
  }
  const total = Object.values(run).reduce((a, b) => a + b, 0);
  console.log(
    `round ${round}: plan: header read ${us(plan.read)}, header de-identify ${us(plan.deid)} | run: read ${
      us(run.read)
    }, de-identify ${us(run.deid)}, encode ${us(run.encode)}, write ${us(run.write)}, identity ${
      us(run.identity)
    } = ${us(total)}`,
  );
}
await deleteOutputs(outRoot);
