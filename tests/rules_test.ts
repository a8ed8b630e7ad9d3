/**
 * Tests for the de-identification rules (`src/standard/ps3_15.ts`) and their generator
 * (`scripts/gen_rules.ts`): counts against the standard's published totals, lookups, Option
 * precedence, safe private matching, and a staleness check against ../shared/standard.
 */
import assert from "node:assert/strict";
import {
  actionCodes,
  addedAttributes,
  allCid7050Codes,
  allRules,
  allSafePrivateRules,
  cid7050,
  effectiveAction,
  isSafePrivate,
  OPTION_NAMES,
  type OptionName,
  privateRule,
  ruleForTag,
  RULES_EDITION,
} from "../src/standard/ps3_15.ts";
import {
  buildRules,
  OUTPUT_URL,
  readInputs,
  type RulesInputs,
  serializeRules,
} from "../scripts/gen_rules.ts";
import { lookupKeyword, tagForKeyword } from "../src/standard/dictionary.ts";
import { tag } from "../src/dicom/model.ts";

const equal = <T>(actual: T, expected: T, message?: string) =>
  assert.deepStrictEqual(actual, expected, message);

/** The row with this keyword, found through `ruleForTag` so the lookup itself is exercised. */
function ruleFor(keyword: string) {
  const t = tagForKeyword(keyword);
  assert.ok(t !== undefined, `${keyword} is not a PS3.6 keyword`);
  const rule = ruleForTag(t);
  assert.ok(rule, `no rule for ${keyword}`);
  equal(rule.keyword, keyword);
  return rule;
}

Deno.test("edition is recorded", () => {
  equal(RULES_EDITION, "PS3.15 2026d (Table E.1-1), 2026c (E.3.10-1, E.1-1a); PS3.16 2026d (CID 7050)");
});

Deno.test("Table E.1-1 row counts match the published totals", () => {
  const rules = allRules();
  equal(rules.length, 657);
  const byBasic: Record<string, number> = {};
  for (const r of rules) byBasic[r.basic] = (byBasic[r.basic] ?? 0) + 1;
  equal(byBasic, { X: 417, D: 93, U: 55, Z: 42, "X/D": 23, "X/Z": 11, "X/Z/D": 8, "Z/D": 6, "X/Z/U*": 2 });
  equal(new Set(rules.map((r) => r.tag)).size, 657, "tags are unique");
  equal(rules.filter((r) => r.keyword === null).map((r) => r.tag), ["(50xx,xxxx)", "private"]);
});

Deno.test("Option columns: names, order and cell counts", () => {
  equal(OPTION_NAMES.length, 10);
  const counts: Record<string, Record<string, number>> = {};
  for (const r of allRules()) {
    for (const [name, code] of Object.entries(r.options)) {
      assert.ok((OPTION_NAMES as readonly string[]).includes(name), name);
      counts[name] ??= {};
      counts[name][code] = (counts[name][code] ?? 0) + 1;
    }
  }
  equal(counts, {
    "retain-safe-private": { C: 1 },
    "retain-uids": { K: 60 },
    "retain-device-identity": { K: 48, C: 11 },
    "retain-institution-identity": { K: 10 },
    "retain-patient-characteristics": { K: 14, C: 5 },
    "retain-longitudinal-full-dates": { K: 169 },
    "retain-longitudinal-modified-dates": { C: 169 },
    "clean-descriptors": { C: 141 },
    "clean-structured-content": { C: 4 },
    "clean-graphics": { C: 4 },
  });
});

Deno.test("every E.1-1 keyword is a PS3.6 keyword with the same tag (command group aside)", () => {
  for (const r of allRules()) {
    if (r.keyword === null || r.tag.startsWith("(0000,")) continue;
    equal(lookupKeyword(r.keyword)?.tag, r.tag, r.keyword);
  }
});

Deno.test("exact lookups", () => {
  const name = ruleFor("PatientName");
  equal(name.tag, "(0010,0010)");
  equal(name.basic, "Z");
  equal(name.options, {});
  equal(ruleFor("PatientID").basic, "Z/D");
  equal(ruleFor("SOPInstanceUID").basic, "U");
  equal(ruleFor("ReferencedImageSequence").basic, "X/Z/U*");
  // PS3.7 command elements are in the table although PS3.6 does not list them.
  equal(ruleForTag(tag(0x0000, 0x1000))?.keyword, "AffectedSOPInstanceUID");
  // The negative int32 form that `group << 16` gives for groups >= 0x8000 is accepted.
  equal(ruleForTag(tag(0x0010, 0x0010) | 0), name);
  equal(ruleForTag(tag(0x0028, 0x0010)), undefined, "Rows is not in the table");
  equal(ruleForTag(1.5), undefined);
  equal(ruleForTag(-0x80000001), undefined);
});

