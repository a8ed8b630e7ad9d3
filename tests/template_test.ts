/**
 * Output path templates: every dcm2dir placeholder on a real (built and parsed) data set, the
 * `{...}` forms, exact compile errors, and hostile values that must never leave the output root.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { buildDicom, type Node, SAMPLE_UIDS, sampleDataset } from "./fixtures/builder.ts";
import { parseDicom } from "../src/dicom/reader.ts";
import { tagForKeyword } from "../src/standard/dictionary.ts";
import {
  type CompiledTemplate,
  compileTemplate,
  DEFAULT_FILE_TEMPLATE,
  DEFAULT_FOLDER_TEMPLATE,
  PLACEHOLDERS,
  type TemplateValues,
  valuesFromDataSet,
} from "../src/protocol/template.ts";
import { outputPath, sanitizeSegment } from "../src/protocol/segments.ts";
import { TemplateError } from "../src/protocol/errors.ts";

const INPUT_PATH = path.join("site", "scanner7", "IM 0001.dcm");
const ROOT = path.resolve("/tmp/dcmtidy-out");

/** sampleDataset() with the elements the placeholders read, and `changes` applied (undefined removes). */
function fixture(changes: Record<number, Node | undefined> = {}): Node[] {
  const extra: Node[] = [
    { tag: 0x00181250, vr: "SH", value: "HeadCoil 32" }, // ReceiveCoilName
    { tag: 0x00204000, vr: "LT", value: "contrast phase" }, // ImageComments
    { tag: 0x0008103e, vr: "LO", value: "T1 MPRAGE" }, // SeriesDescription
    { tag: 0x00180086, vr: "IS", value: ["2", "3"] }, // EchoNumbers
    { tag: 0x00181030, vr: "LO", value: "t1_mprage_sag" }, // ProtocolName
    { tag: 0x00180024, vr: "SH", value: "*tfl3d1" }, // SequenceName
    { tag: 0x00081090, vr: "LO", value: "Scanner X1" }, // ManufacturerModelName
    { tag: 0x00200011, vr: "IS", value: "7" }, // SeriesNumber
    { tag: 0x00200012, vr: "IS", value: "3" }, // AcquisitionNumber
    { tag: 0x00200013, vr: "IS", value: "12" }, // InstanceNumber
  ];
  const byTag = new Map<number, Node>();
  for (const node of [...sampleDataset(), ...extra]) if ("tag" in node) byTag.set(node.tag, node);
  for (const [t, node] of Object.entries(changes)) {
    if (node) byTag.set(Number(t), node);
    else byTag.delete(Number(t));
  }
  return [...byTag.values()];
}

function valuesOf(nodes: Node[], pseudoId?: string, inputPath = INPUT_PATH): TemplateValues {
  const { file } = parseDicom(buildDicom(nodes));
  return valuesFromDataSet(file.dataset, inputPath, pseudoId);
}

function render(template: string, values: TemplateValues, kind: "folder" | "file" = "folder"): string[] {
  return compileTemplate(template, kind).render(values);
}

function compileError(template: string, kind: "folder" | "file" = "folder"): TemplateError {
  try {
    compileTemplate(template, kind);
  } catch (e) {
    assert.ok(e instanceof TemplateError, `expected a TemplateError, got ${e}`);
    return e;
  }
  assert.fail(`"${template}" compiled`);
}

const PLACEHOLDER_TABLE: [letter: string, expected: string, tag: number | undefined][] = [
  ["a", "HeadCoil_32", 0x00181250],
  ["b", "IM_0001.dcm", undefined],
  ["c", "contrast_phase", 0x00204000],
  ["d", "T1_MPRAGE", 0x0008103e],
  ["e", "2", 0x00180086],
  ["f", "scanner7", undefined],
  ["g", "ACC0001", 0x00080050],
  ["i", "PID001", 0x00100020],
  ["j", SAMPLE_UIDS.series, 0x0020000e],
  ["k", SAMPLE_UIDS.study, 0x0020000d],
  ["m", "Fixture_Medical", 0x00080070],
  ["n", "Doe_John", 0x00100010],
  ["o", SAMPLE_UIDS.sopInstance, 0x00080018],
  ["p", "t1_mprage_sag", 0x00181030],
  ["r", "12", 0x00200013],
  ["s", "7", 0x00200011],
  ["t", "20240115", 0x00080020],
  ["u", "3", 0x00200012],
  ["v", "Scanner_X1", 0x00081090],
  ["x", "STUDY1", 0x00200010],
  ["z", "tfl3d1", 0x00180024],
];

