/**
 * Edits at the top level and inside items three sequences deep, in every transfer syntax we write,
 * with defined and undefined lengths: real dcmtk must show the new values and every other element
 * unchanged, and dciodvfy must find no more errors than in the input.
 */
import assert from "node:assert/strict";
import { buildDicom, nestedPatientNameDataset, sampleDataset, tag, type TS } from "./fixtures/builder.ts";
import { parseDicom } from "../src/dicom/reader.ts";
import { encodeFile } from "../src/dicom/writer.ts";
import { deletePath, insertElement, parsePath, setPath } from "../src/dicom/edit.ts";
import { PathError } from "../src/dicom/errors.ts";
import { walk } from "../src/dicom/walk.ts";
import { readDicomFile } from "../src/dicom/read_file.ts";
import { writeDicomFile, writeDicomFileSync } from "../src/dicom/write_file.ts";
import { decodeNumbers, decodeStrings, decodeText, encodeValue } from "../src/dicom/values.ts";
import { DicomWriteError } from "../src/dicom/errors.ts";
import { CORPUS, corpusFiles, dcmdumpDataSet, hasTool, runTool } from "./helpers.ts";

const NESTED =
  "RequestAttributesSequence[0].RequestAttributesSequence[0].RequestAttributesSequence[0].PatientName";
const TRANSFER_SYNTAXES: TS[] = ["explicit-le", "implicit-le", "explicit-be", "deflated"];

