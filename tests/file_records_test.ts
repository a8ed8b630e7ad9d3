/**
 * A plan's files past the bound (src/plan/file_records.ts with the plan's codec): every kind of
 * planned file comes back as it went in, whether held in memory or read back from disk.
 */
import assert from "node:assert/strict";
import { FileRecords } from "../src/plan/file_records.ts";
import { plannedFileCodec } from "../src/plan/_file_codec.ts";
import type { PlannedFile } from "../src/plan/types.ts";
import type { Survey } from "../src/plan/survey.ts";
import { SurveyRecords } from "../src/plan/survey_records.ts";
import { SurveyEncoder } from "../src/plan/survey_worker.ts";
import { Interner } from "../src/scan/intern.ts";
import { instanceKey } from "../src/scan/scan.ts";
import { sharingCodec } from "../src/util/spill_codec.ts";

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

/** Surveys of every kind: DICOM with and without facts and SOP UID, not DICOM, reached through a link. */
function sampleSurveys(): Survey[] {
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
  return [
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
}

/** `got` is `want`: the same values, and a scanned file's in the same order (what is shown as JSON). */
function assertSameSurvey(got: Survey, want: Survey, what: string): void {
  assert.equal(JSON.stringify(got.scanned), JSON.stringify(want.scanned), what);
  assert.deepEqual(JSON.parse(JSON.stringify(got)), JSON.parse(JSON.stringify(want)), what);
  assert.equal("facts" in got, "facts" in want, what);
}

Deno.test("file records: surveys come back as they went in, from memory and from disk (surveyCodec)", async () => {
  const { surveyCodec } = await import("../src/plan/_file_codec.ts");
  const surveys = sampleSurveys();
  const dir = await Deno.makeTempDir();
  try {
    for (const inMemory of [1, 100]) {
      using records = new FileRecords<Survey>({ dir: () => dir, inMemory }, surveys.length, surveyCodec());
      for (const [i, s] of surveys.entries()) records.set(i, s);
      for (const [i, s] of surveys.entries()) assertSameSurvey(records.get(i), s, `survey ${i}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("survey records: two workers' encoded surveys and this thread's come back as they went in, from memory and from disk", async () => {
  const surveys = sampleSurveys();
  // Twelve files: each sample three times, over two workers and this thread, in no order.
  const all = [...surveys, ...surveys, ...surveys].map((s, i) => ({ index: (i * 5) % 12, survey: s }));
  const dir = await Deno.makeTempDir();
  try {
    for (const inMemory of [1, 5, 100]) {
      const workers = [new SurveyEncoder(), new SurveyEncoder()];
      // A worker that surveyed for an earlier plan starts its tables again for this one.
      workers[1].reply(7, all.slice(0, 2));
      using records = new SurveyRecords({ dir: () => dir, inMemory }, all.length);
      const pool = new Interner();
      for (let from = 0; from < all.length; from += 2) {
        const batch = all.slice(from, from + 2);
        const source = (from / 2) % 3;
        if (source === 2) {
          for (const { index, survey } of batch) records.set(index, survey);
          continue;
        }
        const reply = workers[source].reply(8, batch);
        records.addParts(source + 1, reply.parts, pool);
        for (const r of reply.surveys) {
          assert.equal(r.key, instanceKey(all.find((a) => a.index === r.index)!.survey.scanned));
          records.setEncoded(r.index, source + 1, r.encoded, r.key);
        }
      }
      assert.equal(records.filled, all.length);
      for (const { index, survey } of all) assertSameSurvey(records.get(index), survey, `file ${index}`);
      assert.deepEqual(
        [...records].map((s) => s.scanned.rel),
        all.toSorted((a, b) => a.index - b.index).map((a) => a.survey.scanned.rel),
      );
      // Files with the same SOP Instance UID are found by their keys, wherever their surveys came from.
      const keys = [...records.instances.index().groups(2)].map((g) => [...g].sort((a, b) => a - b));
      const sop = (i: number) => all.find((a) => a.index === i)!.survey.scanned.header?.sopInstanceUID;
      for (const g of keys) assert.ok(g.every((i) => sop(i) === sop(g[0])), `group ${g}`);
      assert.equal(keys.flat().length, all.filter((a) => a.survey.scanned.header?.sopInstanceUID).length);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sharingCodec: parts handed to another codec decode its records there, looked up either way; a codec given parts only decodes", () => {
  type Rec = { series: string; n: number; counts?: Record<string, number> };
  // Values new for each record, as a worker's are (the same content, other objects).
  const records: Rec[] = Array.from(
    { length: 9 },
    (_, n) => ({ series: `S${n % 3}`, n, counts: { X: n % 2 } }),
  );
  for (const lookup of ["values", "json"] as const) {
    const worker = sharingCodec<Rec>(["series", "counts"], { lookup });
    const main = sharingCodec<Rec>(["series", "counts"]);
    const lines: string[] = [];
    const handed: number[] = [];
    for (const [i, r] of records.entries()) {
      lines.push(JSON.stringify(worker.encode(structuredClone(r))));
      if (i % 4 === 3) {
        const parts = worker.newParts();
        handed.push(parts.length);
        main.addParts(parts);
      }
    }
    main.addParts(worker.newParts());
    assert.deepEqual(worker.newParts(), [], "each part handed out once");
    // Six combinations (3 series x 2 counts), each numbered once, whichever way it was looked up.
    assert.deepEqual(handed, [4, 2], lookup);
    assert.deepEqual(lines.map((l) => main.decode(JSON.parse(l))), records, lookup);
    assert.throws(() => main.encode(records[0]), /only decodes/);
    assert.throws(() => worker.addParts([]), /has encoded/);
    // Looked up by JSON, a part handed out is let go where it was made.
    if (lookup === "json") assert.throws(() => worker.decode(JSON.parse(lines[0])), /where it was handed/);
    else assert.deepEqual(worker.decode(JSON.parse(lines[0])), records[0]);
  }
});