Deno.test("template: the table covers all 21 dcm2dir placeholders, with dictionary tags", () => {
  assert.deepEqual(PLACEHOLDER_TABLE.map(([l]) => l), Object.keys(PLACEHOLDERS));
  assert.equal(Object.keys(PLACEHOLDERS).length, 21);
  for (const p of Object.values(PLACEHOLDERS)) {
    if (p.keyword) assert.equal(tagForKeyword(p.keyword), p.tag, p.keyword);
  }
});

for (const [letter, expected, tag] of PLACEHOLDER_TABLE) {
  Deno.test(`template: %${letter} is ${PLACEHOLDERS[letter].description}`, () => {
    const values = valuesOf(fixture());
    const t = compileTemplate(`%${letter}`, "folder");
    assert.deepEqual(t.render(values), [expected]);
    assert.deepEqual(t.tags, tag === undefined ? [] : [tag]);
    const missing = tag === undefined
      ? valuesOf(fixture(), undefined, "only.dcm")
      : valuesOf(fixture({ [tag]: undefined }));
    if (letter !== "b") assert.deepEqual(t.render(missing), ["na"]);
  });
}

Deno.test("template: the default folder and file templates", () => {
  const folder = compileTemplate(DEFAULT_FOLDER_TEMPLATE, "folder");
  const file = compileTemplate(DEFAULT_FILE_TEMPLATE, "file");
  assert.equal(DEFAULT_FOLDER_TEMPLATE, "%i/%x_%t/%s_%d");
  assert.equal(DEFAULT_FILE_TEMPLATE, "{InstanceNumber:04}.dcm");
  const values = valuesOf(fixture());
  assert.deepEqual(folder.render(values), ["PID001", "STUDY1_20240115", "7_T1_MPRAGE"]);
  assert.deepEqual(file.render(values), ["0012.dcm"]);
  assert.deepEqual(folder.tags, [0x00100020, 0x00200010, 0x00080020, 0x00200011, 0x0008103e]);
  assert.deepEqual(file.tags, [0x00200013]);
  assert.equal(
    outputPath(ROOT, folder, file, values),
    path.join(ROOT, "PID001", "STUDY1_20240115", "7_T1_MPRAGE", "0012.dcm"),
  );
  // Missing values become "na" inside a segment too.
  const sparse = valuesOf(fixture({ 0x00200010: undefined, 0x0008103e: undefined, 0x00200013: undefined }));
  assert.deepEqual(folder.render(sparse), ["PID001", "na_20240115", "7_na"]);
  assert.deepEqual(file.render(sparse), ["na.dcm"]);
});

Deno.test("template: {Keyword}, {Keyword:04}, {Keyword|default}, {(gggg,eeee)}, {pseudo_id}, %%", () => {
  const values = valuesOf(fixture(), "SUBJ-0001");
  assert.deepEqual(render("{SeriesDescription}", values), ["T1_MPRAGE"]);
  assert.deepEqual(render("{InstanceNumber:04}", values), ["0012"]);
  assert.deepEqual(render("{InstanceNumber:01}", values), ["12"]);
  assert.deepEqual(render("{PatientID:04}", values), ["PID001"]); // not a number: left as is
  assert.deepEqual(render("{EchoNumbers:03}", values), ["002"]); // first value of a multi-valued IS
  assert.deepEqual(render("{Rows}x{Columns}", values), ["4x4"]); // US, binary
  assert.deepEqual(render("{StudyID|nostudy}", values), ["STUDY1"]);
  assert.deepEqual(render("{PositionReferenceIndicator|none}", values), ["none"]); // present but empty
  assert.deepEqual(render("{PositionReferenceIndicator}", values), ["na"]);
  assert.deepEqual(render("{InstanceNumber:04|7}", valuesOf(fixture({ 0x00200013: undefined }))), ["0007"]);
  assert.deepEqual(render("s{(0020,0011)}", values), ["s7"]);
  assert.deepEqual(render("{(0020,0011):03}", values), ["007"]);
  assert.deepEqual(compileTemplate("{(0020,0011)}/%s", "folder").tags, [0x00200011]);
  assert.deepEqual(render("{pseudo_id}/%s", values), ["SUBJ-0001", "7"]);
  assert.deepEqual(render("{pseudo_id}", valuesOf(fixture())), ["na"]);
  assert.equal(compileTemplate("{pseudo_id}", "folder").usesPseudoId, true);
  assert.equal(compileTemplate(DEFAULT_FOLDER_TEMPLATE, "folder").usesPseudoId, false);
  assert.deepEqual(render("{MediaStorageSOPInstanceUID}", values), [SAMPLE_UIDS.sopInstance]);
  // %% is a literal percent (then sanitised to "_"), never a placeholder.
  assert.deepEqual(render("a%%b", values), ["a_b"]);
  assert.deepEqual(render("%%i", values), ["i"]);
  assert.deepEqual(render("100%%_%i", values), ["100_PID001"]);
  // A folder template may be empty: files go straight into the root.
  assert.deepEqual(render("", values), []);
});