function concat(chunks: readonly unknown[]): Uint8Array {
  const parts = chunks as Uint8Array[];
  const out = new Uint8Array(parts.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of parts) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function errorCount(listing: string): number {
  return listing.split("\n").filter((l) => l.startsWith("Error")).length;
}

for (const ts of TRANSFER_SYNTAXES) {
  for (const undefinedLength of [false, true]) {
    const label = `${ts}, ${undefinedLength ? "undefined" : "defined"} lengths`;
    Deno.test(`edit: PatientName at top level and 3 sequences deep (${label})`, async () => {
      const input = buildDicom(nestedPatientNameDataset({ depth: 3, undefinedLength }), { ts });
      const file = parseDicom(input, { file: "in.dcm" }).file;
      assert.equal(setPath(file.dataset, "PatientName", "Smith^Jane^Q"), 1);
      assert.equal(setPath(file.dataset, NESTED, "Deep^Changed"), 1);
      const output = concat(encodeFile(file));

      // Our own reader sees exactly the two new values.
      const back = parseDicom(output, { file: "out.dcm" }).file;
      const names: string[] = [];
      walk(back.dataset, (el, ctx) => {
        if (el.tag === tag(0x0010, 0x0010)) names.push(`${ctx.depth}:${decodeStrings(el, ctx.dataset)[0]}`);
      });
      assert.deepEqual(names, ["0:Smith^Jane^Q", "1:Nested^Name^L1", "2:Nested^Name^L2", "3:Deep^Changed"]);

      if (!(await hasTool("dcmdump"))) return;
      const dir = await Deno.makeTempDir({ prefix: "dcmtidy-edit-" });
      try {
        await Deno.writeFile(`${dir}/in.dcm`, input);
        await Deno.writeFile(`${dir}/out.dcm`, output);
        const before = await runTool("dcmdump", [`${dir}/in.dcm`]);
        const after = await runTool("dcmdump", [`${dir}/out.dcm`]);
        assert.equal(after!.code, 0, after!.stderr);
        assert.equal(after!.stderr, "", "dcmdump warns about our output");
        const a = dcmdumpDataSet(before!.stdout);
        const b = dcmdumpDataSet(after!.stdout);
        assert.equal(b.length, a.length);
        const changed = a.map((line, i) => [line, b[i]]).filter(([x, y]) => x !== y);
        assert.deepEqual(changed.map(([, y]) => y.trim()), [
          "(0010,0010) PN [Smith^Jane^Q] PatientName",
          "(0010,0010) PN [Deep^Changed] PatientName",
        ]);
        if (await hasTool("dciodvfy", ["-version"])) {
          const vin = await runTool("dciodvfy", [`${dir}/in.dcm`]);
          const vout = await runTool("dciodvfy", [`${dir}/out.dcm`]);
          const inErrors = errorCount(vin!.stderr + vin!.stdout);
          const outErrors = errorCount(vout!.stderr + vout!.stdout);
          assert.ok(outErrors <= inErrors, `dciodvfy: ${outErrors} errors after, ${inErrors} before`);
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
}

Deno.test("edit: values are encoded valid for their VR", () => {
  const file = parseDicom(buildDicom(sampleDataset()), { file: "x" }).file;
  const ds = file.dataset;
  // Odd lengths are padded: space for text, NUL for UI.
  assert.deepEqual(encodeValue("CS", "ABC", ds), new TextEncoder().encode("ABC "));
  assert.deepEqual(encodeValue("UI", "1.2.3", ds), new TextEncoder().encode("1.2.3\0"));
  assert.deepEqual(encodeValue("LO", ["A", "B"], ds), new TextEncoder().encode("A\\B "));
  // Limits are checked, not truncated silently.
  assert.throws(() => encodeValue("CS", "X".repeat(17), ds), DicomWriteError);
  assert.throws(() => encodeValue("US", 70000, ds), DicomWriteError);
  assert.throws(() => encodeValue("LO", "a\\b", ds), DicomWriteError); // a backslash in one value
  // ISO_IR 100 (the sample's) holds Latin-1 but not Greek.
  assert.deepEqual(encodeValue("SH", "Zoë", ds), new Uint8Array([0x5a, 0x6f, 0xeb, 0x20]));
  assert.throws(() => encodeValue("SH", "Ζωή", ds), /Specific Character Set/);
  assert.throws(() => encodeValue("CS", "Zoë", ds), /must be ASCII/);
});

Deno.test("edit: numbers in big endian, delete, insert and group length recomputation", () => {
  const withGroupLength = [
    { tag: tag(0x0008, 0x0000), vr: "UL", value: 0 }, // wrong on purpose: recomputed when the group changes
    ...sampleDataset(),
  ];
  for (const ts of ["explicit-le", "explicit-be", "implicit-le"] as TS[]) {
    const file = parseDicom(buildDicom(withGroupLength, { ts }), { file: "x" }).file;
    setPath(file.dataset, "Rows", 7);
    assert.equal(deletePath(file.dataset, "StudyDate"), 1);
    setPath(file.dataset, "AccessionNumber", "ACC123");
    const back = parseDicom(concat(encodeFile(file)), { file: "y" }).file;
    const find = (t: number) => back.dataset.elements.find((e) => e.tag === t);
    assert.deepEqual(decodeNumbers(find(tag(0x0028, 0x0010))!, back.dataset), [7], ts);
    assert.equal(find(tag(0x0008, 0x0020)), undefined, ts);
    assert.deepEqual(decodeStrings(find(tag(0x0008, 0x0050))!, back.dataset), ["ACC123"], ts);
    // (0008,0000) now counts exactly the bytes of the group-8 elements after it.
    const group8 = back.dataset.elements.filter((e) => e.tag >>> 16 === 8 && (e.tag & 0xffff) !== 0);
    const bytes = group8.reduce((n, e) => n + (e.span!.end - e.span!.start), 0);
    assert.deepEqual(decodeNumbers(find(tag(0x0008, 0x0000))!, back.dataset), [bytes], ts);
  }
});

Deno.test("edit: a new element lands at its sorted place; paths report what is wrong", () => {
  const file =
    parseDicom(buildDicom(nestedPatientNameDataset({ depth: 2, undefinedLength: true })), { file: "x" })
      .file;
  insertElement(file.dataset, { tag: tag(0x0010, 0x0021), vr: "LO", length: 0, value: new Uint8Array(0) });
  const tags = file.dataset.elements.map((e) => e.tag);
  assert.deepEqual(tags, [...tags].sort((a, b) => a - b));
  assert.throws(
    () => parsePath("PatientNmae"),
    (e: Error) => e instanceof PathError && /PatientName/.test(e.message),
  );
  assert.throws(() => parsePath("RequestAttributesSequence.PatientName"), /needs an item index/);
  assert.throws(
    () => setPath(file.dataset, "RequestAttributesSequence[5].PatientName", "x"),
    /no item \[5\]/,
  );
  // [*] reaches every item.
  assert.equal(setPath(file.dataset, "RequestAttributesSequence[*].PatientName", "All^Items"), 1);
});

Deno.test("edit: writing a file streams bulk data and never overwrites its input", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-write-" });
  try {
    await Deno.writeFile(`${dir}/in.dcm`, buildDicom(sampleDataset()));
    // wholeFileLimit 0 forces the streaming path: Pixel Data stays in the input and is copied.
    const file = await readDicomFile(`${dir}/in.dcm`, { wholeFileLimit: 0 });
    assert.ok(file.dataset.elements.some((e) => e.external && e.external.length > 0));
    setPath(file.dataset, "PatientName", "Streamed^Out");
    await writeDicomFile(file, `${dir}/out.dcm`);
    const back = await readDicomFile(`${dir}/out.dcm`);
    const px = (f: typeof back) => f.dataset.elements.find((e) => e.tag === 0x7fe00010)!;
    const original = parseDicom(await Deno.readFile(`${dir}/in.dcm`)).file;
    assert.deepEqual(
      px(back).span!.src.subarray(px(back).span!.valueStart, px(back).span!.end),
      px(original).span!.src.subarray(px(original).span!.valueStart, px(original).span!.end),
    );
    await assert.rejects(() => writeDicomFile(file, `${dir}/in.dcm`, { overwrite: true }), /over the input/);
    await assert.rejects(() => writeDicomFile(file, `${dir}/out.dcm`), /exists already/);
    // Blocking: the same refusal; a caller that has seen nothing at the destination (`destAbsent`)
    // is not asked again, and the file still goes through a temporary name.
    assert.throws(() => writeDicomFileSync(file, `${dir}/in.dcm`, { overwrite: true }), /over the input/);
    const bytes = writeDicomFileSync(file, `${dir}/fresh.dcm`, { overwrite: true, destAbsent: true });
    assert.deepEqual(await Deno.readFile(`${dir}/fresh.dcm`), await Deno.readFile(`${dir}/out.dcm`));
    assert.equal(bytes, (await Deno.stat(`${dir}/fresh.dcm`)).size);
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(left, ["fresh.dcm", "in.dcm", "out.dcm"], "no temporary files left behind");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("values: text is decoded with the character set in force, redefined inside an item", async () => {
  const path = `${CORPUS}chrSQEncoding.dcm`;
  if ((await corpusFiles()).length === 0) return;
  const file = await readDicomFile(path);
  const top = file.dataset.elements.find((e) => e.tag === 0x00321032)!;
  assert.deepEqual(decodeStrings(top, file.dataset), ["Doctor^Who^^MD"]);
  const item = file.dataset.elements.find((e) => e.tag === 0x00321064)!.items![0].dataset;
  const name = item.elements.find((e) => e.tag === 0x00100010)!;
  // ISO 2022 IR 13 (JIS X 0201 katakana) and IR 87 (JIS X 0208 kanji) inside the item, UTF-8 outside.
  assert.deepEqual(decodeStrings(name, item), ["ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう"]);
});

Deno.test("values: ASCII without backslash, tilde or escape reads as ASCII whatever the character set", () => {
  const bytes = (s: string) => new TextEncoder().encode(s.length % 2 ? `${s} ` : s);
  const inSet = (charset: string, vr: string, text: string) => {
    const ds = {
      elements: [{ tag: 0x00080005, vr: "CS", length: 0, value: bytes(charset) }],
      encoding: { littleEndian: true, explicitVR: true },
    };
    return decodeStrings({ tag: 0x00100010, vr, length: 0, value: bytes(text) }, ds);
  };
  const sets = [
    "",
    "ISO_IR 100",
    "ISO_IR 192",
    "ISO_IR 13",
    "ISO 2022 IR 13",
    "\\ISO 2022 IR 87",
    "ISO 2022 IR 13\\ISO 2022 IR 87",
    "\\ISO 2022 IR 149",
    "GB18030",
    "ISO 2022 IR 87",
  ];
  for (const charset of sets) {
    // Read without looking the set up, and what the set's own decoder gives for them.
    assert.deepEqual(inSet(charset, "PN", "DOE^JOHN"), ["DOE^JOHN"], charset);
    assert.equal(decodeText(bytes("DOE^JOHN"), "PN", charset), "DOE^JOHN", charset);
  }
  // A tilde goes through the set: JIS X 0201 (IR 13) has an overline there.
  assert.deepEqual(inSet("ISO 2022 IR 13", "LO", "A~B"), ["A\u203eB"]);
  assert.deepEqual(inSet("ISO_IR 100", "LO", "A~B"), ["A~B"]);
  // A set list starting with a two-byte set (value 1 must be a single-byte set, PS3.3 C.12.1.1.2)
  // made ASCII read as kanji before this shortcut; ASCII now reads as ASCII there too.
  assert.deepEqual(inSet("ISO 2022 IR 87\\ISO 2022 IR 13", "PN", "DOE^JOHN"), ["DOE^JOHN"]);
  // Padding: trailing spaces and NULs go, leading spaces only outside the text VRs.
  assert.deepEqual(inSet("", "LO", " A \\ B\0"), ["A", "B"]);
  assert.deepEqual(inSet("", "LT", "  two  lines\0"), ["  two  lines"]);
});
