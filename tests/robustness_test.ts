/**
 * Robustness of the DICOM engine against broken input (issue acceptance):
 *
 * - every failure to read is a typed error naming the file, the byte offset and what was expected;
 *   a truncated file, a length past the end of the file, garbage, a sequence nested 10,000 deep or a
 *   declared length of 4 GB never hangs and never exhausts memory;
 * - a seeded mutation fuzz test (at least 2,000 mutations of corpus files and fixtures) ends with
 *   only our typed errors, no hang.
 *
 * The fuzz prints its seed. To replay one case:
 *   DCMTIDY_FUZZ_SEED=<seed> DCMTIDY_FUZZ_CASE=<index> deno test -A tests/robustness_test.ts
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { DicomError, type DicomErrorCode, DicomReadError, DicomWriteError } from "../src/dicom/errors.ts";
import { readDicomFile, readDicomFileSync } from "../src/dicom/read_file.ts";
import type { DicomFile } from "../src/dicom/model.ts";
import { parseDicom } from "../src/dicom/reader.ts";
import { buildMeta, type Chunk, encodeDataSet, encodeFile } from "../src/dicom/writer.ts";
import {
  buildDicom,
  nestedPatientNameDataset,
  type Node,
  sampleDataset,
  type TS,
} from "./fixtures/builder.ts";

const FILE = "x.dcm";
const ALL_TS: TS[] = ["explicit-le", "implicit-le", "explicit-be", "deflated"];
/** A timing guard against hangs, not a benchmark: no single case may take this long. */
const MAX_CASE_MS = 2000;
/** Number of mutated inputs the fuzz test parses (the acceptance asks for at least 2,000). */
const MUTATIONS = 10_000;
/** Corpus files larger than this are left out of the fuzz (keeps the run short). */
const MAX_CORPUS_FILE = 2 * 1024 * 1024;
const DEFAULT_SEED = 0x5eed_d1c0;
const FOUR_GB = 0xfffffff0;
const UNDEFINED = 0xffffffff;

const ITEM = 0xfffee000;
const ITEM_DELIMITATION = 0xfffee00d;
const SEQUENCE_DELIMITATION = 0xfffee0dd;
const PIXEL_DATA = 0x7fe00010;
const REQUEST_ATTRIBUTES_SEQUENCE = 0x00400275;
const PATIENT_NAME = 0x00100010;
const JPEG_BASELINE = "1.2.840.10008.1.2.4.50";

// ---------------------------------------------------------------------------------------------
// Bytes

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function tagBytes(t: number, le: boolean): Uint8Array {
  const b = new Uint8Array(4);
  const v = new DataView(b.buffer);
  v.setUint16(0, t >>> 16, le);
  v.setUint16(2, t & 0xffff, le);
  return b;
}

function u16(n: number, le: boolean): Uint8Array {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, n, le);
  return b;
}

function u32(n: number, le: boolean): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, le);
  return b;
}

const LONG_VRS = new Set(["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"]);

/** An element header: explicit (tag, VR, 16- or 32-bit length) or implicit (tag, 32-bit length). */
function header(t: number, vr: string, length: number, enc: { explicit: boolean; le: boolean }): Uint8Array {
  const { explicit, le } = enc;
  if (!explicit) return concat(tagBytes(t, le), u32(length, le));
  if (LONG_VRS.has(vr)) return concat(tagBytes(t, le), ascii(vr), u16(0, le), u32(length, le));
  return concat(tagBytes(t, le), ascii(vr), u16(length, le));
}

/** Item and delimitation headers: tag and 32-bit length, never a VR. */
function itemHeader(t: number, length: number, le: boolean): Uint8Array {
  return concat(tagBytes(t, le), u32(length, le));
}

function encodingOf(ts: TS): { explicit: boolean; le: boolean } {
  return { explicit: ts !== "implicit-le", le: ts !== "explicit-be" };
}