Deno.test("template: values are decoded with the character set and PN is kept as stored", () => {
  const latin1 = Uint8Array.from("Müller^Hans", (c) => c.charCodeAt(0));
  const values = valuesOf(fixture({ 0x00100010: { tag: 0x00100010, vr: "PN", value: latin1 } }));
  assert.equal(values.value(0x00100010), "Müller^Hans");
  assert.equal(values.value(0x00100020), "PID001");
  assert.equal(values.value(0x00180086), "2");
  assert.equal(values.value(0x00201040), undefined); // empty
  assert.equal(values.value(0x00400275), undefined); // absent
  assert.deepEqual(render("%n", values), ["M_ller_Hans"]);
});

const errorCases: [template: string, kind: "folder" | "file", message: string, column: number][] = [
  [
    "{PatientNmae}",
    "folder",
    'unknown keyword "PatientNmae" at column 2 (did you mean "PatientName"?)',
    2,
  ],
  ["%i/{patientid}", "folder", 'unknown keyword "patientid" at column 5 (did you mean "PatientID"?)', 5],
  ["{Xyzzyqqqq}", "folder", 'unknown keyword "Xyzzyqqqq" at column 2', 2],
  [
    "%q",
    "folder",
    'unknown placeholder "%q" at column 1 (known: %a %b %c %d %e %f %g %i %j %k %m %n %o %p %r %s %t %u %v %x %z)',
    1,
  ],
  [
    "%i/%x_%Q",
    "folder",
    'unknown placeholder "%Q" at column 7 (known: %a %b %c %d %e %f %g %i %j %k %m %n %o %p %r %s %t %u %v %x %z)',
    7,
  ],
  ["abc%", "folder", 'lone "%" at column 4 (write %% for a percent sign)', 4],
  ["%i/{StudyID", "folder", 'unclosed "{" at column 4', 4],
  ["%i}", "folder", 'unmatched "}" at column 3', 3],
  ["a{}", "folder", 'empty placeholder "{}" at column 2', 2],
  ["{:04}", "folder", "missing keyword at column 2", 2],
  [
    "{InstanceNumber:4}",
    "file",
    'bad format ":4" at column 16 (only zero padding such as ":04" is supported)',
    16,
  ],
  [
    "{InstanceNumber:00}",
    "file",
    'bad format ":00" at column 16 (only zero padding such as ":04" is supported)',
    16,
  ],
  ["{(60xx,3000)}", "folder", 'bad tag "(60xx,3000)" at column 2 (write a tag as (gggg,eeee) in hex)', 2],
  ["{(0010,0010}", "folder", 'bad tag "(0010,0010" at column 2 (write a tag as (gggg,eeee) in hex)', 2],
  [
    "{ReferencedImageSequence}",
    "folder",
    '"ReferencedImageSequence" at column 2 is a sequence or item and has no value to show',
    2,
  ],
  [
    "{TransferSyntaxUID}",
    "folder",
    '"TransferSyntaxUID" at column 2 is in the file meta group, which templates cannot read',
    2,
  ],
  ["a//b", "folder", 'empty folder name at column 3 (check for "//" or a leading or trailing "/")', 3],
  ["/%i", "folder", 'empty folder name at column 1 (check for "//" or a leading or trailing "/")', 1],
  ["%i/", "folder", 'empty folder name at column 4 (check for "//" or a leading or trailing "/")', 4],
  ["../%i", "folder", '".." at column 1 is not allowed as a folder name', 1],
  ["%i/.", "folder", '"." at column 4 is not allowed as a folder name', 4],
  ["%i\\%x", "folder", 'backslash at column 3: separate folders with "/"', 3],
  [
    "%s/{InstanceNumber}.dcm",
    "file",
    '"/" at column 3: a file name template cannot contain folders (put them in output.path)',
    3,
  ],
  ["", "file", "empty file name template at column 1", 1],
  // Columns count characters, not UTF-16 code units.
  ["\u{1F600}{Foo}", "folder", 'unknown keyword "Foo" at column 3', 3],
];

