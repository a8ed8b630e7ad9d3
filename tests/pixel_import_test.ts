/**
 * `dcmtidy init --pixels-from`: CTP pixel scripts and deid recipes become `deidentify.pixels` rules;
 * what cannot be said exactly is commented out with the reason. The snippets are written here (no
 * third-party rule file is shipped); the YAML is parsed back and its structure checked.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parse } from "yaml";
import { main } from "../cli.ts";
import {
  detectPixelRuleFormat,
  importPixelRules,
  type PixelImport,
  withPixelRules,
} from "../src/protocol/pixel_import.ts";
import { protocolSchema } from "../src/protocol/schema.ts";
import { STARTERS } from "../src/protocol/starters.ts";

const CTP = `Burned-in annotation library (a test)
* comment lines and free text (like this) are ignored

ACME SONO 5
{ Manufacturer.containsIgnoreCase("ACME") * ManufacturerModelName.equals("SONO 5") *
  Rows.equals("480") * Columns.equals("640") }
(0,0,640,40) (-160,-30,160,30)

Screen captures, tags by number
{ (Modality.equals("SC") + Modality.equals("OT")) * [0028,0010].equals("512") * [0028,0011].equals("512") }
(0,0,512,48)

{ Modality.equals("US") * !Manufacturer.contains("X") }
(0,0,10,10)

{ Manufacturer.startsWith("GE") * [0008,1090].isLessThan("5") }
(0,0,1,1)

{ Manufacturer.sounds("like") }
(0,0,1,1)

{ Manufacturer.contains("A") * (SeriesDescription.contains("B") + ImageType.contains("C")) } // a comment
(0,0,5,5)

{ Manufacturer.startsWithIgnoreCase("GE") * ManufacturerModelName.matches("(?i)LOGIQ.*") *
  SeriesDescription.endsWith("Report") * [0019,1010].equals("x") }
(1,2,3,4)

{ Modality.equals("CT") }

{ Manufacturer.contains("GE") * Manufacturer.contains("GE MEDICAL") * ImageType.equals("DERIVED\\SECONDARY") }
(0,0,512,25)
`;

const DEID = `FORMAT dicom

%filter whitelist

LABEL Clean # (someone)
  contains BurnedInAnnotation No

%filter graylist

LABEL Acme Sono
  contains Manufacturer ACME
  + equals ManufacturerModelName SONO 5
  + equals Rows 480 + equals Columns 640
  coordinates 0,0,640,40
  ctpcoordinates -160,-30,160,30

LABEL Screen capture
  equals Modality SC || equals Modality OT
  + equals 0x00280010 512
  + equals (0028,0011) 512
  coordinates 0,0,512,48

LABEL CT or MR
  contains Modality CT
  || contains Modality MR
  coordinates 10,20,30,60

LABEL Not US
  notequals Modality US
  coordinates 0,0,10,10

LABEL Empty maker
  empty Manufacturer
  coordinates 0,0,10,10

LABEL Regex
  contains SeriesDescription dose|report
  + missing BurnedInAnnotation
  coordinates 0,0,10,10

LABEL Flag only
  contains Modality CT

LABEL Unknown filter
  startswith Modality CT
  coordinates 0,0,1,1

LABEL Blank Image
  coordinates all

LABEL US regions
  present SequenceOfUltrasoundRegions
  keepcoordinates from:SequenceOfUltrasoundRegions

%filter blacklist

LABEL Black
  contains Modality SC

%header

REMOVE PatientID
`;

type Rule = { name: string; when: Record<string, unknown>; blank: unknown; keep?: string };

/** The starter with the import, parsed back; checks every rule's structure as the schema says it. */
async function protocolWith(imp: PixelImport): Promise<{ text: string; data: Record<string, unknown> }> {
  const text = withPixelRules(STARTERS.research, imp, "rules.txt");
  const data = parse(text) as Record<string, unknown>;
  const deid = data.deidentify as Record<string, unknown>;
  const schema = await import("../src/protocol/schema.ts") as Record<string, unknown>;
  if ("pixelRuleSchema" in schema) {
    // The schema knows deidentify.pixels: the whole protocol must pass it.
    const r = protocolSchema.safeParse(data);
    assert.ok(r.success, JSON.stringify(!r.success && r.error.issues));
  }
  // The structure, checked here too (whether or not the schema has pixels yet).
  for (const rule of deid.pixels as Rule[]) {
    assert.match(rule.name, /^[A-Za-z0-9][A-Za-z0-9._-]*$/);
    assert.ok(Object.keys(rule.when).length > 0);
    for (const c of Object.values(rule.when)) {
      const ok = typeof c === "string" || typeof c === "number" ||
        (Array.isArray(c) && c.length > 0 &&
          c.every((v) => typeof v === "string" || typeof v === "number")) ||
        (typeof c === "object" && c !== null && Object.keys(c).length === 1 &&
          ["contains", "matches", "present"].includes(Object.keys(c)[0]));
      assert.ok(ok, `condition ${JSON.stringify(c)}`);
      if (typeof c === "object" && c !== null && "matches" in c) new RegExp(String(c.matches), "i");
    }
    if (rule.blank !== "all") {
      assert.ok(Array.isArray(rule.blank) && rule.blank.length > 0);
      for (const r of rule.blank as number[][]) {
        assert.equal(r.length, 4);
        assert.ok(r.every(Number.isInteger) && r[2] >= 1 && r[3] >= 1, JSON.stringify(r));
      }
    }
    if (rule.keep !== undefined) assert.equal(rule.keep, "ultrasound-regions");
  }
  const names = (deid.pixels as Rule[]).map((r) => r.name);
  assert.equal(new Set(names).size, names.length, "names are unique");
  return { text, data };
}

