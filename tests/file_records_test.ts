/**
 * A plan's files past the bound (src/plan/file_records.ts with the plan's codec): every kind of
 * planned file comes back as it went in, whether held in memory or read back from disk.
 */
import assert from "node:assert/strict";
import { FileRecords } from "../src/plan/file_records.ts";
import { plannedFileCodec } from "../src/plan/_file_codec.ts";
import type { PlannedFile } from "../src/plan/types.ts";
import type { Survey } from "../src/plan/survey.ts";

const header = {
  studyUID: "1.2.3",
  seriesUID: "1.2.3.4",
  patientId: "PID1",
  modality: "CT",
  transferSyntax: "1.2",
};
const files: PlannedFile[] = [
  {
    input: { root: "/in", rel: "a/1.dcm", path: "/in/a/1.dcm", size: 10, kind: "dicom", header },
    status: "write",
    dest: "P1/1/0001.dcm",
    pseudoId: "P1",
    studyUID: "2.25.1",
    seriesUID: "2.25.2",
    modality: "CT",
    series: 0,
    counts: { X: 3, U: 2 },
  },
  {
    input: { root: "/in", rel: "a/2.dcm", path: "/in/a/2.dcm", size: 11, kind: "dicom", header },
    status: "write",
    reason: "burned-in suspect",
    dest: "P1/1/0002.dcm",
    pseudoId: "P1",
    studyUID: "2.25.1",
    seriesUID: "2.25.2",
    modality: "CT",
    series: 0,
    counts: { X: 3, U: 2 },
    blank: { regions: [{ x: 0, y: 0, width: 10, height: 5 }], keep: [] },
    suspect: { reason: "BurnedInAnnotation YES", device: { manufacturer: "ACME" } as never },
    text: [{ x: 1, y: 2, width: 3, height: 4 }],
  },
  {
    input: {
      root: "/in",
      rel: "notes.txt",
      path: "/in/notes.txt",
      size: 5,
      kind: "not-dicom",
      reason: "no DICM",
    },
    status: "skip",
    reason: "no DICM",
  },
  // A path that is not the root and the relative path joined (a followed link, say).
  {
    input: {
      root: "/in2",
      rel: "b/3.dcm",
      path: "/elsewhere/3.dcm",
      size: 12,
      kind: "duplicate",
      reason: "same as {{input:0}}",
      header,
    },
    status: "skip",
    reason: "same as {{input:0}}",
  },
  {
    input: {
      root: "/in",
      rel: "c/É 4.dcm",
      path: "/in/c/É 4.dcm",
      size: 0,
      kind: "unreadable",
      reason: "cut short",
    },
    status: "quarantine",
    reason: "cut short",
    fields: { PatientID: "Ünïcode" },
  },
];

Deno.test("file records: planned files come back as they went in, from memory and from disk", async () => {
  const dir = await Deno.makeTempDir();
  try {
    using spilled = new FileRecords<PlannedFile>({ dir: () => dir, inMemory: 1 }, 0, plannedFileCodec());
    for (const f of files) spilled.push(f);
    // Replaced after it went to disk: the new one comes back.
    spilled.set(0, { ...files[0], dest: "P1/1/0001_2.dcm" });
    const expected = files.map((f, i) => (i === 0 ? { ...f, dest: "P1/1/0001_2.dcm" } : f));
    // JSON keeps no undefined field: compare what both say.
    const plain = (f: unknown) => JSON.parse(JSON.stringify(f));
    assert.deepEqual([...spilled].map(plain), expected.map(plain));
    for (const [i, f] of expected.entries()) assert.deepEqual(plain(spilled.get(i)), plain(f), `file ${i}`);
    assert.equal(spilled.get(3).input.path, "/elsewhere/3.dcm");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file records: a record taken is given once, then gone, from memory and from disk", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const inMemory of [1, 100]) {
      using records = new FileRecords<PlannedFile>({ dir: () => dir, inMemory }, 0, plannedFileCodec());
      for (const f of files) records.push(f);
      const plain = (f: unknown) => JSON.parse(JSON.stringify(f));
      assert.deepEqual(plain(records.take(1)), plain(files[1]));
      assert.equal(records.has(1), false);
      assert.equal(records.at(1), undefined);
      assert.throws(() => records.take(1), RangeError);
      // The others are as they were, and the length does not change.
      assert.equal(records.length, files.length);
      assert.equal(records.filled, files.length - 1);
      assert.deepEqual(plain(records.take(4)), plain(files[4]));
      assert.deepEqual(plain(records.get(0)), plain(files[0]));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file records: surveys come back as they went in, from memory and from disk (surveyCodec)", async () => {
  const { surveyCodec } = await import("../src/plan/_file_codec.ts");
  const header = (sop?: string) => ({
    studyUID: "1.2.3",
    seriesUID: "1.2.3.4",
    patientId: "PID1",
    modality: "CT",
    transferSyntax: "1.2.840.10008.1.2.1",
    ...(sop ? { sopInstanceUID: sop } : {}),
  });
  const facts = (dest: string) => ({
    dest,
    pseudoId: "ABCD1234",
    studyUID: "2.25.1",
    seriesUID: "2.25.2",
    modality: "CT",
    frames: 1,
    counts: { K: 29, X: 3 },
    na: [0x00200011],
    pseudonyms: [["PID1", "ABCD1234"]] as [string, string][],
  });
  const surveys: Survey[] = [
    {
      scanned: {
        root: "/in",
        rel: "a/1.dcm",
        path: "/in/a/1.dcm",
        size: 10,
        kind: "dicom",
        header: header("1.2.3.4.1"),
      },
      facts: facts("P/1/0001.dcm"),
    },
    {
      scanned: {
        root: "/in",
        rel: "a/2.dcm",
        path: "/in/a/2.dcm",
        size: 11,
        kind: "dicom",
        header: header("1.2.3.4.2"),
      },
      facts: { ...facts("P/1/0002.dcm"), warnings: [{ kind: "burned-in", message: "#2: a warning" }] },
    },
    {
      scanned: {
        root: "/in",
        rel: "b.txt",
        path: "/in/b.txt",
        size: 3,
        kind: "not-dicom",
        reason: "not DICOM: no preamble",
      },
    },
    // Reached through a link: its path is not the root and the relative path joined.
    {
      scanned: {
        root: "/in",
        rel: "c.dcm",
        path: "/elsewhere/c.dcm",
        size: 12,
        kind: "dicom",
        header: header(),
      },
      facts: { frames: 1, quarantine: "no path: ünïcode" },
    },
  ];
  const dir = await Deno.makeTempDir();
  try {
    for (const inMemory of [1, 100]) {
      using records = new FileRecords<Survey>({ dir: () => dir, inMemory }, surveys.length, surveyCodec());
      for (const [i, s] of surveys.entries()) records.set(i, s);
      for (const [i, s] of surveys.entries()) {
        // The same values, and a scanned file's in the same order (what is shown as JSON).
        assert.equal(JSON.stringify(records.get(i).scanned), JSON.stringify(s.scanned), `survey ${i}`);
        assert.deepEqual(
          JSON.parse(JSON.stringify(records.get(i))),
          JSON.parse(JSON.stringify(s)),
          `survey ${i}`,
        );
        assert.equal("facts" in records.get(i), "facts" in s);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
