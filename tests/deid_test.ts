/**
 * Acceptance checks of de-identification (the de-identification issue):
 *
 * 1. Canary: a fixture with a distinct canary in every place where the Basic Profile removes or
 *    replaces (top level, nested sequences, private blocks, UN values, file meta, overlays, curves,
 *    preamble); after de-identification no canary is left in the output bytes, in every transfer
 *    syntax the builder writes (deflated data sets are inflated before the search).
 * 2. Determinism: same salt and input give byte-identical output; another salt changes every
 *    pseudonym, remapped UID and the day offset; a UID referenced from a second file maps to the
 *    first file's new UID, in one session and in a fresh one with the same salt.
 * 3. Validity over ../shared/corpus: dcmdump reads every output, dciodvfy reports no more errors than
 *    for the input, and the Pixel Data value (fragments included) is unchanged.
 */
import assert from "node:assert/strict";
import { inflateRawSync } from "node:zlib";
import { type DeidConfig, deidConfig } from "../src/deid/config.ts";
import { type DeidResult, DeidSession } from "../src/deid/session.ts";
import { Keys } from "../src/deid/keys.ts";
import { readDicomFile } from "../src/dicom/read_file.ts";
import { writeDicomFile } from "../src/dicom/write_file.ts";
import type { DataSet, DicomFile } from "../src/dicom/model.ts";
import { parseDicom } from "../src/dicom/reader.ts";
import { decodeStrings } from "../src/dicom/values.ts";
import { type Node, SAMPLE_UIDS, sampleDataset, type TS } from "./fixtures/builder.ts";
import { buildDicom } from "./fixtures/builder.ts";
import { buildCanaryFile, canaryFixture } from "./fixtures/canary.ts";
import { CORPUS, corpusFiles, hasTool, noteOnce, runTool } from "./helpers.ts";

const ALL_TS: TS[] = ["explicit-le", "implicit-le", "explicit-be", "deflated"];
const PIXEL_DATA = 0x7fe00010;
const latin1 = new TextDecoder("latin1");
const salt = (s: string) => new TextEncoder().encode(s);

// ---------------------------------------------------------------------------------------------
// Helpers

/** Read `bytes` as a file, de-identify it with `session`, write it with a zeroed preamble; the output bytes. */
async function deidentifyBytes(
  session: DeidSession,
  input: Uint8Array,
  dir: string,
  name: string,
): Promise<{ bytes: Uint8Array; result: DeidResult }> {
  const src = `${dir}/${name}.in.dcm`;
  const dest = `${dir}/${name}.out.dcm`;
  await Deno.writeFile(src, input);
  const file = await readDicomFile(src);
  const result = session.deidentify(file);
  await writeDicomFile(file, dest, { zeroPreamble: true, overwrite: true });
  return { bytes: await Deno.readFile(dest), result };
}

/** Where the file meta group ends: after (0002,0000)'s value plus the length it gives. */
function metaEnd(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(latin1.decode(bytes.subarray(128, 132)), "DICM");
  assert.equal(view.getUint32(132, true), 0x00000002, "(0002,0000) first in the meta group");
  return 144 + view.getUint32(140, true);
}

/** The whole file as latin1 text, with the data set inflated first for deflated files. */
function searchable(bytes: Uint8Array, deflated: boolean): string {
  if (!deflated) return latin1.decode(bytes);
  const end = metaEnd(bytes);
  return latin1.decode(bytes.subarray(0, end)) + latin1.decode(inflateRawSync(bytes.subarray(end)));
}

function str(ds: DataSet, tag: number): string | undefined {
  const el = ds.elements.find((e) => e.tag === tag);
  return el ? decodeStrings(el, ds)[0] : undefined;
}

/** The first item's data set of a sequence. */
function item(ds: DataSet, tag: number): DataSet {
  const el = ds.elements.find((e) => e.tag === tag);
  assert.ok(el?.items?.length, `sequence ${tag.toString(16)} with an item`);
  return el.items[0].dataset;
}

async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Canary

