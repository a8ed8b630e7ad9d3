import assert from "node:assert/strict";
import {
  DICTIONARY_EDITION,
  formatTag,
  lookupKeyword,
  lookupTag,
  parseTag,
  suggestKeywords,
  tagForKeyword,
  vrOf,
} from "../src/standard/dictionary.ts";
import {
  buildDictionaryData,
  type DictionaryData,
  INPUT_URL,
  OUTPUT_URL,
  serializeTags,
  TAGS_URL,
} from "../scripts/gen_dictionary.ts";
import { tags } from "../src/standard/tags.ts";

// No @std/assert (JSR is unreachable), so a few named helpers over node:assert keep tests readable.
const equal = <T>(actual: T, expected: T, message?: string) =>
  assert.deepStrictEqual(actual, expected, message);
const isUndefined = (actual: unknown, message?: string) => assert.equal(actual, undefined, message);

Deno.test("edition is recorded", () => {
  equal(DICTIONARY_EDITION, "PS3.6 2026c + 2026d addition (3004,007F)");
});

Deno.test("lookupTag finds exact entries", () => {
  equal(lookupTag(0x00100010), {
    tag: "(0010,0010)",
    keyword: "PatientName",
    name: "Patient's Name",
    vrs: ["PN"],
    vm: "1",
    retired: false,
  });
  equal(lookupTag(0x30040007f)?.keyword, undefined, "out-of-range numbers are not tags");
  equal(lookupTag(0x3004007f)?.keyword, "DoseCalculationModelName", "the 2026d addition is present");
  equal(lookupTag(0x00100020)?.keyword, "PatientID");
  // (FFFE,E000) as the negative int32 that `0xfffe << 16` produces.
  equal(lookupTag((0xfffe << 16) | 0xe000)?.keyword, "Item");
});

Deno.test("lookupTag: 60xx/50xx repeating groups only match even groups 00-1E", () => {
  equal(lookupTag(0x60003000)?.tag, "(60xx,3000)");
  equal(lookupTag(0x60023000)?.keyword, "OverlayData");
  equal(lookupTag(0x601e3000)?.keyword, "OverlayData");
  isUndefined(lookupTag(0x60013000), "odd group is private");
  isUndefined(lookupTag(0x60203000), "beyond 601E");
  equal(lookupTag(0x50043000)?.keyword, "CurveData");
  isUndefined(lookupTag(0x50203000));
});

Deno.test("lookupTag: exact entries win over patterns", () => {
  equal(lookupTag(0x7f000010)?.keyword, "VariablePixelData");
  equal(lookupTag(0x7fe00010)?.keyword, "PixelData");
  // PS3.6 lists (0028,0400) Transform Label exactly and also (0028,04x0) Rows For Nth Order
  // Coefficients, so only the other x values reach the pattern.
  equal(lookupTag(0x00280400)?.keyword, "TransformLabel");
  equal(lookupTag(0x00280410)?.tag, "(0028,04x0)");
  equal(lookupTag(0x002804f0)?.keyword, "RowsForNthOrderCoefficients");
  equal(lookupTag(0x00280411)?.keyword, "ColumnsForNthOrderCoefficients");
  equal(lookupTag(0x10000010)?.keyword, "EscapeTriplet");
  equal(lookupTag(0x10100004)?.keyword, "ZonalMap");
  equal(lookupTag(0x00203105)?.keyword, "SourceImageIDs");
});

Deno.test("lookupTag: group length and unknown tags", () => {
  const gl = lookupTag(0x00080000);
  equal(gl?.keyword, "GenericGroupLength");
  equal(gl?.tag, "(0008,0000)");
  equal(gl?.vrs, ["UL"]);
  equal(vrOf(0x00080000), "UL");
  equal(lookupTag(0x00020000)?.keyword, "FileMetaInformationGroupLength");
  equal(lookupTag(0x10000000)?.keyword, "GenericGroupLength", "group length beats (1000,xxx0)");
  isUndefined(lookupTag(0x00090000), "odd group length is private");
  isUndefined(lookupTag(0x00091010), "private element");
  isUndefined(lookupTag(0x00090010), "private creator");
  isUndefined(lookupTag(0x00100001), "unassigned standard element");
  isUndefined(lookupTag(1.5));
  isUndefined(lookupTag(Number.NaN));
});

Deno.test("lookupKeyword and tagForKeyword", () => {
  equal(lookupKeyword("PatientName")?.tag, "(0010,0010)");
  isUndefined(lookupKeyword("patientname"), "case-sensitive");
  isUndefined(lookupKeyword("GenericGroupLength"));
  isUndefined(lookupKeyword(""));
  equal(tagForKeyword("PatientName"), 0x00100010);
  equal(tagForKeyword("OverlayData"), 0x60003000);
  equal(tagForKeyword("VariablePixelData"), 0x7f000010);
  isUndefined(tagForKeyword("NoSuchKeyword"));
});