function indexOfBytes(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Where `needle` occurs in `haystack`, asserting it occurs exactly once. */
function uniqueOffset(haystack: Uint8Array, needle: Uint8Array): number {
  const at = indexOfBytes(haystack, needle);
  assert.ok(at >= 0, "marker not found in the test input");
  assert.equal(indexOfBytes(haystack, needle, at + 1), -1, "marker occurs twice in the test input");
  return at;
}

/** The sample data set without Pixel Data, followed by `raw` (which then ends the data set). */
function sampleThen(raw: Uint8Array): Node[] {
  return [...sampleDataset().filter((n) => !("tag" in n) || n.tag !== PIXEL_DATA), { raw }];
}

/** The sample data set with `raw` inserted after (0028,1053), just before Pixel Data. */
function sampleWithBeforePixels(raw: Uint8Array): Node[] {
  const out: Node[] = [];
  for (const n of sampleDataset()) {
    out.push(n);
    if ("tag" in n && n.tag === 0x00281053) out.push({ raw });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Seeded random numbers

/** mulberry32: a tiny, good-enough 32-bit PRNG. Returns floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rng {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }
  chance(p: number): boolean {
    return this.#next() < p;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Checking outcomes

function describe(e: unknown): string {
  if (e instanceof Error) {
    const stack = (e.stack ?? "").split("\n").slice(1, 8).join("\n");
    return `${e.name}: ${e.message}${stack ? "\n" + stack : ""}`;
  }
  return `non-Error thrown: ${String(e)}`;
}

/** Why `e` is not an acceptable read failure for an input of `size` bytes named `name`, or undefined. */
function readErrorProblem(e: unknown, name: string, size: number): string | undefined {
  if (!(e instanceof DicomError)) return `threw something that is not a DicomError: ${describe(e)}`;
  if (!(e instanceof DicomReadError)) return `threw ${e.name} rather than DicomReadError: ${describe(e)}`;
  if (e.file !== name) return `the error names file ${JSON.stringify(e.file)}, not ${name}: ${describe(e)}`;
  if (typeof e.offset !== "number" || !Number.isSafeInteger(e.offset) || e.offset < 0) {
    return `the error has no valid byte offset (${e.offset}): ${describe(e)}`;
  }
  // Offsets of deflated data sets are positions in the inflated stream, which can be longer.
  const inflated = e.message.includes("(offset in the inflated data set)");
  if (!inflated && e.offset > size) {
    return `offset ${e.offset} is past the end of the ${size}-byte input: ${describe(e)}`;
  }
  if (e.message.trim() === "") return `the error has an empty message: ${describe(e)}`;
  return undefined;
}

function concatChunks(chunks: Chunk[]): Uint8Array {
  const parts = chunks.map((c) => {
    if (!(c instanceof Uint8Array)) {
      throw new Error("encodeFile returned an external chunk for an in-memory file");
    }
    return c;
  });
  return concat(...parts);
}

interface CaseResult {
  /** What went wrong: an untyped or malformed error, a slow case, a round-trip mismatch. */
  problem?: string;
  /** The code of the read error, when parsing failed as it should. */
  readCode?: DicomErrorCode;
  /** The code of the write error, when the input parsed but could not be encoded. */
  writeCode?: DicomErrorCode;
  parsed: boolean;
  /** Whether the re-encoded data set was compared with the input's bytes. */
  compared: boolean;
}

/**
 * Parse `bytes`; when they parse, encode the file with no edits and compare the data set bytes.
 * Returns what happened; `problem` is set when anything broke the acceptance.
 */
function checkCase(bytes: Uint8Array, name: string): CaseResult {
  const t0 = performance.now();
  let file: DicomFile;
  try {
    file = parseDicom(bytes, { file: name }).file;
  } catch (e) {
    const ms = performance.now() - t0;
    const problem = readErrorProblem(e, name, bytes.length) ??
      (ms > MAX_CASE_MS ? `parse took ${ms.toFixed(0)} ms before failing` : undefined);
    return {
      parsed: false,
      compared: false,
      problem,
      readCode: e instanceof DicomError ? e.code : undefined,
    };
  }
  const parseMs = performance.now() - t0;
  if (parseMs > MAX_CASE_MS) {
    return { parsed: true, compared: false, problem: `parse took ${parseMs.toFixed(0)} ms` };
  }

  let out: Uint8Array;
  let metaLength: number;
  const t1 = performance.now();
  try {
    out = concatChunks(encodeFile(file));
    metaLength = 132 + encodeDataSet(buildMeta(file)).length;
  } catch (e) {
    if (e instanceof DicomError) return { parsed: true, compared: false, writeCode: e.code };
    return {
      parsed: true,
      compared: false,
      problem: `encodeFile threw something that is not a DicomError: ${describe(e)}`,
    };
  }
  const encodeMs = performance.now() - t1;
  if (encodeMs > MAX_CASE_MS) {
    return { parsed: true, compared: false, problem: `encodeFile took ${encodeMs.toFixed(0)} ms` };
  }
  // Deflated data sets are compared only when nothing changed (then the deflate stream is copied).
  if (file.transferSyntax.deflated && encodeDataSet(file.dataset).modified) {
    return { parsed: true, compared: false };
  }
  const input = bytes.subarray(file.datasetOffset);
  const output = out.subarray(metaLength);
  const diff = firstDifference(input, output);
  if (diff === undefined) return { parsed: true, compared: true };
  return {
    parsed: true,
    compared: true,
    problem: `re-encoding with no edits changed the data set: first difference at input byte ` +
      `${file.datasetOffset + diff} (input data set ${input.length} bytes, output ${output.length} bytes; ` +
      `input ${hexAround(input, diff)}, output ${hexAround(output, diff)})`,
  };
}

function firstDifference(a: Uint8Array, b: Uint8Array): number | undefined {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? undefined : n;
}

function hexAround(b: Uint8Array, at: number): string {
  const from = Math.max(0, at - 8);
  const hex = [...b.subarray(from, at + 8)].map((x) => x.toString(16).padStart(2, "0")).join(" ");
  return `[${from}..]: ${hex}`;
}

/** Parse and expect a DicomReadError naming FILE, with a valid offset and, when given, this code and offset. */
function expectReadError(
  bytes: Uint8Array,
  expected: { code?: DicomErrorCode; offset?: number } = {},
): DicomReadError {
  const t0 = performance.now();
  let error: unknown;
  try {
    parseDicom(bytes, { file: FILE });
  } catch (e) {
    error = e;
  }
  const ms = performance.now() - t0;
  assert.ok(ms < MAX_CASE_MS, `parse took ${ms.toFixed(0)} ms`);
  assert.ok(error !== undefined, "expected a DicomReadError, but the input parsed");
  const problem = readErrorProblem(error, FILE, bytes.length);
  assert.equal(problem, undefined, problem);
  const e = error as DicomReadError;
  if (expected.code) assert.equal(e.code, expected.code, `expected code ${expected.code}: ${e.toString()}`);
  if (expected.offset !== undefined) assert.equal(e.offset, expected.offset, `wrong offset: ${e.toString()}`);
  return e;
}

// ---------------------------------------------------------------------------------------------
// Targeted cases

Deno.test("robustness: every prefix of a sample file is a typed read error or parses", () => {
  for (const ts of ALL_TS) {
    const bytes = buildDicom(sampleDataset(), { ts });
    for (let n = 0; n < bytes.length; n++) {
      const r = checkCase(bytes.slice(0, n), FILE);
      assert.equal(r.problem, undefined, `${ts}, first ${n} of ${bytes.length} bytes: ${r.problem}`);
    }
  }
});

Deno.test("robustness: a sample file cut anywhere after its preamble reports 'truncated' (or parses)", () => {
  // A prefix shorter than preamble + "DICM" is 128 zero bytes at most: nothing marks it as DICOM,
  // so "not-dicom" is the right answer there. From "DICM" on, a cut is a truncation.
  const wrong: string[] = [];
  for (const ts of ["explicit-le", "implicit-le", "explicit-be"] as const) {
    const bytes = buildDicom(sampleDataset(), { ts });
    const byCode = new Map<string, { lengths: number[]; example: string }>();
    for (let n = 0; n < bytes.length; n++) {
      try {
        parseDicom(bytes.slice(0, n), { file: FILE });
      } catch (e) {
        assert.ok(e instanceof DicomReadError, describe(e));
        if (e.code === "truncated" || (n < 132 && e.code === "not-dicom")) continue;
        const entry = byCode.get(e.code) ?? { lengths: [], example: `${n} bytes: ${e.toString()}` };
        entry.lengths.push(n);
        byCode.set(e.code, entry);
      }
    }
    for (const [code, { lengths, example }] of byCode) {
      wrong.push(
        `${ts}: ${lengths.length} prefix lengths give "${code}" instead of "truncated" ` +
          `(${lengths.join(",")}), e.g. ${example}`,
      );
    }
  }
  assert.deepEqual(wrong, [], wrong.join("\n"));
});

Deno.test("robustness: a value length past the end of the file", () => {
  for (const ts of ["explicit-le", "implicit-le", "explicit-be"] as const) {
    const enc = encodingOf(ts);
    // (7FE1,0010) LO declaring 64 bytes with only 4 left: a 16-bit length in explicit VR.
    const head = header(0x7fe10010, "LO", 64, enc);
    const bytes = buildDicom(sampleThen(concat(head, ascii("ABCD"))), { ts });
    const e = expectReadError(bytes, { code: "truncated", offset: uniqueOffset(bytes, head) });
    assert.match(e.message, /64/, "the message says what was expected");
    // An odd length one past the end.
    const head2 = header(0x7fe10010, "LO", 5, enc);
    const bytes2 = buildDicom(sampleThen(concat(head2, ascii("ABCD"))), { ts });
    expectReadError(bytes2, { code: "truncated", offset: uniqueOffset(bytes2, head2) });
  }
});

Deno.test("robustness: seeded random garbage is a typed read error or parses", () => {
  const seed = 0x6a7b_a9e0;
  const rng = new Rng(seed);
  const meta = buildDicom([], { ts: "explicit-le" });
  const problems: string[] = [];
  for (let i = 0; i < 300; i++) {
    const garbage = rng.bytes(rng.int(4096));
    const kind = i % 3;
    // Pure garbage; garbage after a preamble and "DICM"; garbage as the data set of a valid meta group.
    const bytes = kind === 0
      ? garbage
      : kind === 1
      ? concat(new Uint8Array(128), ascii("DICM"), garbage)
      : concat(meta, garbage);
    const r = checkCase(bytes, FILE);
    if (r.problem) problems.push(`garbage seed ${seed} case ${i}: ${r.problem}`);
  }
  assert.deepEqual(problems, [], problems.join("\n"));
});

/** Sequences nested `depth` deep, undefined lengths, around one Patient Name. */
function deepUndefinedLength(depth: number, ts: "explicit-le" | "implicit-le" | "explicit-be"): Uint8Array {
  const enc = encodingOf(ts);
  const open = concat(
    header(REQUEST_ATTRIBUTES_SEQUENCE, "SQ", UNDEFINED, enc),
    itemHeader(ITEM, UNDEFINED, enc.le),
  );
  const leaf = concat(header(PATIENT_NAME, "PN", 4, enc), ascii("A^B "));
  const close = concat(
    itemHeader(ITEM_DELIMITATION, 0, enc.le),
    itemHeader(SEQUENCE_DELIMITATION, 0, enc.le),
  );
  const head = buildDicom([], { ts });
  const out = new Uint8Array(head.length + depth * (open.length + close.length) + leaf.length);
  out.set(head);
  let at = head.length;
  for (let i = 0; i < depth; i++, at += open.length) out.set(open, at);
  out.set(leaf, at);
  at += leaf.length;
  for (let i = 0; i < depth; i++, at += close.length) out.set(close, at);
  return out;
}

/** Sequences nested `depth` deep with defined lengths (each length computed from the total). */
function deepDefinedLength(depth: number, ts: "explicit-le" | "implicit-le"): Uint8Array {
  const enc = encodingOf(ts);
  const sqHeader = enc.explicit ? 12 : 8;
  const level = sqHeader + 8;
  const leaf = concat(header(PATIENT_NAME, "PN", 4, enc), ascii("A^B "));
  const body = new Uint8Array(depth * level + leaf.length);
  for (let i = 0; i < depth; i++) {
    const at = i * level;
    body.set(header(REQUEST_ATTRIBUTES_SEQUENCE, "SQ", body.length - at - sqHeader, enc), at);
    body.set(itemHeader(ITEM, body.length - at - level, enc.le), at + sqHeader);
  }
  body.set(leaf, depth * level);
  return concat(buildDicom([], { ts }), body);
}

/** Explicit VR: a UN of undefined length (items in implicit VR), then implicit undefined-length elements inside. */
function deepUN(depth: number): Uint8Array {
  const le = true;
  const first = concat(
    header(0x00091010, "UN", UNDEFINED, { explicit: true, le }),
    itemHeader(ITEM, UNDEFINED, le),
  );
  const inner = concat(
    header(0x00091010, "UN", UNDEFINED, { explicit: false, le }),
    itemHeader(ITEM, UNDEFINED, le),
  );
  const close = concat(itemHeader(ITEM_DELIMITATION, 0, le), itemHeader(SEQUENCE_DELIMITATION, 0, le));
  const parts: Uint8Array[] = [buildDicom([], { ts: "explicit-le" }), first];
  for (let i = 1; i < depth; i++) parts.push(inner);
  parts.push(header(PATIENT_NAME, "PN", 4, { explicit: false, le }), ascii("A^B "));
  for (let i = 0; i < depth; i++) parts.push(close);
  return concat(...parts);
}

/** Implicit VR: private (0009,1010) values of defined length that each hold one item: hidden sequences. */
function deepHiddenSequence(depth: number): Uint8Array {
  const leaf = concat(header(PATIENT_NAME, "PN", 4, { explicit: false, le: true }), ascii("A^B "));
  const body = new Uint8Array(depth * 16 + leaf.length);
  const v = new DataView(body.buffer);
  for (let i = 0; i < depth; i++) {
    const at = i * 16;
    body.set(tagBytes(0x00091010, true), at);
    v.setUint32(at + 4, body.length - at - 8, true);
    body.set(tagBytes(ITEM, true), at + 8);
    v.setUint32(at + 12, body.length - at - 16, true);
  }
  body.set(leaf, depth * 16);
  return concat(buildDicom([], { ts: "implicit-le" }), body);
}

Deno.test("robustness: sequences nested 10,000 deep end quickly in 'too-deep'", () => {
  const cases: [string, Uint8Array][] = [
    ["explicit-le, undefined lengths", deepUndefinedLength(10_000, "explicit-le")],
    ["implicit-le, undefined lengths", deepUndefinedLength(10_000, "implicit-le")],
    ["explicit-be, undefined lengths", deepUndefinedLength(10_000, "explicit-be")],
    ["explicit-le, defined lengths", deepDefinedLength(10_000, "explicit-le")],
    ["implicit-le, defined lengths", deepDefinedLength(10_000, "implicit-le")],
    ["explicit-le, UN of undefined length", deepUN(10_000)],
    ["implicit-le, private values holding items", deepHiddenSequence(10_000)],
  ];
  for (const [name, bytes] of cases) {
    const t0 = performance.now();
    const e = expectReadError(bytes, { code: "too-deep" });
    const ms = performance.now() - t0;
    assert.ok(ms < 1000, `${name}: took ${ms.toFixed(0)} ms`);
    assert.ok(e.offset! > 132 && e.offset! < bytes.length, `${name}: offset ${e.offset}`);
  }
  // A modest depth still parses (the limit is not too tight for real data).
  for (const ts of ["explicit-le", "implicit-le", "explicit-be"] as const) {
    const file = parseDicom(deepUndefinedLength(20, ts), { file: FILE }).file;
    assert.equal(file.dataset.elements.length, 1);
  }
});

Deno.test("robustness: an element declaring 4 GB (explicit and implicit)", () => {
  for (const ts of ["explicit-le", "implicit-le", "explicit-be"] as const) {
    const enc = encodingOf(ts);
    // Pixel Data declaring 4 GB at the end of the file.
    const pixels = header(PIXEL_DATA, "OW", FOUR_GB, enc);
    const a = buildDicom(sampleThen(concat(pixels, new Uint8Array(64))), { ts });
    const ea = expectReadError(a, { code: "truncated", offset: uniqueOffset(a, pixels) });
    assert.match(
      ea.message,
      new RegExp(String(FOUR_GB)),
      `the message names the declared length: ${ea.message}`,
    );
    // A private OB declaring 4 GB before the Pixel Data (the rest of the file follows it).
    const ob = header(0x00291010, "OB", FOUR_GB, enc);
    const b = buildDicom(sampleWithBeforePixels(concat(ob, new Uint8Array(16))), { ts });
    expectReadError(b, { code: "truncated", offset: uniqueOffset(b, ob) });
    // A text element declaring 4 GB in implicit VR (its dictionary VR is PN).
    if (!enc.explicit) {
      const pn = header(0x00101001, "PN", FOUR_GB, enc);
      const c = buildDicom(sampleWithBeforePixels(concat(pn, ascii("A^B "))), { ts });
      expectReadError(c, { code: "truncated", offset: uniqueOffset(c, pn) });
    }
  }
  // Deflated: the 4 GB length is inside the inflated data set.
  const d = buildDicom(
    sampleThen(concat(header(PIXEL_DATA, "OW", FOUR_GB, encodingOf("deflated")), new Uint8Array(64))),
    {
      ts: "deflated",
    },
  );
  const ed = expectReadError(d, { code: "truncated" });
  assert.match(ed.message, /inflated/);
});

Deno.test("robustness: an item declaring 4 GB", () => {
  for (const ts of ["explicit-le", "implicit-le", "explicit-be"] as const) {
    const enc = encodingOf(ts);
    // Undefined-length sequence whose item declares 4 GB.
    const item = itemHeader(ITEM, FOUR_GB, enc.le);
    const sq = header(REQUEST_ATTRIBUTES_SEQUENCE, "SQ", UNDEFINED, enc);
    const a = buildDicom(
      sampleWithBeforePixels(concat(sq, item, header(PATIENT_NAME, "PN", 4, enc), ascii("A^B "))),
      {
        ts,
      },
    );
    expectReadError(a, { code: "truncated", offset: uniqueOffset(a, item) });
    // Defined-length sequence declaring 4 GB.
    const sq4 = header(REQUEST_ATTRIBUTES_SEQUENCE, "SQ", FOUR_GB, enc);
    const b = buildDicom(
      sampleWithBeforePixels(concat(sq4, itemHeader(ITEM, 12, enc.le), new Uint8Array(12))),
      { ts },
    );
    expectReadError(b, { code: "truncated", offset: uniqueOffset(b, sq4) });
    // A defined-length item inside a defined-length sequence, declaring more than the sequence holds.
    const inner = itemHeader(ITEM, FOUR_GB, enc.le);
    const c = buildDicom(
      sampleWithBeforePixels(
        concat(header(REQUEST_ATTRIBUTES_SEQUENCE, "SQ", 16, enc), inner, new Uint8Array(8)),
      ),
      { ts },
    );
    expectReadError(c, { code: "truncated", offset: uniqueOffset(c, inner) });
  }
});

Deno.test("robustness: encapsulated Pixel Data fragments declaring 4 GB", () => {
  const enc = { explicit: true, le: true };
  const pixels = header(PIXEL_DATA, "OB", UNDEFINED, enc);
  // A fragment declaring 4 GB.
  const fragment = concat(tagBytes(ITEM, true), u32(FOUR_GB, true));
  const a = buildDicom(sampleThen(concat(pixels, itemHeader(ITEM, 0, true), fragment, new Uint8Array(32))), {
    transferSyntaxUID: JPEG_BASELINE,
  });
  expectReadError(a, { code: "truncated", offset: pixels.length + uniqueOffset(a, pixels) + 8 });
  // A basic offset table declaring 4 GB.
  const b = buildDicom(sampleThen(concat(pixels, itemHeader(ITEM, FOUR_GB, true), new Uint8Array(32))), {
    transferSyntaxUID: JPEG_BASELINE,
  });
  expectReadError(b, { code: "truncated", offset: uniqueOffset(b, pixels) + pixels.length });
  // Fragments with no sequence delimitation item at the end of the file.
  const c = buildDicom(
    sampleThen(concat(pixels, itemHeader(ITEM, 0, true), itemHeader(ITEM, 4, true), ascii("JPEG"))),
    {
      transferSyntaxUID: JPEG_BASELINE,
    },
  );
  expectReadError(c, { code: "truncated" });
});

Deno.test("robustness: a deflated file whose deflate stream is garbage", () => {
  const good = buildDicom(sampleDataset(), { ts: "deflated" });
  const datasetOffset = parseDicom(good, { file: FILE }).file.datasetOffset;
  const rng = new Rng(0xdef1a7e);
  const garbage = rng.bytes(600);
  garbage[0] = 0xff; // BFINAL=1, BTYPE=11: a reserved block type, never a valid stream
  const bytes = concat(good.subarray(0, datasetOffset), garbage);
  const e = expectReadError(bytes, { code: "bad-structure", offset: datasetOffset });
  assert.match(e.message, /inflate/);
  // A deflate stream cut in the middle, and one with random bytes overwritten: typed errors (or a parse).
  expectReadError(good.slice(0, datasetOffset + 40));
  for (let i = 0; i < 50; i++) {
    const mutated = good.slice();
    for (let k = 0; k < 4; k++) mutated[datasetOffset + rng.int(good.length - datasetOffset)] = rng.int(256);
    const r = checkCase(mutated, FILE);
    assert.equal(r.problem, undefined, `deflate mutation ${i}: ${r.problem}`);
  }
});

/** Write each input to a temp folder, run `fn` with the paths, and clean up. */
async function withTempFiles(
  files: Record<string, Uint8Array>,
  fn: (paths: Record<string, string>) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy_robustness_" });
  try {
    const paths: Record<string, string> = {};
    for (const [name, bytes] of Object.entries(files)) {
      paths[name] = `${dir}/${name}.dcm`;
      await Deno.writeFile(paths[name], bytes);
    }
    await fn(paths);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function expectFileReadError(
  path: string,
  opts: Parameters<typeof readDicomFile>[1],
  expected: { code?: DicomErrorCode; offset?: number; size: number },
): Promise<DicomReadError> {
  const t0 = performance.now();
  let error: unknown;
  try {
    await readDicomFile(path, opts);
  } catch (e) {
    error = e;
  }
  const ms = performance.now() - t0;
  const what = `readDicomFile(${JSON.stringify(opts)})`;
  assert.ok(ms < MAX_CASE_MS, `${what} took ${ms.toFixed(0)} ms`);
  assert.ok(error !== undefined, `${what}: expected a DicomReadError, but the file was read`);
  const problem = readErrorProblem(error, path, expected.size);
  assert.equal(problem, undefined, `${what}: ${problem}`);
  const e = error as DicomReadError;
  if (expected.code) assert.equal(e.code, expected.code, `${what}: ${e.toString()}`);
  if (expected.offset !== undefined) assert.equal(e.offset, expected.offset, `${what}: ${e.toString()}`);
  return e;
}

Deno.test("robustness: readDicomFile with 4 GB Pixel Data: whole-file, streaming and header-only", async () => {
  const pixels = header(PIXEL_DATA, "OW", FOUR_GB, { explicit: true, le: true });
  const bytes = buildDicom(sampleThen(concat(pixels, new Uint8Array(256))));
  const at = uniqueOffset(bytes, pixels);
  await withTempFiles({ pixels4gb: bytes }, async ({ pixels4gb }) => {
    const size = bytes.length;
    // Whole-file path: the parser sees the length against the whole buffer.
    await expectFileReadError(pixels4gb, {}, { code: "truncated", offset: at, size });
    // Streaming path: the header is parsed from a window, the Pixel Data length against the file size.
    const e = await expectFileReadError(pixels4gb, { wholeFileLimit: 0 }, { code: "truncated", size });
    assert.ok(e.offset === at || e.offset === at + pixels.length, `offset ${e.offset}, element at ${at}`);
    await expectFileReadError(pixels4gb, { wholeFileLimit: 0, initialWindow: 512 }, {
      code: "truncated",
      size,
    });
    // Header-only: stops at the Pixel Data header without looking at its length; cannot be written.
    const file = await readDicomFile(pixels4gb, { headerOnly: true });
    assert.equal(file.headerOnly, true);
    assert.ok(file.dataset.elements.some((el) => el.tag === 0x00100010), "the header was read");
    assert.throws(() => encodeFile(file), DicomWriteError);
  });
});

Deno.test("robustness: readDicomFile streaming path gives typed errors", async () => {
  const enc = { explicit: true, le: true };
  const pixels = header(PIXEL_DATA, "OB", UNDEFINED, enc);
  const fragment = itemHeader(ITEM, FOUR_GB, true);
  const fragments = buildDicom(
    sampleThen(concat(pixels, itemHeader(ITEM, 0, true), fragment, new Uint8Array(64))),
    {
      transferSyntaxUID: JPEG_BASELINE,
    },
  );
  const noDelimiter = buildDicom(
    sampleThen(concat(pixels, itemHeader(ITEM, 0, true), itemHeader(ITEM, 4, true), ascii("JPEG"))),
    { transferSyntaxUID: JPEG_BASELINE },
  );
  const ob = header(0x00291010, "OB", FOUR_GB, enc);
  const early = buildDicom(sampleWithBeforePixels(concat(ob, new Uint8Array(16))));
  // Native Pixel Data, then a trailing element declaring 4 GB (parsed by the trailer code).
  const trailerHead = header(0xfffcfffc, "OB", FOUR_GB, enc);
  const trailer = concat(buildDicom(sampleDataset()), trailerHead, new Uint8Array(8));
  const deep = deepUndefinedLength(10_000, "explicit-le");
  const garbage = new Rng(0x9a4b).bytes(5000);
  const deflatedGarbage = (() => {
    const good = buildDicom(sampleDataset(), { ts: "deflated" });
    const off = parseDicom(good).file.datasetOffset;
    return concat(good.subarray(0, off), new Uint8Array(200).fill(0xff));
  })();
  await withTempFiles(
    { fragments, noDelimiter, early, trailer, deep, garbage, deflatedGarbage },
    async (p) => {
      for (const opts of [{ wholeFileLimit: 0 }, { wholeFileLimit: 0, initialWindow: 512 }, {}]) {
        await expectFileReadError(p.fragments, opts, {
          code: "truncated",
          offset: uniqueOffset(fragments, fragment),
          size: fragments.length,
        });
        await expectFileReadError(p.noDelimiter, opts, { code: "truncated", size: noDelimiter.length });
        await expectFileReadError(p.early, opts, {
          code: "truncated",
          offset: uniqueOffset(early, ob),
          size: early.length,
        });
        await expectFileReadError(p.trailer, opts, {
          code: "truncated",
          offset: uniqueOffset(trailer, trailerHead),
          size: trailer.length,
        });
        await expectFileReadError(p.deep, opts, { code: "too-deep", size: deep.length });
        await expectFileReadError(p.garbage, opts, { code: "not-dicom", offset: 0, size: garbage.length });
        await expectFileReadError(p.deflatedGarbage, opts, { size: deflatedGarbage.length });
      }
      // Header-only reads stop before Pixel Data, but what comes before it is still checked.
      await expectFileReadError(p.early, { headerOnly: true, initialWindow: 512 }, {
        code: "truncated",
        offset: uniqueOffset(early, ob),
        size: early.length,
      });
      await expectFileReadError(p.deep, { headerOnly: true }, { code: "too-deep", size: deep.length });
      await expectFileReadError(p.garbage, { headerOnly: true }, { code: "not-dicom", size: garbage.length });
      const headerOnlyFile = await readDicomFile(p.fragments, { headerOnly: true });
      assert.equal(headerOnlyFile.headerOnly, true);
    },
  );
});

Deno.test("robustness: readDicomFile grows a small initial window until the header fits", async () => {
  // The streamed and header-only reads retry with a larger window only on "truncated"; a window
  // that ends before or inside the file meta group must be retried too, not reported as an error.
  const bytes = buildDicom(sampleDataset());
  const expected = parseDicom(bytes, { file: FILE }).file.dataset.elements.length;
  await withTempFiles({ sample: bytes }, async ({ sample }) => {
    const wrong: string[] = [];
    for (const initialWindow of [16, 128, 132, 140, 144, 158, 200, 260, 300, 512]) {
      for (const opts of [{ wholeFileLimit: 0, initialWindow }, { headerOnly: true, initialWindow }]) {
        try {
          const file = await readDicomFile(sample, opts);
          const count = file.dataset.elements.length;
          if (count !== expected) wrong.push(`${JSON.stringify(opts)}: ${count} elements, not ${expected}`);
        } catch (e) {
          wrong.push(
            `${JSON.stringify(opts)}: ${
              e instanceof DicomError ? `${e.code}: ${e.toString()}` : describe(e)
            }`,
          );
        }
      }
    }
    assert.deepEqual(wrong, [], `a valid ${bytes.length}-byte file fails to read:\n${wrong.join("\n")}`);
  });
});

Deno.test("robustness: readDicomFile refuses what is not a regular file (a FIFO, a folder) before opening it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-not-regular-" });
  try {
    const fifo = `${dir}/pipe.dcm`;
    const made = await new Deno.Command("mkfifo", { args: [fifo] }).output().then(
      (o) => o.success,
      () => false,
    );
    const refused = (e: unknown) =>
      e instanceof DicomReadError && e.code === "unsupported" && /not a regular file/.test(e.message);
    // A folder: refused by both readers with the same typed error (not an operating system's one).
    assert.throws(() => readDicomFileSync(dir), refused);
    await assert.rejects(readDicomFile(dir), refused);
    if (!made) {
      console.log("  (mkfifo not available: the FIFO case was not checked)");
      return;
    }
    // Opening a FIFO blocks until something writes to it: a read that opened it would wait here for
    // ever. After 5 s the test opens it for writing itself, which lets such a read go, and fails.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"blocked">((resolve) => timer = setTimeout(() => resolve("blocked"), 5000));
    const read = readDicomFile(fifo).then(() => "read", (e) => e);
    const first = await Promise.race([read, late]);
    clearTimeout(timer);
    if (first === "blocked") {
      (await Deno.open(fifo, { write: true })).close();
      await read;
      assert.fail("readDicomFile opened a FIFO and waited for a writer");
    }
    assert.ok(refused(first), `not refused as not a regular file: ${describe(first)}`);
    assert.throws(() => readDicomFileSync(fifo), refused);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// Cases the fuzz found; each is a minimal input for one bug.

Deno.test("robustness: a repeated group length element is written back (or refused with a DicomError)", () => {
  // (0008,0000) twice in the same group, e.g. a duplicated range in a damaged file. It parses.
  const again = concat(header(0x00080000, "UL", 4, { explicit: true, le: true }), u32(0, true));
  const bytes = buildDicom([
    { tag: 0x00080000, vr: "UL", value: 0 },
    { raw: again },
    { tag: 0x00080060, vr: "CS", value: "CT" },
  ]);
  const r = checkCase(bytes, FILE);
  assert.ok(r.parsed, "the input parses");
  assert.equal(r.problem, undefined, r.problem);
});

Deno.test("robustness: delimiters with a nonzero length field are copied byte for byte", () => {
  // The reader accepts item and sequence delimitation items whatever their length field says;
  // an unedited write must then reproduce them as they were.
  for (const ts of ["explicit-le", "implicit-le", "explicit-be"] as const) {
    const le = ts !== "explicit-be";
    const nested = buildDicom(nestedPatientNameDataset({ depth: 2, undefinedLength: true }), { ts });
    for (const delimiter of [SEQUENCE_DELIMITATION, ITEM_DELIMITATION]) {
      const bytes = nested.slice();
      const at = indexOfBytes(bytes, itemHeader(delimiter, 0, le));
      assert.ok(at > 0);
      bytes.set(u32(4, le), at + 4);
      const r = checkCase(bytes, FILE);
      assert.ok(r.parsed && r.compared, `${ts}: the input parses`);
      assert.equal(
        r.problem,
        undefined,
        `${ts}, (FFFE,${(delimiter & 0xffff).toString(16)}) length 4: ${r.problem}`,
      );
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Fuzz

interface FuzzInput {
  name: string;
  bytes: Uint8Array;
}

const CORPUS_DIR = fileURLToPath(new URL("../../shared/corpus/", import.meta.url));

async function corpusInputs(): Promise<FuzzInput[] | undefined> {
  try {
    if (!(await Deno.stat(CORPUS_DIR)).isDirectory) return undefined;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  const out: FuzzInput[] = [];
  const walk = async (dir: string, rel: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      const name = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory) await walk(path, name);
      else if (entry.isFile && (await Deno.stat(path)).size <= MAX_CORPUS_FILE) {
        out.push({ name: `corpus/${name}`, bytes: await Deno.readFile(path) });
      }
    }
  };
  await walk(CORPUS_DIR.replace(/\/$/, ""), "");
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function fixtureInputs(): FuzzInput[] {
  const out: FuzzInput[] = [];
  for (const ts of ALL_TS) {
    out.push({ name: `fixture/sample-${ts}`, bytes: buildDicom(sampleDataset(), { ts }) });
    for (const undefinedLength of [false, true]) {
      out.push({
        name: `fixture/nested-${undefinedLength ? "undefined" : "defined"}-${ts}`,
        bytes: buildDicom(nestedPatientNameDataset({ depth: 3, undefinedLength }), { ts }),
      });
    }
  }
  const encapsulated: Node[] = [
    ...sampleDataset().filter((n) => !("tag" in n) || n.tag !== PIXEL_DATA),
    { tag: PIXEL_DATA, vr: "OB", fragments: [ascii("JPEG frame one"), ascii("JPEG frame 2")], offsets: [0] },
  ];
  out.push({
    name: "fixture/encapsulated-explicit-le",
    bytes: buildDicom(encapsulated, { transferSyntaxUID: JPEG_BASELINE }),
  });
  out.push({
    name: "fixture/bare-dataset-implicit-le",
    bytes: buildDicom(sampleDataset(), { ts: "implicit-le", meta: false }),
  });
  out.push({
    name: "fixture/group-lengths-explicit-le",
    bytes: buildDicom([...sampleDataset(), { tag: 0x00080000, vr: "UL", value: 0 }, {
      tag: 0x00100000,
      vr: "UL",
      value: 0,
    }]),
  });
  return out;
}

/** An offset in a buffer of `length` bytes: half of them in the first 2 KB, where the headers are. */
function position(rng: Rng, length: number): number {
  if (length === 0) return 0;
  return rng.chance(0.5) ? rng.int(Math.min(length, 2048)) : rng.int(length);
}

/** Apply one random mutation; returns the new bytes and a description for reproduction. */
function mutate(rng: Rng, b: Uint8Array): [Uint8Array, string] {
  const op = rng.int(9);
  switch (op) {
    case 0: {
      const n = 1 + rng.int(8);
      const at: number[] = [];
      for (let i = 0; i < n && b.length > 0; i++) {
        const p = position(rng, b.length);
        b[p] ^= 1 + rng.int(255);
        at.push(p);
      }
      return [b, `flip bytes at ${at.join(",")}`];
    }
    case 1:
    case 2:
    case 3: {
      if (b.length < 4) return [b, "no-op (too short for a 4-byte overwrite)"];
      // Half of the 4-byte writes are aligned to 2 bytes, as tags and lengths are.
      let p = Math.min(position(rng, b.length), b.length - 4);
      if (rng.chance(0.5)) p &= ~1;
      const value = op === 1 ? 0xffffffff : op === 2 ? 0 : rng.int(0x1_0000_0000);
      b.set(u32(value, rng.chance(0.8)), p);
      return [b, `write 0x${value.toString(16).padStart(8, "0")} at ${p}`];
    }
    case 4: {
      const n = rng.chance(0.5) ? position(rng, b.length) : rng.int(b.length + 1);
      return [b.slice(0, n), `truncate to ${n}`];
    }
    case 5: {
      const p = position(rng, b.length + 1);
      const n = 1 + rng.int(rng.chance(0.5) ? 8 : 256);
      return [concat(b.subarray(0, p), rng.bytes(n), b.subarray(p)), `insert ${n} random bytes at ${p}`];
    }
    case 6: {
      const p = position(rng, b.length);
      const n = Math.min(b.length - p, 1 + rng.int(rng.chance(0.5) ? 8 : 512));
      return [concat(b.subarray(0, p), b.subarray(p + n)), `delete ${n} bytes at ${p}`];
    }
    case 7: {
      const from = position(rng, b.length);
      const n = Math.min(b.length - from, 1 + rng.int(rng.chance(0.5) ? 16 : 1024));
      const to = rng.chance(0.5) ? from + n : position(rng, b.length + 1);
      return [
        concat(b.subarray(0, to), b.slice(from, from + n), b.subarray(to)),
        `duplicate ${n} bytes from ${from} at ${to}`,
      ];
    }
    default: {
      // Overwrite a 16- or 32-bit length-like field with a small value (lengths that almost fit).
      if (b.length < 4) return [b, "no-op (too short)"];
      const p = Math.min(position(rng, b.length), b.length - 4) & ~1;
      const value = rng.int(64);
      b.set(u16(value, true), p);
      return [b, `write u16 ${value} at ${p}`];
    }
  }
}

function envGet(name: string): string | undefined {
  return Deno.permissions.querySync({ name: "env", variable: name }).state === "granted"
    ? Deno.env.get(name)
    : undefined;
}

Deno.test("robustness: seeded mutation fuzz of corpus files and fixtures ends in typed errors only", async () => {
  const seedText = envGet("DCMTIDY_FUZZ_SEED");
  const seed = seedText ? Number(seedText) >>> 0 : DEFAULT_SEED;
  const onlyText = envGet("DCMTIDY_FUZZ_CASE");
  const only = onlyText === undefined ? undefined : Number(onlyText);

  const corpus = await corpusInputs();
  if (!corpus) console.log("fuzz: ../shared/corpus not found, fuzzing the builder fixtures only");
  const inputs = [...(corpus ?? []), ...fixtureInputs()];
  console.log(`fuzz: seed 0x${seed.toString(16)}, ${MUTATIONS} mutations of ${inputs.length} inputs`);

  const readCodes = new Map<string, number>();
  const writeCodes = new Map<string, number>();
  let parsed = 0;
  let compared = 0;
  let runs = 0;
  let slowest = { ms: 0, index: -1 };
  const failures: { index: number; input: string; ops: string[]; problem: string; bytes: Uint8Array }[] = [];
  const started = performance.now();

  for (let index = 0; index < MUTATIONS; index++) {
    if (only !== undefined && index !== only) continue;
    const input = inputs[index % inputs.length];
    // Every case has its own generator, so one case can be replayed on its own.
    const rng = new Rng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
    let bytes: Uint8Array = input.bytes.slice();
    const ops: string[] = [];
    const count = rng.chance(0.3) ? 2 + rng.int(2) : 1;
    for (let k = 0; k < count; k++) {
      let op: string;
      [bytes, op] = mutate(rng, bytes);
      ops.push(op);
    }
    const t0 = performance.now();
    const r = checkCase(bytes, input.name);
    const ms = performance.now() - t0;
    runs++;
    if (ms > slowest.ms) slowest = { ms, index };
    if (r.parsed) parsed++;
    if (r.compared) compared++;
    if (r.readCode) readCodes.set(r.readCode, (readCodes.get(r.readCode) ?? 0) + 1);
    if (r.writeCode) writeCodes.set(r.writeCode, (writeCodes.get(r.writeCode) ?? 0) + 1);
    const problem = r.problem ?? (ms > MAX_CASE_MS ? `case took ${ms.toFixed(0)} ms` : undefined);
    if (problem) failures.push({ index, input: input.name, ops, problem, bytes });
  }

  const fmt = (m: Map<string, number>) =>
    m.size === 0 ? "none" : [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(", ");
  console.log(
    `fuzz: ${runs} mutations, parsed ok ${parsed} (re-encoded and compared ${compared}), ` +
      `typed read errors: ${fmt(readCodes)}; typed write errors: ${fmt(writeCodes)}; ` +
      `failures ${failures.length}; slowest case ${slowest.ms.toFixed(1)} ms (#${slowest.index}); ` +
      `total ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );

  if (failures.length > 0) {
    const dir = await Deno.makeTempDir({ prefix: "dcmtidy_fuzz_failures_" });
    for (const f of failures) await Deno.writeFile(`${dir}/case-${f.index}.dcm`, f.bytes);
    // One example per kind of problem (the first line of the problem, numbers removed), then a count.
    const kinds = new Map<string, typeof failures>();
    for (const f of failures) {
      const key = f.problem.split("\n")[0].replace(/\d+/g, "N").slice(0, 120);
      if (!kinds.has(key)) kinds.set(key, []);
      kinds.get(key)!.push(f);
    }
    const report = [...kinds.values()].map((group) => {
      const f = group[0];
      return `${group.length} case(s) like #${f.index} (cases ${
        group.map((g) => g.index).slice(0, 20).join(",")
      }` +
        `${group.length > 20 ? ",..." : ""}):\n  seed 0x${
          seed.toString(16)
        }, case ${f.index}, input ${f.input}, ` +
        `mutations: ${f.ops.join("; ")}\n  ${
          f.problem.replaceAll("\n", "\n  ")
        }\n  mutated bytes: ${dir}/case-${f.index}.dcm` +
        `\n  replay: DCMTIDY_FUZZ_SEED=0x${
          seed.toString(16)
        } DCMTIDY_FUZZ_CASE=${f.index} deno test -A tests/robustness_test.ts`;
    });
    assert.fail(`fuzz: ${failures.length} of ${runs} cases broke the acceptance:\n${report.join("\n")}`);
  }
  assert.ok(only !== undefined || runs >= 2000);
});