Deno.test("deid canary: no planted value survives the basic profile, in any transfer syntax", async () => {
  const fixture = canaryFixture();
  const { places } = fixture;
  const needles = new Set(places.map((p) => p.needle));
  assert.equal(needles.size, places.length, "every canary is unique, so a leak names its place");
  const texts = places.filter((p) => p.needle.startsWith("CNRY")).length;
  const dates = places.filter((p) => /^\d{8}$/.test(p.needle)).length;
  const uids = places.length - texts - dates;
  console.log(
    `canary: planted ${places.length} places (${texts} text/binary canaries, ${dates} dates, ${uids} UIDs) ` +
      `in ${ALL_TS.join(", ")}`,
  );
  assert.ok(places.length >= 100, `at least 100 places (${places.length})`);
  const dcmdump = await hasTool("dcmdump");

  const leaks: string[] = [];
  await withTempDir("dcmtidy-canary-", async (dir) => {
    for (const ts of ALL_TS) {
      const input = buildCanaryFile(fixture, { ts });
      // The check is only as good as the fixture: every needle must be findable in the input.
      const before = searchable(input, ts === "deflated");
      const missing = places.filter((p) => !before.includes(p.needle));
      assert.deepEqual(missing, [], `${ts}: canaries not found in the input, the search would miss them`);

      const session = new DeidSession(deidConfig(), new Keys(salt("canary-salt")));
      const { bytes } = await deidentifyBytes(session, input, dir, ts);
      const after = searchable(bytes, ts === "deflated");
      for (const p of places) if (after.includes(p.needle)) leaks.push(`${ts}: ${p.needle} at ${p.where}`);

      // The output is still a DICOM file, for us and for dcmtk.
      const back = parseDicom(bytes, { file: `${ts}.out.dcm` }).file;
      assert.equal(str(back.dataset, 0x00120062), "YES", `${ts}: PatientIdentityRemoved`);
      assert.deepEqual(bytes.subarray(0, 128), new Uint8Array(128), `${ts}: preamble zeroed`);
      if (dcmdump) {
        const out = await runTool("dcmdump", [`${dir}/${ts}.out.dcm`]);
        assert.equal(out!.code, 0, `${ts}: dcmdump cannot read the output: ${out!.stderr}`);
      }
    }
  });
  assert.deepEqual(leaks, [], `${leaks.length} canaries leaked:\n  ${leaks.join("\n  ")}`);
});

// ---------------------------------------------------------------------------------------------
// 2. Determinism

const FILE_B_UIDS = {
  sopInstance: "1.2.826.0.1.3680043.10.1000.2.13",
  series: "1.2.826.0.1.3680043.10.1000.2.12",
} as const;

/** File A: the sample CT. File B: another image of the same study and frame of reference referencing A. */
function filesAB(): { a: Uint8Array; b: Uint8Array } {
  const a = buildDicom(sampleDataset());
  const b: Node[] = sampleDataset().map((n) => {
    if (!("tag" in n)) return n;
    if (n.tag === 0x00080018) return { ...n, value: FILE_B_UIDS.sopInstance } as Node;
    if (n.tag === 0x0020000e) return { ...n, value: FILE_B_UIDS.series } as Node;
    if (n.tag === 0x00200013) return { ...n, value: "2" } as Node;
    return n;
  });
  b.push({
    tag: 0x00081140, // ReferencedImageSequence
    vr: "SQ",
    items: [[
      { tag: 0x00081150, vr: "UI", value: SAMPLE_UIDS.sopClass },
      { tag: 0x00081155, vr: "UI", value: SAMPLE_UIDS.sopInstance },
    ]],
  });
  return { a, b: buildDicom(b) };
}

const DATE_CONFIG: DeidConfig = deidConfig({
  options: ["retain-longitudinal-modified-dates"],
  dates: { shift: { min_days: -1000, max_days: -1 } },
});

interface Run {
  bytes: Uint8Array[];
  results: DeidResult[];
  files: DicomFile[];
}

/** De-identify the inputs in order with one fresh session keyed by `saltText`. */
async function run(saltText: string, inputs: Uint8Array[], dir: string): Promise<Run> {
  const session = new DeidSession(DATE_CONFIG, new Keys(salt(saltText)));
  const out: Run = { bytes: [], results: [], files: [] };
  for (const [i, input] of inputs.entries()) {
    const { bytes, result } = await deidentifyBytes(session, input, dir, `${saltText}-${i}`);
    out.bytes.push(bytes);
    out.results.push(result);
    out.files.push(parseDicom(bytes).file);
  }
  return out;
}

function shiftedDate(yyyymmdd: string, days: number): string {
  const d = new Date(Date.UTC(+yyyymmdd.slice(0, 4), +yyyymmdd.slice(4, 6) - 1, +yyyymmdd.slice(6, 8)));
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10).replaceAll("-", "");
}

