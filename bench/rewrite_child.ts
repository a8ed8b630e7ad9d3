/**
 * The measured child of the rewrite benchmark:
 *
 *   deno run -A bench/rewrite_child.ts IN OUT     read IN, anonymise two elements, write OUT
 *   deno run -A bench/rewrite_child.ts --baseline load the engine and exit (Deno's own footprint)
 *
 * Prints one JSON line on stdout with its own timings, and its VmHWM on stderr (see `rss.ts`).
 *
 * @module
 */
import { deletePath, setPath } from "../src/dicom/edit.ts";
import { DicomError } from "../src/dicom/errors.ts";
import { readDicomFile } from "../src/dicom/read_file.ts";
import { writeDicomFile } from "../src/dicom/write_file.ts";
import { readVmHwmKiB, reportVmHwm } from "./rss.ts";

/** What the child prints on stdout. */
export interface ChildReport {
  readMs: number;
  editMs: number;
  writeMs: number;
  written: number;
  set: number;
  deleted: number;
  rssAfterReadKiB: number | null;
}

async function main(args: string[]): Promise<number> {
  if (args[0] === "--baseline") {
    // The imports above are loaded: this is the floor under every measured run.
    console.log(JSON.stringify({ baseline: true }));
    return 0;
  }
  if (args.length !== 2) {
    console.error("usage: deno run -A bench/rewrite_child.ts IN OUT | --baseline");
    return 2;
  }
  const [input, output] = args;
  const t0 = performance.now();
  const file = await readDicomFile(input);
  const t1 = performance.now();
  const rssAfterReadKiB = readVmHwmKiB();
  const set = setPath(file.dataset, "PatientName", "ANONYMOUS");
  const deleted = deletePath(file.dataset, "PatientBirthDate");
  const t2 = performance.now();
  const written = await writeDicomFile(file, output, { zeroPreamble: true });
  const t3 = performance.now();
  const report: ChildReport = {
    readMs: t1 - t0,
    editMs: t2 - t1,
    writeMs: t3 - t2,
    written,
    set,
    deleted,
    rssAfterReadKiB,
  };
  console.log(JSON.stringify(report));
  return 0;
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (e) {
    // DicomError's toString names the file and offset; anything else gets its stack.
    console.error(e instanceof DicomError ? `${e.name}: ${e}` : e instanceof Error ? e.stack : String(e));
    code = 1;
  }
  reportVmHwm();
  Deno.exit(code);
}