Deno.test("repeating-group lookups: overlays and curves, even groups up to xx = 1E", () => {
  const overlayData = ruleForTag(tag(0x6002, 0x3000));
  equal(overlayData?.tag, "(60xx,3000)");
  equal(overlayData?.keyword, "OverlayData");
  equal(ruleForTag(tag(0x6000, 0x3000)), overlayData);
  equal(ruleForTag(tag(0x601e, 0x3000)), overlayData);
  equal(ruleForTag(tag(0x601e, 0x4000))?.tag, "(60xx,4000)");
  equal(ruleForTag(tag(0x6001, 0x3000)), undefined, "odd group: private");
  equal(ruleForTag(tag(0x6020, 0x3000)), undefined, "beyond 601E");
  equal(ruleForTag(tag(0x6000, 0x0010)), undefined, "Overlay Rows is not in the table");
  const curve = ruleForTag(tag(0x5010, 0x0005));
  equal(curve?.tag, "(50xx,xxxx)");
  equal(curve?.name, "Curve Data");
  equal(ruleForTag(tag(0x5000, 0x3000)), curve);
  equal(ruleForTag(tag(0x5011, 0x0005)), undefined, "odd group: private");
  equal(ruleForTag(tag(0x5020, 0x0005)), undefined, "beyond 501E");
});

Deno.test("private attributes: only through privateRule()", () => {
  const p = privateRule();
  equal(p.tag, "private");
  equal(p.name, "Private Attributes");
  equal(p.basic, "X");
  equal(p.options, { "retain-safe-private": "C" });
  equal(ruleForTag(tag(0x0019, 0x1023)), undefined);
  equal(ruleForTag(tag(0x0009, 0x0010)), undefined);
  assert.ok(allRules().includes(p));
});

Deno.test("effectiveAction: Option cells override basic", () => {
  const sop = ruleFor("SOPInstanceUID");
  equal(sop.options["retain-uids"], "K");
  equal(effectiveAction(sop, []), "U");
  equal(effectiveAction(sop, ["retain-uids"]), "K");
  equal(effectiveAction(sop, ["clean-descriptors"]), "U", "an Option without a cell leaves basic");

  const studyDate = ruleFor("StudyDate");
  equal(effectiveAction(studyDate, []), "Z");
  equal(effectiveAction(studyDate, ["retain-longitudinal-full-dates"]), "K");
  equal(effectiveAction(studyDate, ["retain-longitudinal-modified-dates"]), "C");

  equal(effectiveAction(privateRule(), ["retain-safe-private"]), "C");
  equal(effectiveAction(ruleForTag(tag(0x6000, 0x3000))!, ["clean-graphics"]), "C");
});

Deno.test("effectiveAction: several Options with a cell, the most retaining wins, in any order", () => {
  const studyDate = ruleFor("StudyDate");
  const both: OptionName[] = ["retain-longitudinal-modified-dates", "retain-longitudinal-full-dates"];
  equal(effectiveAction(studyDate, both), "K");
  equal(effectiveAction(studyDate, [...both].reverse()), "K");
  const calibration = ruleFor("DateOfLastCalibration");
  equal(calibration.options["retain-device-identity"], "K");
  equal(effectiveAction(calibration, ["retain-longitudinal-modified-dates"]), "C");
  equal(effectiveAction(calibration, ["retain-longitudinal-modified-dates", "retain-device-identity"]), "K");
  equal(effectiveAction(calibration, OPTION_NAMES), "K");
});

Deno.test("rules are frozen", () => {
  const r = ruleFor("PatientName");
  assert.ok(Object.isFrozen(r) && Object.isFrozen(r.options) && Object.isFrozen(allRules()));
  assert.ok(Object.isFrozen(cid7050("basic")));
});

Deno.test("Table E.3.10-1: counts", () => {
  const rows = allSafePrivateRules();
  equal(rows.length, 479);
  equal(new Set(rows.map((r) => r.creator)).size, 20);
  equal(rows.filter((r) => r.vr === null).length, 5);
  for (const r of rows) {
    assert.ok(r.group & 1, r.tag);
    assert.ok(r.element >= 0 && r.element <= 0xff, r.tag);
    equal(r.tag.slice(1, 5), r.group.toString(16).toUpperCase().padStart(4, "0"));
    equal(r.tag.slice(8, 10), r.element.toString(16).toUpperCase().padStart(2, "0"));
  }
});

