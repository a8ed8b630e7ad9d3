/**
 * Round trip over ../shared/corpus: a rewrite with no edits keeps every data set byte, and the meta
 * group differs only in the elements we own. Files without preamble or meta get both, and dcmdump
 * must then see the same data set as in the input.
 */
import assert from "node:assert/strict";
import { parseDicom } from "../src/dicom/reader.ts";
import { readDicomFile } from "../src/dicom/read_file.ts";
import { writeDicomFile } from "../src/dicom/write_file.ts";
import { IMPLEMENTATION_CLASS_UID } from "../src/dicom/writer.ts";
import { decodeStrings, valueBytes } from "../src/dicom/values.ts";
import type { DataSet } from "../src/dicom/model.ts";
import { CORPUS, corpusFiles, dcmdumpDataSet, hasTool, noteOnce, runTool } from "./helpers.ts";

const OWNED = new Set([0x00020000, 0x00020001, 0x00020002, 0x00020003, 0x00020010, 0x00020012, 0x00020013]);

function metaValues(meta: DataSet | undefined): Map<number, string> {
  const out = new Map<number, string>();
  for (const el of meta?.elements ?? []) out.set(el.tag, Array.from(valueBytes(el) ?? []).join(","));
  return out;
}

function str(ds: DataSet, tag: number): string | undefined {
  const el = ds.elements.find((e) => e.tag === tag);
  return el ? decodeStrings(el, ds)[0] : undefined;
}

Deno.test("round trip: corpus files rewritten with no edits keep every data set byte", async () => {
  const files = await corpusFiles();
  if (files.length === 0) return;
  const dcmdump = await hasTool("dcmdump");
  const out = await Deno.makeTempDir({ prefix: "dcmtidy-roundtrip-" });
  let compared = 0;
  const notRead: string[] = [];
  const weRefused: string[] = [];
  const dicomDirs: string[] = [];
  try {
    for (const [i, path] of files.entries()) {
      const name = path.slice(CORPUS.length);
      const input = dcmdump ? await runTool("dcmdump", [path]) : undefined;
      if (input && input.code !== 0) {
        const why = input.stderr.split("\n").filter((l) => l.startsWith("E:")).pop() ?? "";
        notRead.push(`${name} (${why.replace(/^E: /, "").slice(0, 100)})`);
        continue;
      }
      let file;
      try {
        file = await readDicomFile(path);
      } catch (e) {
        // Without dcmdump we cannot tell junk from a file we should have read: list it.
        weRefused.push(`${name}: ${(e as Error).message}`);
        continue;
      }
      if (file.isDicomDir) {
        dicomDirs.push(name);
        continue;
      }
      const dest = `${out}/${i}.dcm`;
      await writeDicomFile(file, dest);
      const written = await Deno.readFile(dest);
      const original = await Deno.readFile(path);
      const back = parseDicom(written, { file: dest }).file;

      // Data set: byte for byte.
      assert.deepEqual(written.subarray(back.datasetOffset), original.subarray(file.datasetOffset), name);

      // Meta: only the elements we own may differ, and those say what they must.
      const before = metaValues(file.meta);
      const after = metaValues(back.meta);
      for (const [tag, value] of before) if (!OWNED.has(tag)) assert.equal(after.get(tag), value, name);
      for (const tag of after.keys()) if (!OWNED.has(tag)) assert.ok(before.has(tag), name);
      assert.equal(str(back.meta!, 0x00020010), file.transferSyntax.uid, name);
      assert.equal(str(back.meta!, 0x00020012), IMPLEMENTATION_CLASS_UID, name);
      const sop = str(file.dataset, 0x00080018);
      if (sop) assert.equal(str(back.meta!, 0x00020003), sop, name);
      if (file.preamble) assert.deepEqual(written.subarray(0, 128), file.preamble, `${name}: preamble kept`);

      // dcmdump sees the same data set (this is the check that matters for inputs without meta).
      if (dcmdump && input) {
        const output = await runTool("dcmdump", [dest]);
        assert.equal(output!.code, 0, `${name}: dcmdump cannot read our output: ${output!.stderr}`);
        assert.deepEqual(dcmdumpDataSet(output!.stdout), dcmdumpDataSet(input.stdout), name);
      }
      compared++;
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
  console.log(
    `round trip: compared ${compared} files byte for byte; dcmdump could not read ${notRead.length}:`,
  );
  for (const n of notRead) console.log(`  - ${n}`);
  console.log(`  DICOMDIRs recognised and not rewritten by design: ${dicomDirs.join(", ") || "none"}`);
  if (weRefused.length) noteOnce(`round trip: we refused ${weRefused.length}: ${weRefused.join("; ")}`);
  assert.ok(compared > 0);
  // Every file dcmdump reads, we read too.
  if (dcmdump) assert.deepEqual(weRefused, []);
});