Deno.test("deid determinism: same salt, same bytes; another salt, other pseudonyms, UIDs and offsets", async () => {
  const { a, b } = filesAB();
  await withTempDir("dcmtidy-determinism-", async (dir) => {
    const one = await run("salt-one", [a, b], dir);
    const again = await run("salt-one", [a, b], dir);
    const two = await run("salt-two", [a, b], dir);

    // Same salt, same input: byte-identical output, file by file.
    assert.deepEqual(again.bytes[0], one.bytes[0], "file A: same salt gives the same bytes");
    assert.deepEqual(again.bytes[1], one.bytes[1], "file B: same salt gives the same bytes");

    // Another salt changes every pseudonym, remapped UID and the day offset.
    const [a1, b1] = one.files.map((f) => f.dataset);
    const [a2, b2] = two.files.map((f) => f.dataset);
    assert.notEqual(str(a1, 0x00100020), "PID001");
    assert.equal(str(a1, 0x00100020), one.results[0].pseudoId);
    assert.equal(str(b1, 0x00100020), str(a1, 0x00100020), "one patient, one pseudonym");
    assert.notEqual(str(a2, 0x00100020), str(a1, 0x00100020), "PatientID changes with the salt");
    const uidTags: [string, DataSet, DataSet, number, string][] = [
      ["A StudyInstanceUID", a1, a2, 0x0020000d, SAMPLE_UIDS.study],
      ["A SeriesInstanceUID", a1, a2, 0x0020000e, SAMPLE_UIDS.series],
      ["A SOPInstanceUID", a1, a2, 0x00080018, SAMPLE_UIDS.sopInstance],
      ["A FrameOfReferenceUID", a1, a2, 0x00200052, SAMPLE_UIDS.frameOfReference],
      ["B SeriesInstanceUID", b1, b2, 0x0020000e, FILE_B_UIDS.series],
      ["B SOPInstanceUID", b1, b2, 0x00080018, FILE_B_UIDS.sopInstance],
      [
        "B ReferencedSOPInstanceUID",
        item(b1, 0x00081140),
        item(b2, 0x00081140),
        0x00081155,
        SAMPLE_UIDS.sopInstance,
      ],
    ];
    for (const [what, ds1, ds2, tag, original] of uidTags) {
      const v1 = str(ds1, tag);
      assert.match(v1 ?? "", /^2\.25\.\d+$/, `${what} remapped`);
      assert.notEqual(v1, original, `${what} remapped`);
      assert.notEqual(str(ds2, tag), v1, `${what} changes with the salt`);
    }
    assert.equal(str(a1, 0x00080016), SAMPLE_UIDS.sopClass, "SOP class (a registry UID) never changes");
    assert.equal(
      str(one.files[0].meta!, 0x00020003),
      str(a1, 0x00080018),
      "meta follows the new SOP instance",
    );

    const off1 = one.results[0].dayOffset;
    const off2 = two.results[0].dayOffset;
    assert.ok(off1 !== undefined && off1 >= -1000 && off1 <= -1, `day offset ${off1} in [-1000, -1]`);
    assert.ok(off2 !== undefined && off2 >= -1000 && off2 <= -1, `day offset ${off2} in [-1000, -1]`);
    assert.notEqual(off2, off1, "the day offset changes with the salt");
    assert.equal(one.results[1].dayOffset, off1, "one patient, one day offset");
    assert.equal(str(a1, 0x00080020), shiftedDate("20240115", off1), "StudyDate shifted by the offset");
    assert.equal(str(a2, 0x00080020), shiftedDate("20240115", off2!), "StudyDate shifted by the offset");

    // A UID referenced from file B maps to file A's new UID: in the same session...
    assert.equal(
      str(item(b1, 0x00081140), 0x00081155),
      str(a1, 0x00080018),
      "B's reference = A's new SOP UID",
    );
    assert.equal(str(b1, 0x0020000d), str(a1, 0x0020000d), "same study, same new StudyInstanceUID");
    assert.equal(str(b1, 0x00200052), str(a1, 0x00200052), "same new FrameOfReferenceUID");
    assert.notEqual(str(b1, 0x00080018), str(a1, 0x00080018));
    // ...and in a fresh session with the same salt that sees only file B.
    const alone = await run("salt-one", [b], dir);
    const bAlone = alone.files[0].dataset;
    assert.equal(
      str(item(bAlone, 0x00081140), 0x00081155),
      str(a1, 0x00080018),
      "fresh session: same mapping",
    );
    assert.equal(str(bAlone, 0x0020000d), str(a1, 0x0020000d));
    assert.equal(str(bAlone, 0x00200052), str(a1, 0x00200052));
    assert.deepEqual(alone.bytes[0], one.bytes[1], "file B alone gives the same bytes as after file A");
  });
});