for (const [template, kind, message, column] of errorCases) {
  Deno.test(`template: compile error for ${JSON.stringify(template)} (${kind})`, () => {
    const e = compileError(template, kind);
    assert.equal(e.message, message);
    assert.equal(e.column, column);
    assert.equal(e.name, "TemplateError");
  });
}

Deno.test("template: sanitizeSegment", () => {
  const cases: [string, string][] = [
    ["PID001", "PID001"],
    ["../../etc", "etc"],
    ["/abs", "abs"],
    ["a\0b", "a_b"],
    ["\0", "na"],
    ["CON", "_CON"],
    ["con.dcm", "_con.dcm"],
    ["Lpt9.tar.gz", "_Lpt9.tar.gz"],
    ["nul", "_nul"],
    ["CONSOLE", "CONSOLE"],
    ["x".repeat(300), "x".repeat(64)],
    ["\u202Eevil\u202Cgpj.exe", "evil_gpj.exe"],
    ["\u200E\u200F\u2066\u2069", "na"],
    ["....", "na"],
    ["..", "na"],
    [".", "na"],
    [".hidden", "hidden"],
    ["", "na"],
    ["   ", "na"],
    ["a  b", "a_b"],
    ["a/b\\c", "a_b_c"],
    ["a__b", "a_b"],
    ["_a_", "a"],
    ["Müller^Hans", "M_ller_Hans"],
    ["\x01\x1f\x7f", "na"],
    ["x".repeat(63) + ".y", "x".repeat(63)], // cut, then no trailing dot
  ];
  for (const [raw, expected] of cases) assert.equal(sanitizeSegment(raw), expected, JSON.stringify(raw));
  // File names keep their extension when cut.
  assert.equal(sanitizeSegment("x".repeat(300) + ".dcm", { keepExtension: true }), "x".repeat(60) + ".dcm");
  assert.equal(sanitizeSegment("x".repeat(300) + ".dcm"), "x".repeat(64));
  // An "extension" over 16 characters is not kept: a plain cut, then no trailing dot.
  assert.equal(
    sanitizeSegment("a.".repeat(50) + "z".repeat(40), { keepExtension: true }),
    "a.".repeat(31) + "a",
  );
  // A cut that leaves a device name is still caught.
  assert.equal(sanitizeSegment("CON" + ".".repeat(70) + ".dcm", { keepExtension: true }), "_CON.dcm");
  const long = sanitizeSegment("con." + "a".repeat(60));
  assert.equal(long, "_con." + "a".repeat(59));
  assert.equal(long.length, 64);
});

const HOSTILE = [
  "../../etc",
  "/abs",
  "..",
  ".",
  "a\0b",
  "\0",
  "CON",
  "con.dcm",
  "x".repeat(300),
  "y".repeat(300) + ".dcm",
  "\u202Eevil\u202Cmcd.exe",
  "\u200E\u200F",
  "....",
  "",
  "   ",
  "a/b\\c",
  "\\\\server\\share",
  "C:\\Windows",
  "~",
  "..\u0000/..",
  "\u2066../\u2069..",
];

