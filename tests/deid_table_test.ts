/**
 * Table-driven de-identification test: every row of PS3.15 Table E.1-1 (rules/ps3.15.json), under
 * the basic profile and under each of the 10 options alone, checked against what its action code
 * means, on a file that is de-identified, written and read back. Then the same identifying
 * elements at sequence depths 1 to 5 (listed, unlisted and private parent sequences, defined and
 * undefined lengths, explicit and implicit VR) must come out exactly as at the top level.
 *
 * The expected treatment is computed here from the JSON (tests/fixtures/deid_fixtures.ts), not
 * with the engine's own resolution. A compound cell (X/Z, X/D, Z/D, X/Z/D, X/Z/U*) prefers the
 * "conformant" resolution (D, Z, U for UIDs and sequences) but accepts any of its components, since
 * the standard lets the Type of the attribute decide; the other choices are printed. Failures are
 * collected and reported together, one line each (transfer syntax, option set, row, sample tag,
 * expected, got).
 */
import assert from "node:assert/strict";
import { type DeidConfig, deidConfig } from "../src/deid/config.ts";
import { DeidSession } from "../src/deid/session.ts";
import { Keys } from "../src/deid/keys.ts";
import { allRules, OPTION_NAMES, type OptionName } from "../src/standard/ps3_15.ts";
import { formatTag, lookupTag } from "../src/standard/dictionary.ts";
import type { DataSet, DicomFile, Element } from "../src/dicom/model.ts";
import { parseDicom } from "../src/dicom/reader.ts";
import { decodeStrings, valueBytes } from "../src/dicom/values.ts";
import { encodeFile } from "../src/dicom/writer.ts";
import { buildDicom, type TS } from "./fixtures/builder.ts";
import {
  BINARY_SIZE,
  type Code,
  type Container,
  CONTAINERS,
  DEPTH_ISSUER,
  DEPTH_TAGS,
  DEPTH_UID,
  depthDataset,
  harmlessWord,
  INNER_NAME,
  invalidForVR,
  JSON_OPTION_NAMES,
  PATIENT_ID,
  PHI_MARKERS,
  placeRow,
  resolveCompound,
  type Sample,
  TABLE_ROWS,
  tableCode,
  tableDataset,
  type TableRow,
} from "./fixtures/deid_fixtures.ts";

const SALT = new TextEncoder().encode("deid-table-test salt");
const KEYS = new Keys(SALT);

// ---------------------------------------------------------------------------------------------
// Running the engine and reading the result back

interface Run {
  /** The input as parsed (never de-identified): the originals. */
  readonly input: DicomFile;
  /** The written output, parsed back. */
  readonly output: DicomFile;
}