Deno.test("deid UIDs: a study's and series' new UIDs are worked out once, whichever files come between", async () => {
  // Files listed round their series (a flat folder of UID-named files, the bench's small files):
  // each file's series is not the file before's. Only each instance's UID needs a fresh MAC.
  const seriesCount = 5;
  const rounds = 4;
  const uidOf = (kind: number, n: number) => `1.2.826.0.1.3680043.10.1000.9.${kind}.${n}`;
  const inputs: Uint8Array[] = [];
  for (let r = 0; r < rounds; r++) {
    for (let s = 0; s < seriesCount; s++) {
      inputs.push(buildDicom(
        sampleDataset().map((n) => {
          if (!("tag" in n)) return n;
          if (n.tag === 0x00080018) return { ...n, value: uidOf(3, r * seriesCount + s) } as Node;
          if (n.tag === 0x0020000d) return { ...n, value: uidOf(1, s % 2) } as Node; // two studies
          if (n.tag === 0x0020000e) return { ...n, value: uidOf(2, s) } as Node;
          return n;
        }),
      ));
    }
  }
  /** Keys that count the UIDs they are asked to make. */
  class CountingKeys extends Keys {
    made: string[] = [];
    override uid(original: string): string {
      this.made.push(original);
      return super.uid(original);
    }
  }
  await withTempDir("dcmtidy-shared-uids-", async (dir) => {
    const keys = new CountingKeys(salt("salt-one"));
    const session = new DeidSession(DATE_CONFIG, keys);
    const outputs: DataSet[] = [];
    for (const [i, input] of inputs.entries()) {
      outputs.push(
        parseDicom((await deidentifyBytes(session, input, dir, `shared-${i}`)).bytes).file.dataset,
      );
    }
    const distinct = new Set(keys.made);
    assert.equal(distinct.size, keys.made.length, `no UID made twice: ${keys.made.length} made`);
    // Each instance's, each series', each study's and the one frame of reference's.
    assert.equal(keys.made.length, inputs.length + seriesCount + 2 + 1);
    // The same new UIDs as a session that sees each file alone.
    for (const [i, input] of inputs.entries()) {
      const alone = new DeidSession(DATE_CONFIG, new Keys(salt("salt-one")));
      const ds = parseDicom((await deidentifyBytes(alone, input, dir, `alone-${i}`)).bytes).file.dataset;
      for (const tag of [0x00080018, 0x0020000d, 0x0020000e, 0x00200052]) {
        assert.equal(str(outputs[i], tag), str(ds, tag), `file ${i}, (${tag.toString(16)})`);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 3. Validity over the corpus

/** The (7FE0,0010) value bytes (all fragments and delimiters of encapsulated data), or undefined. */
function pixelDataValue(bytes: Uint8Array, name: string): Uint8Array | undefined {
  const { file } = parseDicom(bytes, { file: name });
  const el = file.dataset.elements.find((e) => e.tag === PIXEL_DATA);
  if (!el) return undefined;
  assert.ok(el.span, `${name}: Pixel Data read with its bytes`);
  return el.span.src.subarray(el.span.valueStart, el.span.end);
}

/** dciodvfy's "Error" lines (stdout and stderr together). */
async function dciodvfyErrors(path: string): Promise<string[]> {
  const r = await runTool("dciodvfy", [path]);
  return `${r!.stdout}\n${r!.stderr}`.split("\n").filter((l) => l.startsWith("Error"));
}

/** Lines of `after` not matched by a line of `before` (multiset difference). */
function newLines(before: string[], after: string[]): string[] {
  const left = new Map<string, number>();
  for (const l of before) left.set(l, (left.get(l) ?? 0) + 1);
  return after.filter((l) => {
    const n = left.get(l) ?? 0;
    if (n > 0) left.set(l, n - 1);
    return n === 0;
  });
}

/** Run `fn` over `items` with at most `limit` at a time. */
async function pool<T>(
  items: T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

Deno.test("deid corpus: outputs are valid DICOM, no new dciodvfy errors, Pixel Data unchanged", async () => {
  const files = await corpusFiles();
  if (files.length === 0) return;
  if (!(await hasTool("dcmdump"))) {
    console.log("deid corpus: skipped (dcmdump not installed, so which corpus files are DICOM is unknown)");
    return;
  }
  const dciodvfy = await hasTool("dciodvfy", ["-version"]); // prints one line when it is missing

  const session = new DeidSession(deidConfig(), new Keys(salt("corpus-salt")));
  const skipped: string[] = [];
  const failures: string[] = [];
  let checked = 0;
  let fewer = 0;
  let same = 0;
  let errorsIn = 0;
  let errorsOut = 0;
  await withTempDir("dcmtidy-deid-corpus-", async (dir) => {
    const checkOne = async (path: string, i: number, name: string) => {
      const dump = await runTool("dcmdump", [path]);
      if (dump!.code !== 0) {
        const why = (dump!.stderr.split("\n").filter((l) => l.startsWith("E:")).pop() ?? "")
          .replace(/^E: (dcmdump: )?/, "").replace(/: reading file: .*$/, "");
        skipped.push(`${name}: dcmdump cannot read it (${why.slice(0, 80)})`);
        return;
      }
      let file: DicomFile;
      try {
        file = await readDicomFile(path);
      } catch (e) {
        skipped.push(`${name}: our reader refuses it (${(e as Error).message.slice(0, 100)})`);
        return;
      }
      if (file.isDicomDir) {
        skipped.push(`${name}: DICOMDIR (not rewritten by design)`);
        return;
      }
      const dest = `${dir}/${i}.dcm`;
      try {
        session.deidentify(file);
        await writeDicomFile(file, dest, { zeroPreamble: true });
      } catch (e) {
        failures.push(`${name}: de-identify or write failed: ${(e as Error).message}`);
        return;
      }
      checked++;
      const out = await runTool("dcmdump", [dest]);
      if (out!.code !== 0) failures.push(`${name}: dcmdump cannot read the output: ${out!.stderr.trim()}`);

      const [inBytes, outBytes] = await Promise.all([Deno.readFile(path), Deno.readFile(dest)]);
      const pxIn = pixelDataValue(inBytes, name);
      const pxOut = pixelDataValue(outBytes, `${name} (output)`);
      if ((pxIn === undefined) !== (pxOut === undefined)) {
        failures.push(`${name}: Pixel Data ${pxIn ? "lost" : "appeared"}`);
      } else if (pxIn && pxOut) {
        const equal = pxIn.length === pxOut.length && pxIn.every((b, k) => b === pxOut[k]);
        if (!equal) {
          failures.push(`${name}: Pixel Data bytes differ (${pxIn.length} -> ${pxOut.length} bytes)`);
        }
      }

      if (dciodvfy) {
        const [before, after] = await Promise.all([dciodvfyErrors(path), dciodvfyErrors(dest)]);
        errorsIn += before.length;
        errorsOut += after.length;
        if (after.length < before.length) fewer++;
        else if (after.length === before.length) same++;
        else {
          failures.push(
            `${name}: dciodvfy errors ${before.length} -> ${after.length}; new:\n    ` +
              newLines(before, after).join("\n    "),
          );
        }
      }
    };
    await pool(files, 8, async (path, i) => {
      const name = path.slice(CORPUS.length);
      try {
        await checkOne(path, i, name);
      } catch (e) {
        failures.push(`${name}: ${(e as Error).stack ?? e}`);
      }
    });
  });
  skipped.sort();
  failures.sort();
  console.log(
    `deid corpus: checked ${checked} files` +
      (dciodvfy
        ? `; dciodvfy errors went down in ${fewer}, stayed the same in ${same}, went up in ${
          checked - fewer - same
        } (total ${errorsIn} -> ${errorsOut})`
        : ""),
  );
  console.log(`deid corpus: skipped ${skipped.length}:`);
  for (const s of skipped) console.log(`  - ${s}`);
  if (failures.length) noteOnce(`deid corpus: ${failures.length} failures (listed in the assertion)`);
  assert.ok(checked > 0, "some corpus files checked");
  assert.deepEqual(failures, [], `${failures.length} corpus files failed:\n  ${failures.join("\n  ")}`);
});