function assertSafe(full: string, folderCount: number): void {
  const rel = path.relative(ROOT, full);
  assert.ok(full.startsWith(ROOT + path.sep), full);
  assert.ok(!path.isAbsolute(rel), rel);
  const segments = rel.split(path.sep);
  assert.equal(segments.length, folderCount + 1, rel);
  for (const seg of segments) {
    assert.match(seg, /^[A-Za-z0-9._-]+$/, rel);
    assert.ok(seg !== "." && seg !== ".." && !seg.startsWith("."), rel);
    assert.ok(seg.length <= 64, rel);
    assert.doesNotMatch(seg, /^(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?$/i, rel);
  }
}

Deno.test("template: hostile values as PatientID, SeriesDescription and file name never escape the root", () => {
  const folder = compileTemplate(DEFAULT_FOLDER_TEMPLATE, "folder");
  const named = compileTemplate("%d", "file");
  const withExt = compileTemplate("{SeriesDescription}.dcm", "file");
  const bare = compileTemplate("{PatientID}", "folder");
  for (const hostile of HOSTILE) {
    // Straight through TemplateValues, so the exact string reaches the renderer.
    const direct: TemplateValues = {
      value: (t) => (t === 0x00100020 || t === 0x0008103e ? hostile || undefined : `V${t}`),
      inputPath: hostile,
    };
    // And through a built and parsed file (as UTF-8 in an ISO_IR 100 data set, as a sloppy writer would).
    const parsed = valuesOf(
      fixture({
        0x00100020: { tag: 0x00100020, vr: "LO", value: hostile },
        0x0008103e: { tag: 0x0008103e, vr: "LO", value: hostile },
      }),
    );
    for (const values of [direct, parsed]) {
      for (const file of [named, withExt]) assertSafe(outputPath(ROOT, folder, file, values), 3);
      assertSafe(outputPath(ROOT, bare, named, values), 1);
      assertSafe(outputPath(ROOT, compileTemplate("", "folder"), withExt, values), 0);
      assertSafe(outputPath(ROOT, compileTemplate("%b/%f", "folder"), withExt, values), 2);
    }
  }
});

Deno.test("template: outputPath refuses segments that a foreign template renders unsafely", () => {
  const values = valuesOf(fixture());
  const file = compileTemplate(DEFAULT_FILE_TEMPLATE, "file");
  const fake = (segments: string[], kind: "folder" | "file" = "folder"): CompiledTemplate => ({
    source: "fake",
    kind,
    tags: [],
    usesPseudoId: false,
    usesInputPath: false,
    render: () => segments,
  });
  for (const bad of [["..", "x"], ["a/../../b"], ["/etc"], [""], ["."], [".ssh"]]) {
    assert.throws(() => outputPath(ROOT, fake(bad), file, values), Error, JSON.stringify(bad));
  }
  assert.throws(() => outputPath(ROOT, fake([]), fake([], "file"), values), /rendered 0 segments/);
  assert.throws(() => outputPath(ROOT, fake([]), fake(["a", "b"], "file"), values), /rendered 2 segments/);
  // A relative root is resolved.
  assert.equal(
    outputPath("out", fake([]), file, values),
    path.join(path.resolve("out"), "0012.dcm"),
  );
});

Deno.test("template: outputPath is path.resolve's root and names, however the root is written", () => {
  const values = valuesOf(fixture());
  const segmentsOf = (names: string[], kind: "folder" | "file"): CompiledTemplate => ({
    source: names.join("/"),
    kind,
    tags: [],
    usesPseudoId: false,
    usesInputPath: false,
    render: () => names,
  });
  const file = segmentsOf(["0001.dcm"], "file");
  for (
    const root of [ROOT, `${ROOT}/`, `${ROOT}//`, "/tmp/./dcmtidy-out/../dcmtidy-out", "/", "out", "./out/"]
  ) {
    for (const folders of [[], ["A"], ["RFVL2XWB", "20231218", "1"], ["x.y", "a_b-c"]]) {
      const got = outputPath(root, segmentsOf(folders, "folder"), file, values);
      const want = path.resolve(root, ...folders, "0001.dcm");
      assert.equal(got, want, `${root} + ${folders.join("/")}`);
      // Strictly inside the root, as relative() tells.
      const rel = path.relative(path.resolve(root), got);
      assert.ok(rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel));
    }
  }
});