Deno.test("isSafePrivate matches creator, group and low byte", () => {
  const row = isSafePrivate(0x0019, 0x23, "GEMS_ACQU_01");
  assert.ok(row);
  equal(row, {
    tag: "(0019,xx23)",
    group: 0x19,
    element: 0x23,
    creator: "GEMS_ACQU_01",
    vr: "DS",
    vm: "1",
    meaning: "Table Speed [mm/rotation]",
  });
  equal(isSafePrivate(0x0019, 0x23, " GEMS_ACQU_01 "), row, "padding spaces are trimmed");
  equal(isSafePrivate(0x0019, 0x23, "GEMS_ACQU_01\0"), row, "NUL padding is trimmed");
  equal(isSafePrivate(0x0019, 0x23, "gems_acqu_01"), undefined, "creators are case-sensitive");
  equal(isSafePrivate(0x0019, 0x23, "GEMS_ACQU_02"), undefined);
  equal(isSafePrivate(0x0021, 0x23, "GEMS_ACQU_01"), undefined, "other group");
  equal(isSafePrivate(0x0019, 0x1023, "GEMS_ACQU_01"), undefined, "not a low byte");
  // The standard prints this one in lower case, (2001,xx0a); the rules store and match it by number.
  equal(isSafePrivate(0x2001, 0x0a, "Philips Imaging DD 001")?.tag, "(2001,xx0A)");
  // Every row is found by its own key.
  for (const r of allSafePrivateRules()) equal(isSafePrivate(r.group, r.element, r.creator), r);
});

Deno.test("CID 7050 codes", () => {
  const all = allCid7050Codes();
  equal(all.length, 13);
  equal(all.map((c) => c.codeValue), Array.from({ length: 13 }, (_, i) => String(113100 + i)));
  assert.ok(all.every((c) => c.codingSchemeDesignator === "DCM"));
  equal(cid7050("basic"), {
    codeValue: "113100",
    codingSchemeDesignator: "DCM",
    codeMeaning: "Basic Application Confidentiality Profile",
  });
  equal(cid7050("retain-safe-private").codeValue, "113111");
  equal(cid7050("retain-institution-identity").codeValue, "113112");
  equal(cid7050("clean-graphics").codeValue, "113103");
  equal(new Set(OPTION_NAMES.map((o) => cid7050(o).codeValue)).size, 10);
  assert.throws(() => cid7050("clean-pixel-data" as OptionName), RangeError);
});

Deno.test("action codes and added attributes", () => {
  equal(actionCodes().map((a) => a.code), [
    "D",
    "Z",
    "X",
    "K",
    "C",
    "U",
    "Z/D",
    "X/Z",
    "X/D",
    "X/Z/D",
    "X/Z/U*",
  ]);
  const added = addedAttributes();
  equal(added.length, 8);
  assert.ok(added.some((a) => a.keyword === "PatientIdentityRemoved" && a.value === "YES"));
});

Deno.test("generator rejects malformed input", async () => {
  let inputs: RulesInputs;
  try {
    inputs = await readInputs();
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    return; // Reported once by the staleness test below.
  }
  const table = inputs.tableE11 as Record<string, unknown>[];
  const withRow = (row: Record<string, unknown>) => ({ ...inputs, tableE11: [...table, row] });
  assert.throws(() => buildRules(withRow({ ...table[0], tag: "(0010,0010)" })), /duplicate tag/);
  assert.throws(
    () => buildRules(withRow({ ...table[0], tag: "(0011,0010)", keyword: "X1", basic: "Q" })),
    /unknown basic/,
  );
  assert.throws(
    () => buildRules(withRow({ ...table[0], tag: "(0011,0010)", keyword: "X1", cleanGraphics: "KK" })),
    /unknown cleanGraphics/,
  );
  assert.throws(() => buildRules({ ...inputs, safePrivate: {} }), /not a JSON array/);
});

Deno.test("rules/ps3.15.json is up to date with ../shared/standard", async () => {
  let inputs: RulesInputs;
  try {
    inputs = await readInputs();
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    console.log("rules staleness check skipped: ../shared/standard not found");
    return;
  }
  const committedText = await Deno.readTextFile(OUTPUT_URL);
  const built = buildRules(inputs);
  const hint = "run `deno run --allow-read --allow-write scripts/gen_rules.ts`";
  equal(built, JSON.parse(committedText), hint);
  // Byte-for-byte too, so the one-object-per-line layout cannot drift either.
  equal(serializeRules(built), committedText, hint);
});
