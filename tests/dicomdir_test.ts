/**
 * `output.dicomdir: true`: a run over the raw dump (3 patients x 2 studies x 2 series x 2 images)
 * writes a DICOMDIR whose records, walked by their offsets, point at every written file with the
 * de-identified values; dcmdump reads it without a warning, dciodvfy finds no error, dcmmkdir makes
 * the same records from the same files and updates ours; a re-run writes the same bytes; validate
 * refuses templates that make no media file IDs; modify says why it does not edit a DICOMDIR.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type DataSet, readDicomFile } from "../src/dicom/mod.ts";
import { tags } from "../src/standard/tags.ts";
import { buildRawDump } from "./fixtures/raw_dump.ts";
import { hasTool, runCli, runTool } from "./helpers.ts";

const ENV = { DCMTIDY_SALT: "dicomdir-test-salt-0123456789" };

function protocol(dir: string, output: string): string {
  return `version: 1
name: media
input: { root: ${JSON.stringify(`${dir}/raw`)} }
output:
  root: ${JSON.stringify(`${dir}/tidy`)}
${output}
deidentify:
  salt: { env: DCMTIDY_SALT }
  patient_id: { hash: { prefix: "S", length: 7 } }
`;
}

const MEDIA = `  path: "{pseudo_id}/SE{SeriesNumber:04}"
  file: "IM{InstanceNumber:04}"
  transfer_syntax: explicit-le
  dicomdir: true`;

function text(ds: DataSet, tag: number): string {
  const el = ds.elements.find((e) => e.tag === tag);
  const bytes = el?.value ?? (el?.span ? el.span.src.subarray(el.span.valueStart, el.span.end) : undefined);
  return bytes ? new TextDecoder("latin1").decode(bytes).replace(/[\0 ]+$/, "") : "";
}

function ul(ds: DataSet, tag: number): number {
  const el = ds.elements.find((e) => e.tag === tag)!;
  const s = el.span!;
  return new DataView(s.src.buffer, s.src.byteOffset + s.valueStart, 4).getUint32(0, true);
}

/** Files under `root` (relative, `/`-separated, sorted), without the run's state, report and DICOMDIR. */
async function dicomFiles(root: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(join(root, rel))) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory && e.name !== ".dcmtidy") out.push(...await dicomFiles(root, p));
    else if (e.isFile && !["DICOMDIR", "report.csv"].includes(p)) out.push(p);
  }
  return out.sort();
}