function concat(chunks: readonly unknown[]): Uint8Array {
  const parts = chunks.map((c) => {
    if (!(c instanceof Uint8Array)) throw new Error("encodeFile returned a chunk that is not in memory");
    return c;
  });
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** De-identify `bytes` with a fresh session (same salt), write with a zero preamble, read back. */
function deidRoundTrip(bytes: Uint8Array, config: DeidConfig, session?: DeidSession): Run {
  const input = parseDicom(bytes).file;
  const work = parseDicom(bytes).file;
  (session ?? new DeidSession(config, KEYS)).deidentify(work);
  const written = concat(encodeFile(work, { zeroPreamble: true }));
  assert.deepEqual([...written.subarray(0, 128)], new Array(128).fill(0), "preamble not zeroed");
  const output = parseDicom(written).file;
  return { input, output };
}

function find(ds: DataSet, tag: number): Element | undefined {
  return ds.elements.find((e) => e.tag === tag);
}

function bytesOf(el: Element): Uint8Array {
  return valueBytes(el) ?? new Uint8Array(0);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function show(el: Element | undefined, ds: DataSet): string {
  if (!el) return "absent";
  if (el.items) return `${el.vr} with ${el.items.length} item(s)`;
  const bytes = bytesOf(el);
  if (bytes.length === 0) return `${el.vr} zero length`;
  if (BINARY_SIZE[el.vr]) return `${el.vr} bytes [${[...bytes.subarray(0, 8)].join(",")}]`;
  return `${el.vr} ${JSON.stringify(decodeStrings(el, ds).join("\\"))}`;
}

// ---------------------------------------------------------------------------------------------
// What a row's code means for its sample

/** The treatment a sample must get: a code, or the PatientID pseudonym. */
type Treatment = Code | "pseudonym";

interface RowCtx {
  readonly row: TableRow;
  readonly sample: Sample;
  readonly run: Run;
  /** The date policy of the configuration (undefined: none given). */
  readonly dates: DeidConfig["dates"];
}

const BULK_VRS = new Set(["OB", "OW", "OF", "OD", "OL", "OV", "UN"]);

function isOverlayGroup(tag: number): boolean {
  const g = tag >>> 16;
  return g >= 0x6000 && g <= 0x601e && g % 2 === 0;
}

/**
 * The treatments a row's cell allows for a sample, the preferred one first: the "conformant"
 * resolution of a compound code, then its other components (a compound code such as X/Z lets the
 * de-identifier choose by the attribute's Type, so X is as right as Z for a Type 3 attribute).
 */
function allowedTreatments(row: TableRow, sample: Sample, option: OptionName | undefined): Treatment[] {
  if (sample.tag === 0x00100020) return ["pseudonym"];
  const cell = tableCode(row, option);
  const preferred = resolveCompound(cell, sample.vr);
  // The private row's C (Retain Safe Private) keeps exactly what Table E.3.10-1 lists as safe.
  if (sample.creator && preferred === "C") return [sample.safe ? "K" : "X"];
  // We cannot clean bulk binary values (overlay bits, curves, maker notes): C removes them, and an
  // overlay plane whose Overlay Data goes is removed whole.
  if (preferred === "C" && (BULK_VRS.has(sample.vr) || isOverlayGroup(sample.tag))) return ["X"];
  const others = cell.split("/").map((c) => c.replace("*", "") as Code)
    .filter((c) => c !== preferred && (c !== "U" || sample.vr === "UI" || sample.vr === "SQ"));
  return [preferred, ...others];
}

/** Checks that the one item of a kept sequence sample was walked (its PatientName emptied). */
function checkWalked(after: Element, out: DataSet): string | undefined {
  if (!after.items || after.items.length !== 1) {
    return `want the sequence kept with its item, got ${show(after, out)}`;
  }
  const item = after.items[0].dataset;
  const name = find(item, 0x00100010);
  if (!name || bytesOf(name).length !== 0) {
    return `want the item walked (PatientName ${INNER_NAME} emptied like at the top), got PatientName ${
      show(name, item)
    }`;
  }
  return undefined;
}

function phiIn(values: readonly string[]): string | undefined {
  const text = values.join("\\").toLowerCase();
  return PHI_MARKERS.find((m) => text.includes(m));
}

function invalidValues(el: Element, ds: DataSet): string | undefined {
  if (el.items) return undefined;
  const size = BINARY_SIZE[el.vr];
  if (size !== undefined) {
    const n = bytesOf(el).length;
    return n % size === 0 ? undefined : `${n} bytes is not a whole number of ${el.vr} values`;
  }
  for (const v of decodeStrings(el, ds)) {
    const why = invalidForVR(el.vr, v);
    if (why) return why;
  }
  return undefined;
}

/** Shift a YYYYMMDD date by whole days (UTC). */
function shiftDate(da: string, days: number): string {
  const t = Date.UTC(+da.slice(0, 4), +da.slice(4, 6) - 1, +da.slice(6, 8)) + days * 86_400_000;
  return new Date(t).toISOString().slice(0, 10).replaceAll("-", "");
}

/** Why the sample's result contradicts its treatment, or undefined when it is right. */
function checkSample(ctx: RowCtx, t: Treatment): string | undefined {
  const { sample, run } = ctx;
  const inDs = run.input.dataset;
  const outDs = run.output.dataset;
  const before = find(inDs, sample.tag);
  if (!before) return "fixture problem: the sample is not in the input";
  const after = find(outDs, sample.tag);
  if (t === "X") return after ? `want removed, got ${show(after, outDs)}` : undefined;
  if (!after) return "want present, got removed";
  if (after.vr !== before.vr) return `VR changed from ${before.vr} to ${after.vr}`;
  const orig = bytesOf(before);
  const now = bytesOf(after);
  const isSeq = before.items !== undefined;
  const invalid = now.length > 0 ? invalidValues(after, outDs) : undefined;
  switch (t) {
    case "Z":
      if (isSeq) {
        return (after.items?.length ?? 0) === 0 ? undefined : `want zero length, got ${show(after, outDs)}`;
      }
      return now.length === 0 ? undefined : `want zero length, got ${show(after, outDs)}`;
    case "D": {
      if (isSeq) return checkWalked(after, outDs);
      if (now.length === 0) return "want a non-empty dummy, got zero length";
      if (sameBytes(orig, now)) {
        return `want a dummy different from the original, got it unchanged (${show(after, outDs)})`;
      }
      if (invalid) return `dummy invalid for the VR: ${invalid}`;
      if (!BINARY_SIZE[after.vr] && decodeStrings(after, outDs).every((v) => v === "")) {
        return "want a non-empty dummy, got only padding";
      }
      if (BINARY_SIZE[after.vr] && now.length !== orig.length && ["OB", "OW", "UN"].includes(after.vr)) {
        return `want the same length as the original (${orig.length}), got ${now.length}`;
      }
      return undefined;
    }
    case "K":
      if (isSeq) return checkWalked(after, outDs);
      return sameBytes(orig, now)
        ? undefined
        : `want kept unchanged (${show(before, inDs)}), got ${show(after, outDs)}`;
    case "C": {
      if (isSeq) return checkWalked(after, outDs);
      if (after.vr === "DA" || after.vr === "DT") {
        const policy = ctx.dates;
        if (policy === undefined) {
          // No date policy: the engine cannot shift, so a cleaned date is emptied.
          return now.length === 0
            ? undefined
            : `want zero length (C on a date without a date policy), got ${show(after, outDs)}`;
        }
        if (typeof policy === "object" && "days" in policy.shift) {
          const o = decodeStrings(before, inDs)[0];
          const want = shiftDate(o.slice(0, 8), policy.shift.days) + o.slice(8);
          const got = decodeStrings(after, outDs)[0];
          return got === want
            ? undefined
            : `want ${want} (shifted ${policy.shift.days} days), got ${show(after, outDs)}`;
        }
        return "test problem: unexpected date policy";
      }
      if (BINARY_SIZE[after.vr]) return undefined; // nothing textual to clean: present is all C asks here
      const phi = phiIn(decodeStrings(after, outDs));
      if (phi) return `want cleaned, but "${phi}" is still there: ${show(after, outDs)}`;
      return invalid ? `cleaned value invalid for the VR: ${invalid}` : undefined;
    }
    case "U": {
      if (isSeq) return checkWalked(after, outDs);
      if (after.vr !== "UI") return `test problem: U on a ${after.vr}`;
      const o = decodeStrings(before, inDs);
      const got = decodeStrings(after, outDs);
      const want = o.map((v) => KEYS.uid(v));
      if (got.join("\\") === o.join("\\")) return `want a new UID, got the original ${o.join("\\")}`;
      if (got.some((v) => !v.startsWith("2.25."))) return `want 2.25. UIDs, got ${got.join("\\")}`;
      if (invalid) return `new UID invalid: ${invalid}`;
      if (got.join("\\") !== want.join("\\")) {
        return `want the keyed UID ${want.join("\\")}, got ${got.join("\\")}`;
      }
      return undefined;
    }
    case "pseudonym": {
      const issuer = find(inDs, 0x00100021);
      const want = KEYS.pseudonym(issuer ? decodeStrings(issuer, inDs)[0] : "", PATIENT_ID, "", 8);
      const got = decodeStrings(after, outDs)[0];
      if (got === PATIENT_ID) return "want a pseudonym, got the original PatientID";
      return got === want ? undefined : `want the pseudonym ${want}, got ${show(after, outDs)}`;
    }
  }
}

/** The file meta row (0002,0003): Media Storage SOP Instance UID follows the data set's SOP Instance UID. */
function checkMeta(run: Run, code: Code): string | undefined {
  const meta = run.output.meta;
  if (!meta) return "the output has no file meta group";
  const ms = find(meta, 0x00020003);
  const sop = find(run.output.dataset, 0x00080018);
  const inSop = find(run.input.dataset, 0x00080018);
  const inMs = run.input.meta && find(run.input.meta, 0x00020003);
  if (!ms || !sop || !inSop || !inMs) return "MediaStorageSOPInstanceUID or SOPInstanceUID missing";
  const got = decodeStrings(ms, meta)[0];
  const orig = decodeStrings(inMs, run.input.meta!)[0];
  if (got !== decodeStrings(sop, run.output.dataset)[0]) {
    return `MediaStorageSOPInstanceUID ${got} does not follow SOPInstanceUID ${
      decodeStrings(sop, run.output.dataset)[0]
    }`;
  }
  const want = code === "K" ? orig : code === "U" ? KEYS.uid(orig) : undefined;
  if (want === undefined) return `test problem: code ${code} for the meta row`;
  return got === want ? undefined : `want ${want} (${code}), got ${got}`;
}

// ---------------------------------------------------------------------------------------------
// The table test

interface OptionSet {
  readonly name: string;
  readonly option?: OptionName;
  readonly config: DeidConfig;
}

const OPTION_SETS: readonly OptionSet[] = [
  { name: "basic", config: deidConfig() },
  ...OPTION_NAMES.map((o): OptionSet => ({ name: o, option: o, config: deidConfig({ options: [o] }) })),
];

interface TableOutcome {
  failures: string[];
  counts: Map<string, Record<string, number>>;
  skipped: string[];
  viaMeta: string[];
  /** C on text: how many results kept the harmless word of their value, and which did not. */
  cleanKept: number;
  cleanEmptied: string[];
  /** C on TM: how many came out empty (the cleaner takes HHMMSS for an ID) and how many not. */
  cleanTimes: { emptied: number; kept: number };
  /** Compound cells resolved to a component other than the preferred one (allowed, listed). */
  otherComponent: string[];
}

const TEXT_VRS = new Set(["SH", "LO", "ST", "LT", "UT", "UC"]);

function rowName(row: TableRow): string {
  return `${row.tag}${row.keyword ? ` ${row.keyword}` : ""}`;
}

function runTable(ts: TS, sets: readonly OptionSet[]): TableOutcome {
  const { nodes } = tableDataset();
  const bytes = buildDicom(nodes, { ts });
  const outcome: TableOutcome = {
    failures: [],
    counts: new Map(),
    skipped: [],
    viaMeta: [],
    cleanKept: 0,
    cleanEmptied: [],
    cleanTimes: { emptied: 0, kept: 0 },
    otherComponent: [],
  };
  for (const set of sets) {
    const run = deidRoundTrip(bytes, set.config);
    const counts: Record<string, number> = {};
    outcome.counts.set(set.name, counts);
    const bump = (label: string) => (counts[label] = (counts[label] ?? 0) + 1);
    for (const row of TABLE_ROWS) {
      const placement = placeRow(row);
      const where = `${ts} ${set.name} ${rowName(row)}`;
      if (placement.kind === "skip") {
        bump("skipped");
        if (set === sets[0]) outcome.skipped.push(`${rowName(row)}: ${placement.reason}`);
        continue;
      }
      if (placement.kind === "meta") {
        const code = resolveCompound(tableCode(row, set.option), "UI");
        bump(code);
        if (set === sets[0]) outcome.viaMeta.push(rowName(row));
        const why = checkMeta(run, code);
        if (why) outcome.failures.push(`${where} [${code}, file meta]: ${why}`);
        continue;
      }
      // A row counts once, by the treatment of its first sample; every sample is checked.
      placement.samples.forEach((sample, i) => {
        const cell = tableCode(row, set.option);
        const [preferred, ...others] = allowedTreatments(row, sample, set.option);
        const ctx: RowCtx = { row, sample, run, dates: set.config.dates };
        const why = checkSample(ctx, preferred);
        // Another component of a compound code is accepted, and listed.
        const taken = why === undefined ? preferred : others.find((o) => checkSample(ctx, o) === undefined);
        const t = taken ?? preferred;
        if (i === 0) bump(t);
        const fail = (msg: string) =>
          outcome.failures.push(
            `${where} sample ${formatTag(sample.tag)} ${sample.vr} [table ${cell} -> ${preferred}]: ${msg}`,
          );
        if (taken === undefined) fail(why!);
        else if (taken !== preferred) {
          outcome.otherComponent.push(`${set.name} ${rowName(row)} ${cell} -> ${taken}`);
        }
        if (sample.creator) {
          // The creator goes with the last element of its block, and stays while one is kept.
          const creator = find(run.output.dataset, sample.creator.tag);
          if (!creator !== (t === "X")) {
            fail(`private creator ${formatTag(sample.creator.tag)} ${creator ? "kept" : "removed"}`);
          }
        }
        const after = find(run.output.dataset, sample.tag);
        if (t === "C" && after && TEXT_VRS.has(sample.vr)) {
          // Informational: C may replace a value with anything harmless, emptying included.
          if (decodeStrings(after, run.output.dataset).join(" ").includes(harmlessWord(row.index))) {
            outcome.cleanKept++;
          } else {
            outcome.cleanEmptied.push(`${set.name} ${rowName(row)}`);
          }
        }
        if (t === "C" && after && sample.vr === "TM") {
          if (bytesOf(after).length === 0) outcome.cleanTimes.emptied++;
          else outcome.cleanTimes.kept++;
        }
      });
    }
  }
  return outcome;
}

const LABELS = ["X", "Z", "D", "K", "C", "U", "pseudonym", "skipped"];

function countLine(c: Record<string, number>): string {
  return LABELS.filter((l) => c[l]).map((l) => `${l} ${c[l]}`).join(", ");
}

Deno.test("table: the rules/ps3.15.json rows are the 657 rows of Table E.1-1 and the option columns are the 10", () => {
  assert.equal(TABLE_ROWS.length, 657);
  assert.equal(allRules().length, TABLE_ROWS.length);
  assert.deepEqual([...JSON_OPTION_NAMES], [...OPTION_NAMES]);
  assert.equal(OPTION_SETS.length, 11);
});

Deno.test("table: every row under the basic profile and each option, checked against its code", async (t) => {
  for (const ts of ["explicit-le", "implicit-le"] as const) {
    await t.step(ts, () => {
      const out = runTable(ts, OPTION_SETS);
      const total: Record<string, number> = {};
      for (const c of out.counts.values()) {
        for (const [k, v] of Object.entries(c)) total[k] = (total[k] ?? 0) + v;
      }
      const lines = [
        `deid table (${ts}): ${TABLE_ROWS.length} rows x ${OPTION_SETS.length} option sets: ${
          countLine(total)
        }` +
        `; ${out.failures.length} failure(s)`,
        ...[...out.counts].map(([name, c]) => `  ${name}: ${countLine(c)}`),
        `  skipped rows (${out.skipped.length}, each under every option set): ${out.skipped.join("; ")}`,
        `  checked through the rebuilt file meta: ${out.viaMeta.join("; ")}`,
        `  C on text kept the harmless part in ${out.cleanKept}, emptied it in ${out.cleanEmptied.length}` +
        (out.cleanEmptied.length ? ` (${out.cleanEmptied.join("; ")})` : ""),
        `  C on TM: ${out.cleanTimes.emptied} emptied, ${out.cleanTimes.kept} kept a value`,
        `  compound cells resolved to another allowed component (${out.otherComponent.length}): ` +
        (out.otherComponent.join("; ") || "none"),
      ];
      console.log(lines.join("\n"));
      const checked = Object.entries(total).filter(([k]) => k !== "skipped").reduce((n, [, v]) => n + v, 0);
      assert.equal(checked + (total.skipped ?? 0), TABLE_ROWS.length * OPTION_SETS.length);
      assert.deepEqual(
        out.failures,
        [],
        `${out.failures.length} row checks failed:\n${out.failures.join("\n")}`,
      );
    });
  }
});

Deno.test("table: retain-longitudinal-modified-dates with a date shift policy", () => {
  const set: OptionSet = {
    name: "retain-longitudinal-modified-dates + dates: shift -10 days",
    option: "retain-longitudinal-modified-dates",
    config: deidConfig({ options: ["retain-longitudinal-modified-dates"], dates: { shift: { days: -10 } } }),
  };
  const out = runTable("explicit-le", [set]);
  console.log(
    `deid table (${set.name}): ${countLine(out.counts.get(set.name)!)}; ${out.failures.length} failure(s)`,
  );
  assert.deepEqual(out.failures, [], `${out.failures.length} row checks failed:\n${out.failures.join("\n")}`);
});

Deno.test("table: U gives the same new UID for the same input UID across elements, files and sessions with one salt", () => {
  const study = "1.2.826.0.1.3680043.10.1000.88.1";
  const sop = "1.2.826.0.1.3680043.10.1000.88.2";
  const file = (instance: string) =>
    buildDicom([
      { tag: 0x00080016, vr: "UI", value: "1.2.840.10008.5.1.4.1.1.7" },
      { tag: 0x00080018, vr: "UI", value: instance },
      { tag: 0x00081115, vr: "SQ", items: [[{ tag: 0x0020000e, vr: "UI", value: study }]] }, // a series UID equal to the study UID
      { tag: 0x00081199, vr: "SQ", items: [[{ tag: 0x00081155, vr: "UI", value: sop }]] },
      { tag: 0x00100020, vr: "LO", value: "PID-U" },
      { tag: 0x0020000d, vr: "UI", value: study },
    ]);
  const value = (ds: DataSet, ...path: number[]): string => {
    let d = ds;
    for (const tag of path.slice(0, -1)) d = find(d, tag)!.items![0].dataset;
    return decodeStrings(find(d, path.at(-1)!)!, d)[0];
  };
  const shared = new DeidSession(deidConfig(), KEYS);
  const a = deidRoundTrip(file(sop), deidConfig(), shared).output.dataset;
  const b = deidRoundTrip(file("1.2.826.0.1.3680043.10.1000.88.3"), deidConfig(), shared).output.dataset;
  const c = deidRoundTrip(file("1.2.826.0.1.3680043.10.1000.88.3"), deidConfig()).output.dataset; // new session
  const other = new DeidSession(deidConfig(), new Keys(new TextEncoder().encode("another salt")));
  const d = deidRoundTrip(file(sop), deidConfig(), other).output.dataset;

  const newStudy = value(a, 0x0020000d);
  assert.match(newStudy, /^2\.25\.\d+$/);
  assert.notEqual(newStudy, study);
  assert.equal(value(a, 0x00081115, 0x0020000e), newStudy, "same UID in two elements");
  assert.equal(value(a, 0x00081199, 0x00081155), value(a, 0x00080018), "reference follows the instance");
  assert.equal(value(b, 0x0020000d), newStudy, "same UID in two files");
  assert.equal(value(c, 0x0020000d), newStudy, "same UID with a new session and the same salt");
  assert.equal(value(c, 0x00080018), value(b, 0x00080018));
  assert.notEqual(value(b, 0x00080018), value(a, 0x00080018), "different inputs, different UIDs");
  assert.notEqual(value(d, 0x0020000d), newStudy, "another salt gives another UID");
});

// ---------------------------------------------------------------------------------------------
// Depth: the same elements at depths 1..5 are treated exactly as at the top level

interface DepthConfig {
  readonly name: string;
  readonly config: DeidConfig;
}

const DEPTH_CONFIGS: readonly DepthConfig[] = [
  { name: "basic", config: deidConfig() },
  { name: "retain-safe-private", config: deidConfig({ options: ["retain-safe-private"] }) },
  { name: "privateTags keep", config: deidConfig({ privateTags: "keep" }) },
  { name: "privateTags keep-safe", config: deidConfig({ privateTags: "keep-safe" }) },
  { name: "retain-uids", config: deidConfig({ options: ["retain-uids"] }) },
  { name: "clean-structured-content", config: deidConfig({ options: ["clean-structured-content"] }) },
];

const MAX_DEPTH = 5;

function describeEl(el: Element | undefined, ds: DataSet): string {
  return show(el, ds);
}

/** Whether the container sequence itself survives at the top level under a configuration. */
function containerKept(c: Container, cfg: DeidConfig): boolean {
  return c.kind !== "private" || cfg.privateTags === "keep";
}

function checkDepth(c: Container, cfg: DepthConfig, ts: TS, undefinedLength: boolean): string[] {
  const failures: string[] = [];
  const where = `${ts} ${cfg.name} ${c.kind} ${undefinedLength ? "undefined" : "defined"} length`;
  const bytes = buildDicom(depthDataset(c, MAX_DEPTH, undefinedLength), { ts });
  const { output } = deidRoundTrip(bytes, cfg.config);
  const top = output.dataset;

  // Sanity of the top level itself (the table test covers it in full).
  const uid = find(top, 0x00081155);
  const wantUid = cfg.config.options.includes("retain-uids") ? DEPTH_UID : KEYS.uid(DEPTH_UID);
  if (!uid || decodeStrings(uid, top)[0] !== wantUid) {
    failures.push(`${where} depth 0 ReferencedSOPInstanceUID: want ${wantUid}, got ${describeEl(uid, top)}`);
  }
  const name = find(top, 0x00100010);
  if (!name || bytesOf(name).length !== 0) failures.push(`${where} depth 0 PatientName: want zero length`);
  const pid = find(top, 0x00100020);
  const wantPid = KEYS.pseudonym(DEPTH_ISSUER, "PID-CANARY", "", 8);
  if (!pid || decodeStrings(pid, top)[0] !== wantPid) {
    failures.push(`${where} depth 0 PatientID: want ${wantPid}, got ${describeEl(pid, top)}`);
  }

  let ds = top;
  for (let depth = 1; depth <= MAX_DEPTH; depth++) {
    const seq = find(ds, c.tag);
    if (!containerKept(c, cfg.config)) {
      if (seq) failures.push(`${where}: the ${c.note} was kept, want it removed with its creator unknown`);
      return failures;
    }
    if (!seq?.items || seq.items.length !== 1) {
      failures.push(`${where} depth ${depth}: want the ${c.note} with 1 item, got ${describeEl(seq, ds)}`);
      return failures;
    }
    const item = seq.items[0].dataset;
    for (const tag of DEPTH_TAGS) {
      const want = find(top, tag);
      const got = find(item, tag);
      const label = `${where} depth ${depth} ${formatTag(tag)} ${
        lookupTag(tag)?.keyword ?? "private/unknown"
      }`;
      if (!want !== !got) {
        failures.push(`${label}: top level ${describeEl(want, top)}, here ${describeEl(got, item)}`);
      } else if (want && got && (want.vr !== got.vr || !sameBytes(bytesOf(want), bytesOf(got)))) {
        failures.push(`${label}: top level ${describeEl(want, top)}, here ${describeEl(got, item)}`);
      }
    }
    ds = item;
  }
  if (find(ds, c.tag)) failures.push(`${where}: a sequence below depth ${MAX_DEPTH}?`);
  return failures;
}

Deno.test("depth: PHI at depths 1..5 in listed, unlisted and private sequences is treated as at the top level", async (t) => {
  let compared = 0;
  const all: string[] = [];
  for (const cfg of DEPTH_CONFIGS) {
    await t.step(cfg.name, () => {
      const failures: string[] = [];
      for (const ts of ["explicit-le", "implicit-le"] as const) {
        for (const c of CONTAINERS) {
          for (const undefinedLength of [false, true]) {
            failures.push(...checkDepth(c, cfg, ts, undefinedLength));
            if (containerKept(c, cfg.config)) compared += MAX_DEPTH * DEPTH_TAGS.length;
          }
        }
      }
      all.push(...failures);
      assert.deepEqual(failures, [], `${failures.length} depth checks failed:\n${failures.join("\n")}`);
    });
  }
  console.log(
    `deid depth: ${DEPTH_CONFIGS.length} configurations x ${CONTAINERS.length} parent sequences x 2 lengths x ` +
      `2 transfer syntaxes, depths 1..${MAX_DEPTH}: ${compared} element comparisons, ${all.length} failure(s)`,
  );
});
