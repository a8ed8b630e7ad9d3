/**
 * The measured child of the codec case: transcode a list of files to one transfer syntax, each
 * written under its own name in an output folder, the way `dcmtidy modify --transfer-syntax`
 * does it: `readDicomFile`, `transcode`, `writeDicomFile`, `close`. Prints one JSON line on
 * stdout: the files done and the milliseconds from the first read to the last close (Deno's
 * start-up and module loading excluded; the codecs' WebAssembly instantiation included).
 *
 * `deno run -A bench/codec_child.ts TRANSFER-SYNTAX-UID OUT-DIR LIST-FILE` (one input path a line)
 *
 * @module
 */
import { basename, join } from "node:path";
import { readDicomFile } from "../src/dicom/read_file.ts";
import { writeDicomFile } from "../src/dicom/write_file.ts";
import { transcode } from "../src/pixels/transcode.ts";

/** What the child prints. */
export interface ChildReport {
  files: number;
  ms: number;
  /** Milliseconds of the first file alone (codec instantiation and JIT warm-up). */
  firstMs: number;
  /** Inputs that failed, with the message (the others are still done). */
  errors: string[];
}

async function main([to, outDir, list]: string[]): Promise<number> {
  if (!to || !outDir || !list) {
    console.error("usage: codec_child.ts TRANSFER-SYNTAX-UID OUT-DIR LIST-FILE");
    return 2;
  }
  const inputs = (await Deno.readTextFile(list)).split("\n").filter(Boolean);
  const t0 = performance.now();
  let firstMs = 0;
  const errors: string[] = [];
  for (const input of inputs) {
    try {
      const file = await readDicomFile(input);
      const t = await transcode(file, to);
      try {
        await writeDicomFile(file, join(outDir, basename(input)), { overwrite: true });
      } finally {
        t.close();
      }
    } catch (e) {
      errors.push(`${basename(input)}: ${(e as Error).message}`);
    }
    if (!firstMs) firstMs = performance.now() - t0;
  }
  const report: ChildReport = { files: inputs.length, ms: performance.now() - t0, firstMs, errors };
  console.log(JSON.stringify(report));
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