/** The records' key lines of a dcmdump listing, in order (what dcmmkdir and we must agree on). */
function recordKeys(listing: string): string[] {
  const keys =
    /^ {4}\((0004,1430|0004,1500|0004,1510|0004,1511|0004,1512|0008,0060|0010,0010|0010,0020|0020,000d|0020,000e|0020,0011|0020,0013)\)/;
  return listing.split("\n").filter((l) => keys.test(l)).map((l) => l.replace(/\s*#.*$/, ""));
}

Deno.test("output.dicomdir: the DICOMDIR lists every written file, by offsets, de-identified", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-dicomdir-" }));
  try {
    await Deno.mkdir(`${dir}/raw`);
    const dump = await buildRawDump(`${dir}/raw`);
    const yaml = `${dir}/study.yaml`;
    await Deno.writeTextFile(yaml, protocol(dir, MEDIA));
    const run = await runCli(["run", yaml, "--yes"], ENV);
    assert.ok(run.code === 0 || run.code === 3, run.stdout + run.stderr); // 3: the dump has a cut file
    const root = `${dir}/tidy`;
    const path = `${root}/DICOMDIR`;
    const bytes = await Deno.readFile(path);
    const latin1 = new TextDecoder("latin1").decode(bytes);
    for (const phi of dump.phi) assert.ok(!latin1.includes(phi), `${phi} is in the DICOMDIR`);

    // Walk the records by their offsets, from the root entity down.
    const dd = await readDicomFile(path);
    assert.ok(dd.isDicomDir);
    const items = dd.dataset.elements.find((e) => e.tag === tags.DirectoryRecordSequence)!.items!;
    const at = new Map(items.map((it) => [it.span!.start, it.dataset]));
    const files = await dicomFiles(root);
    assert.equal(files.length, 24);
    const seen: string[] = [];
    const counts: Record<string, number> = {};
    const walk = (offset: number, parents: DataSet[]) => {
      for (let o = offset; o !== 0;) {
        const rec = at.get(o);
        assert.ok(rec, `no record at offset ${o}`);
        const type = text(rec, tags.DirectoryRecordType);
        counts[type] = (counts[type] ?? 0) + 1;
        if (type === "IMAGE") {
          const id = text(rec, tags.ReferencedFileID).split("\\");
          seen.push(id.join("/"));
          const [patient, study, series] = parents;
          const file = readDicomFileSyncCache.get(id.join("/"))!;
          assert.equal(text(rec, tags.ReferencedSOPInstanceUIDInFile), text(file, tags.SOPInstanceUID));
          assert.equal(text(patient, tags.PatientID), text(file, tags.PatientID));
          assert.equal(text(study, tags.StudyInstanceUID), text(file, tags.StudyInstanceUID));
          assert.equal(text(series, tags.SeriesInstanceUID), text(file, tags.SeriesInstanceUID));
        }
        walk(ul(rec, tags.OffsetOfReferencedLowerLevelDirectoryEntity), [...parents, rec]);
        o = ul(rec, tags.OffsetOfTheNextDirectoryRecord);
      }
    };
    const readDicomFileSyncCache = new Map<string, DataSet>();
    for (const f of files) readDicomFileSyncCache.set(f, (await readDicomFile(join(root, f))).dataset);
    const first = ul(dd.dataset, tags.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity);
    walk(first, []);
    assert.deepEqual(seen.sort(), files);
    assert.deepEqual(counts, { PATIENT: 3, STUDY: 6, SERIES: 12, IMAGE: 24 });
    const last = ul(dd.dataset, tags.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity);
    assert.equal(ul(at.get(last)!, tags.OffsetOfTheNextDirectoryRecord), 0);

    // A re-run rewrites the same bytes; verify accounts for the DICOMDIR.
    assert.ok([0, 3].includes((await runCli(["run", yaml, "--yes"], ENV)).code));
    assert.deepEqual(await Deno.readFile(path), bytes);
    // With shards, no shard writes it and merge writes the same bytes as a single run.
    const sharded = `${dir}/sharded.yaml`;
    await Deno.writeTextFile(sharded, protocol(dir, MEDIA).replace(`${dir}/tidy`, `${dir}/tidy-shards`));
    for (const k of ["1/2", "2/2"]) await runCli(["run", sharded, "--yes", "--shard", k], ENV);
    await assert.rejects(Deno.stat(`${dir}/tidy-shards/DICOMDIR`), Deno.errors.NotFound);
    assert.ok([0, 3].includes((await runCli(["merge", `${dir}/tidy-shards`], ENV)).code));
    assert.deepEqual(await Deno.readFile(`${dir}/tidy-shards/DICOMDIR`), bytes);
    const verify = await runCli(["verify", yaml], ENV);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);

    // modify does not edit a DICOMDIR, and says why and what to do instead.
    const modify = await runCli(["modify", path, "--set", "FileSetID=X", "--out", `${dir}/modified`]);
    assert.notEqual(modify.code, 0);
    assert.match(modify.stderr, /byte offsets.*output\.dicomdir: true/s);

    if (await hasTool("dcmdump", ["--version"])) {
      const dumped = (await runTool("dcmdump", [path]))!;
      assert.equal(dumped.code, 0, dumped.stderr);
      assert.equal(dumped.stderr, "");
      // dcmmkdir makes the same records, in the same order, from the same files (inventing the
      // Type 1 study keys de-identification emptied, as we do) and takes ours for an update.
      if (await hasTool("dcmmkdir", ["--version"])) {
        const ours = recordKeys(dumped.stdout);
        await Deno.mkdir(`${dir}/media`);
        for (const f of files) {
          await Deno.mkdir(join(`${dir}/media`, f, ".."), { recursive: true });
          await Deno.copyFile(join(root, f), join(`${dir}/media`, f));
        }
        const made = await new Deno.Command("dcmmkdir", {
          args: ["-Pgp", "+I", ...files],
          cwd: `${dir}/media`,
        })
          .output();
        assert.equal(made.code, 0, new TextDecoder().decode(made.stderr));
        const theirs = recordKeys((await runTool("dcmdump", [`${dir}/media/DICOMDIR`]))!.stdout);
        assert.deepEqual(ours, theirs);
        await Deno.copyFile(path, `${dir}/media/DICOMDIR`);
        const update = await new Deno.Command("dcmmkdir", {
          args: ["+U", "-Pgp", "+I", ...files],
          cwd: `${dir}/media`,
        })
          .output();
        const err = new TextDecoder().decode(update.stderr);
        assert.equal(update.code, 0, err);
        assert.ok(!/^E:/m.test(err), err);
      }
    }
    if (await hasTool("dciodvfy", ["-help"])) {
      const checked = (await runTool("dciodvfy", [path]))!;
      const out = checked.stdout + checked.stderr;
      assert.ok(!/^(Error|Warning)/m.test(out), out);
    }

    // Without dicomdir, the next run removes the one it wrote.
    await Deno.writeTextFile(yaml, protocol(dir, MEDIA.replace("dicomdir: true", "dicomdir: false")));
    assert.ok([0, 3].includes((await runCli(["run", yaml, "--yes"], ENV)).code));
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("output.dicomdir: validate refuses templates that make no media file IDs, at their line", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-dicomdir-" }));
  try {
    await Deno.mkdir(`${dir}/raw`);
    const yaml = `${dir}/study.yaml`;
    await Deno.writeTextFile(yaml, protocol(dir, `  file: "{InstanceNumber:04}.dcm"\n  dicomdir: true`));
    const r = await runCli(["validate", yaml], ENV);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /study\.yaml:6:9: output\.file "\{InstanceNumber:04\}\.dcm" .*has an extension/);
    assert.match(
      r.stderr,
      /study\.yaml:7:13: the default output\.path .* uses SeriesDescription, which may hold any text/,
    );
    assert.match(
      r.stderr,
      /try path: "\{pseudo_id\}\/SE\{SeriesNumber:04\}", file: "IM\{InstanceNumber:04\}"/,
    );
    await Deno.writeTextFile(yaml, protocol(dir, MEDIA));
    const ok = await runCli(["validate", yaml], ENV);
    assert.equal(ok.code, 0, ok.stderr);
    await Deno.writeTextFile(yaml, protocol(dir, `${MEDIA}\n  format: nifti`));
    const nifti = await runCli(["validate", yaml], ENV);
    assert.match(nifti.stderr, /a DICOMDIR lists DICOM files only/);
    // What validate cannot see: a value the profile removed renders "na"; the plan stops the run.
    await buildRawDump(`${dir}/raw`);
    await Deno.writeTextFile(yaml, protocol(dir, MEDIA.replace("SE{SeriesNumber:04}", "{AccessionNumber}")));
    const na = await runCli(["run", yaml, "--yes"], ENV);
    assert.notEqual(na.code, 0);
    assert.match(
      na.stdout + na.stderr,
      /which a DICOMDIR cannot list: "na" has lowercase letters .*\(and 23 more files\)/,
    );
    await assert.rejects(Deno.stat(`${dir}/tidy/DICOMDIR`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