const rulesOf = (data: Record<string, unknown>) =>
  (data.deidentify as Record<string, unknown>).pixels as Rule[];

Deno.test("pixel import: the format is told from the content", () => {
  assert.equal(detectPixelRuleFormat(CTP), "ctp");
  assert.equal(detectPixelRuleFormat(DEID), "deid");
  assert.equal(detectPixelRuleFormat("version: 1\nname: x\n"), undefined);
  assert.equal(detectPixelRuleFormat("{ just braces }"), undefined);
});

Deno.test("pixel import: CTP signatures become rules; NOT, comparisons, unknown functions do not", async () => {
  const imp = importPixelRules(CTP, "ctp");
  const { text, data } = await protocolWith(imp);
  assert.equal((data.deidentify as Record<string, unknown>).burned_in, "blank");
  const rules = rulesOf(data);
  assert.deepEqual(rules[0], {
    name: "ctp-1-acme-sono-5-640x480",
    when: { Manufacturer: { contains: "ACME" }, ManufacturerModelName: "SONO 5", Rows: 480, Columns: 640 },
    blank: [[0, 0, 640, 40], [-160, -30, 160, 30]],
  });
  // An OR on one element with equals: a list; tags by number: keywords, numbers.
  assert.deepEqual(rules[1], {
    name: "ctp-2-sc-ot-512x512",
    when: { Modality: ["SC", "OT"], Rows: 512, Columns: 512 },
    blank: [[0, 0, 512, 48]],
  });
  // An OR across elements: one rule per alternative.
  assert.deepEqual(rules.filter((r) => r.name.startsWith("ctp-6-")).map((r) => [r.name, r.when]), [
    ["ctp-6-a-b-a", { Manufacturer: { contains: "A" }, SeriesDescription: { contains: "B" } }],
    ["ctp-6-a-c-b", { Manufacturer: { contains: "A" }, ImageType: { contains: "C" } }],
  ]);
  const seven = rules.find((r) => r.name.startsWith("ctp-7"))!;
  assert.deepEqual(seven.when, {
    Manufacturer: { matches: "^GE" },
    ManufacturerModelName: { matches: "^(?:LOGIQ.*)$" },
    SeriesDescription: { matches: "Report\\s*$" },
    "(0019,1010)": "x",
  });
  assert.deepEqual(seven.blank, [[1, 2, 3, 4]]);
  // Two contains on one element: the longer says both.
  // A multi-valued equals compares the whole value, as CTP does.
  assert.deepEqual(rules.at(-1)!.when, {
    Manufacturer: { contains: "GE MEDICAL" },
    ImageType: { matches: "^\\s*DERIVED\\\\SECONDARY\\s*$" },
  });
  assert.equal(rules.length, 6);

  const reasons = imp.skipped.map((s) => `${s.line}: ${s.reason}`);
  assert.equal(imp.skipped.length, 4);
  assert.match(reasons[0], /^13: NOT has no dcmtidy condition/);
  assert.match(reasons[1], /^16: isLessThan \(a numeric comparison\)/);
  assert.match(reasons[2], /^19: unknown function sounds/);
  assert.match(reasons[3], /^29: no regions/);
  // Not imported: commented out with the original text and the reason.
  assert.match(
    text,
    /# not imported \(line 13\): NOT has no dcmtidy condition.*\n\s+#\s+\{ Modality\.equals\("US"\)/,
  );
  assert.match(text, /#\s+\{ Manufacturer\.sounds\("like"\) \}\n\s+#\s+\(0,0,1,1\)/);
});

Deno.test("pixel import: deid filters become rules; whole-image flags and NOT do not", async () => {
  const imp = importPixelRules(DEID, "deid");
  const { data } = await protocolWith(imp);
  const rules = rulesOf(data);
  assert.deepEqual(rules.map((r) => r.name), [
    "deid-acme-sono",
    "deid-screen-capture",
    "deid-ct-or-mr",
    "deid-regex",
    "deid-us-regions",
  ]);
  // Corners x0,y0,x1,y1 become x, y, width, height; ctpcoordinates are taken as they are.
  assert.deepEqual(rules[0], {
    name: "deid-acme-sono",
    when: { Manufacturer: { contains: "ACME" }, ManufacturerModelName: "SONO 5", Rows: 480, Columns: 640 },
    blank: [[0, 0, 640, 40], [-160, -30, 160, 30]],
  });
  assert.deepEqual(rules[1].when, { Modality: ["SC", "OT"], Rows: 512, Columns: 512 });
  // A line starting with || is an alternative: two contains on one element become one regex.
  assert.deepEqual(rules[2].when, { Modality: { matches: "(?:CT)|(?:MR)" } });
  assert.deepEqual(rules[2].blank, [[10, 20, 20, 40]]);
  // deid's contains is a regular expression; missing is present: false.
  assert.deepEqual(rules[3].when, {
    SeriesDescription: { matches: "dose|report" },
    BurnedInAnnotation: { present: false },
  });
  // Blank everything but the ultrasound regions (deid's ultrasound recipe: a blank-all item beside it).
  assert.deepEqual(rules[4], {
    name: "deid-us-regions",
    when: { SequenceOfUltrasoundRegions: { present: true } },
    blank: "all",
    keep: "ultrasound-regions",
  });
  const reasons = imp.skipped.map((s) => `${s.line}: ${s.reason}`);
  assert.deepEqual(reasons.map((r) => r.replace(/:.*/, "")), ["5", "28", "32", "41", "44", "48", "57"]);
  assert.match(reasons[0], /whitelist filter flags whole images/);
  assert.match(reasons[1], /NOT has no dcmtidy condition/);
  assert.match(reasons[2], /empty Manufacturer .* has no dcmtidy condition/);
  assert.match(reasons[3], /no coordinates/);
  assert.match(reasons[4], /unknown filter "startswith Modality CT"/);
  assert.match(reasons[5], /no filter: deid applies it to every image/);
  assert.match(reasons[6], /blacklist filter flags whole images/);
});

Deno.test("pixel import: nothing imported keeps burned_in as the preset has it", () => {
  const imp = importPixelRules('{ Modality.equals("US") * !Rows.equals("1") }\n(0,0,1,1)\n', "ctp");
  assert.equal(imp.rules.length, 0);
  const text = withPixelRules(STARTERS.research, imp, "r.script");
  const data = parse(text) as { deidentify: Record<string, unknown> };
  assert.equal(data.deidentify.burned_in, "quarantine");
  assert.deepEqual(data.deidentify.pixels, []);
});

Deno.test("pixel import: dcmtidy init --pixels-from writes the protocol once; other files are refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rules = join(dir, "DicomPixelAnonymizer.script");
    await Deno.writeTextFile(rules, CTP);
    const out = join(dir, "study.yaml");
    assert.equal(await main(["init", out, "--pixels-from", rules, "--preset", "dcm2dir"]), 0);
    const data = parse(await Deno.readTextFile(out)) as { deidentify: Record<string, unknown> };
    assert.equal(data.deidentify.burned_in, "blank");
    assert.equal((data.deidentify.pixels as Rule[]).length, 6);
    // Never overwritten.
    await Deno.writeTextFile(out, "mine\n");
    assert.equal(await main(["init", out, "--pixels-from", rules]), 2);
    assert.equal(await Deno.readTextFile(out), "mine\n");
    // Neither format, a missing file, a preset that does not de-identify: exit 2, nothing written.
    const other = join(dir, "notes.txt");
    await Deno.writeTextFile(other, "just some notes\n");
    assert.equal(await main(["init", join(dir, "a.yaml"), "--pixels-from", other]), 2);
    assert.equal(await main(["init", join(dir, "b.yaml"), "--pixels-from", join(dir, "nope")]), 2);
    assert.equal(
      await main(["init", join(dir, "c.yaml"), "--pixels-from", rules, "--preset", "sort-only"]),
      2,
    );
    for (const f of ["a.yaml", "b.yaml", "c.yaml"]) {
      await assert.rejects(Deno.stat(join(dir, f)), Deno.errors.NotFound);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