Deno.test("every keyword round-trips through its tag, except the documented pattern collisions", () => {
  const collisions = new Set([
    "RowsForNthOrderCoefficients",
    "ColumnsForNthOrderCoefficients",
    "CoefficientCoding",
    "CoefficientCodingPointers",
    "EscapeTriplet",
    "ZonalMap",
  ]);
  const data = JSON.parse(Deno.readTextFileSync(OUTPUT_URL)) as { entries: [string, string][] };
  assert.ok(data.entries.length > 5000);
  for (const [tag, keyword] of data.entries) {
    const entry = lookupKeyword(keyword);
    equal(entry?.tag, tag);
    const number = tagForKeyword(keyword);
    assert.ok(number !== undefined, keyword);
    if (!collisions.has(keyword)) equal(lookupTag(number)?.keyword, keyword, `${keyword} ${tag}`);
  }
});

Deno.test("vrOf", () => {
  equal(vrOf(0x00100010), "PN");
  equal(vrOf(0x7fe00010), "OW", "Pixel Data OB or OW");
  equal(vrOf(0x60023000), "OW", "Overlay Data OB or OW");
  equal(vrOf(0x00280106), "US", "US or SS");
  equal(vrOf(0xfffee000), "");
  equal(vrOf(0xfffee00d), "");
  equal(vrOf(0xfffee0dd), "");
  equal(vrOf(0x00091010), "UN");
  equal(vrOf(0x00100001), "UN");
});

Deno.test("suggestKeywords", () => {
  equal(suggestKeywords("PatientNmae")[0], "PatientName");
  equal(suggestKeywords("patientname"), ["PatientName"]);
  assert.ok(suggestKeywords("StudyDat").includes("StudyDate"));
  equal(suggestKeywords("RescaleIntercpet")[0], "RescaleIntercept");
  equal(suggestKeywords("Patient", 3).length, 3);
  equal(suggestKeywords("Patient").every((k) => k.startsWith("Patient")), true);
  equal(suggestKeywords("Zzqxwv"), []);
  equal(suggestKeywords(""), []);
  equal(suggestKeywords("PatientNmae", 0), []);
});

Deno.test("formatTag and parseTag round-trip", () => {
  equal(formatTag(0x00100010), "(0010,0010)");
  equal(formatTag(0x7fe00010), "(7FE0,0010)");
  equal(formatTag((0xfffe << 16) | 0xe0dd), "(FFFE,E0DD)");
  assert.throws(() => formatTag(-0x80000001), RangeError);
  assert.throws(() => formatTag(0.5), RangeError);
  for (const tag of [0, 0x00100010, 0x0008103e, 0x7fe00010, 0xfffee000, 0xffffffff]) {
    equal(parseTag(formatTag(tag)), tag);
  }
  for (const text of ["(0010,0010)", "0010,0010", "00100010", "(0010-0010)", " (0010, 0010) ", "0010-0010"]) {
    equal(parseTag(text), 0x00100010, text);
  }
  equal(parseTag("(7fe0,0010)"), 0x7fe00010);
});

Deno.test("parseTag rejects garbage", () => {
  const bad = [
    "",
    "PatientName",
    "(0010,0010",
    "0010,0010)",
    "(0010,0010))",
    "0010,001",
    "001000100",
    "0x00100010",
    "(60xx,3000)",
    "(0010;0010)",
    "0010 0010",
    "(G010,0010)",
  ];
  for (const text of bad) isUndefined(parseTag(text), JSON.stringify(text));
});

Deno.test("dictionary_data.json is up to date with ../shared/standard", async () => {
  let text: string;
  try {
    text = await Deno.readTextFile(INPUT_URL);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    console.log("dictionary staleness check skipped: ../shared/standard not found");
    return;
  }
  const raw: unknown = JSON.parse(text);
  assert.ok(Array.isArray(raw));
  const committed: unknown = JSON.parse(await Deno.readTextFile(OUTPUT_URL));
  equal(buildDictionaryData(raw), committed, "run `deno task gen`");
});

Deno.test("standard/tags.ts is generated from the committed dictionary, and agrees with lookupKeyword", async () => {
  const committed = JSON.parse(await Deno.readTextFile(OUTPUT_URL)) as DictionaryData;
  assert.equal(await Deno.readTextFile(TAGS_URL), serializeTags(committed), "run `deno task gen`");
  equal(tags.PatientID, 0x00100020);
  for (const [keyword, tag] of Object.entries(tags)) equal(tagForKeyword(keyword), tag, keyword);
});
