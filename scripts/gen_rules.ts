/**
 * Generates `rules/ps3.15.json`, dcmtidy's own copy of the DICOM de-identification tables, from the
 * facts in `../shared/standard` (see that folder's README for each input's format):
 *
 * - `ps3.15-table-e1-1.json`: PS3.15 Table E.1-1 (attributes, Basic Profile and Option actions)
 * - `ps3.15-table-e1-1a.json`: PS3.15 Table E.1-1a (action codes)
 * - `ps3.15-safe-private.json`: PS3.15 Table E.3.10-1 (safe private attributes)
 * - `cid7050.json`: PS3.16 CID 7050 (De-identification Method codes)
 * - `ps3.15-deid-added-attributes.json`: attributes a de-identifier adds or replaces
 *
 * Run with:
 *
 *     deno run --allow-read --allow-write scripts/gen_rules.ts
 *
 * The output is committed so the tool works without `../shared`; `tests/rules_test.ts` rebuilds it
 * in memory with {@link buildRules} to catch a stale file. Every input is validated before anything
 * is written, because a silently truncated or mistyped rule table would de-identify less than the
 * standard requires and nothing downstream could tell.
 *
 * @module
 */

/** Editions of the tables the output is built from (see the README in ../shared/standard). */
export const EDITION = "PS3.15 2026d (Table E.1-1), 2026c (E.3.10-1, E.1-1a); PS3.16 2026d (CID 7050)";

/** Recorded as a repo-relative path so the output does not depend on where the repo is checked out. */
export const SOURCE = "../shared/standard/{ps3.15-table-e1-1,ps3.15-table-e1-1a,ps3.15-safe-private," +
  "cid7050,ps3.15-deid-added-attributes}.json (DICOM PS3.15 Annex E, PS3.16 CID 7050; DICOM is © NEMA)";

/** The input files, by the key {@link RulesInputs} uses for each. */
export const INPUT_FILES = {
  tableE11: "ps3.15-table-e1-1.json",
  actionCodes: "ps3.15-table-e1-1a.json",
  safePrivate: "ps3.15-safe-private.json",
  cid7050: "cid7050.json",
  addedAttributes: "ps3.15-deid-added-attributes.json",
} as const;

/** The parsed (but unchecked) contents of each input file. */
export type RulesInputs = { [K in keyof typeof INPUT_FILES]: unknown };

/**
 * The ten Option columns of Table E.1-1 in the table's order, with the CLI-style names dcmtidy uses.
 * The order is the table's so that the output reads like the printed table.
 */
export const OPTION_COLUMNS = [
  { name: "retain-safe-private", column: "retainSafePrivate" },
  { name: "retain-uids", column: "retainUIDs" },
  { name: "retain-device-identity", column: "retainDeviceIdentity" },
  { name: "retain-institution-identity", column: "retainInstitutionIdentity" },
  { name: "retain-patient-characteristics", column: "retainPatientCharacteristics" },
  { name: "retain-longitudinal-full-dates", column: "retainLongitudinalFullDates" },
  { name: "retain-longitudinal-modified-dates", column: "retainLongitudinalModifiedDates" },
  { name: "clean-descriptors", column: "cleanDescriptors" },
  { name: "clean-structured-content", column: "cleanStructuredContent" },
  { name: "clean-graphics", column: "cleanGraphics" },
] as const;

/**
 * CID 7050 codes of Options that act on pixel data and so have no Table E.1-1 column. They are
 * kept so that a de-identifier that implements them can still find its code in our data.
 */
const PIXEL_OPTIONS: Readonly<Record<string, string>> = {
  "113101": "clean-pixel-data",
  "113102": "clean-recognizable-visual-features",
};

/** CID 7050 code of the Basic Application Level Confidentiality Profile itself. */
const BASIC_PROFILE_CODE = "113100";

/** The tag of the "(gggg,eeee) where gggg is odd" row once stored. */
export const PRIVATE_ROW_TAG = "private";
const PRIVATE_ROW_PRINTED = "(gggg,eeee) where gggg is odd";
/** Wildcard rows kept as printed; any other `x` in a tag is an error. */
const WILDCARD_TAGS = new Set(["(50xx,xxxx)", "(60xx,3000)", "(60xx,4000)"]);

/** A CID 7050 code as stored in the output. */
export interface CodeOut {
  code: string;
  meaning: string;
}

/** One Option as stored in the output. */
export interface OptionOut {
  name: string;
  column: string;
  cid7050: CodeOut;
}

/** One Table E.1-1 row as stored in the output. `options` lists only the non-empty Option cells. */
export interface AttributeOut {
  tag: string;
  keyword: string | null;
  name: string;
  retired: boolean;
  inStdCompIOD: boolean;
  basic: string;
  options: Record<string, string>;
}

/** One Table E.3.10-1 row as stored in the output. `element` is the low byte of the element. */
export interface SafePrivateOut {
  tag: string;
  group: number;
  element: number;
  creator: string;
  vr: string | null;
  vm: string;
  meaning: string;
}

/** One attribute a de-identifier adds or replaces, as stored in the output (copied as given). */
export interface AddedAttributeOut {
  tag: string;
  keyword: string;
  vr: string;
  value: string;
  when: string;
  source: string;
}

/** Shape of `rules/ps3.15.json`. */
export interface RulesData {
  edition: string;
  source: string;
  options: OptionOut[];
  basicProfileCode: CodeOut;
  pixelOptionCodes: (CodeOut & { name: string })[];
  actionCodes: { code: string; description: string }[];
  attributes: AttributeOut[];
  safePrivate: SafePrivateOut[];
  addedAttributes: AddedAttributeOut[];
}

const TAG_RE = /^\([0-9A-F]{4},[0-9A-F]{4}\)$/;
const SAFE_TAG_RE = /^\(([0-9A-F]{4}),xx([0-9A-F]{2})\)$/;
const KEYWORD_RE = /^[A-Za-z][A-Za-z0-9]*$/;

function fail(file: keyof RulesInputs, where: string, why: string): never {
  throw new Error(`${INPUT_FILES[file]}${where === "" ? "" : ` ${where}`}: ${why}`);
}

function asArray(file: keyof RulesInputs, value: unknown): Record<string, unknown>[] {
  if (!Array.isArray(value)) fail(file, "", "not a JSON array");
  return value.map((item, i) => {
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      fail(file, `row ${i}`, "not an object");
    }
    return item as Record<string, unknown>;
  });
}

function str(file: keyof RulesInputs, where: string, row: Record<string, unknown>, key: string): string {
  const v = row[key];
  if (typeof v !== "string" || v === "") fail(file, where, `${key} is not a non-empty string`);
  return v;
}

function bool(file: keyof RulesInputs, where: string, row: Record<string, unknown>, key: string): boolean {
  const v = row[key];
  if (typeof v !== "boolean") fail(file, where, `${key} is not a boolean`);
  return v;
}

/**
 * Validates the inputs and converts them into the committed form.
 *
 * Pure (no I/O), so the staleness test can compare its result with the committed file. Rows keep
 * the standard's own order (E.1-1 is alphabetical by name), so a new edition diffs like the table.
 * Throws on anything unexpected rather than producing a partial rule set.
 */
export function buildRules(inputs: RulesInputs): RulesData {
  // Table E.1-1a first: every other action code is checked against it.
  const actionCodes = asArray("actionCodes", inputs.actionCodes).map((row, i) => ({
    code: str("actionCodes", `row ${i}`, row, "code"),
    description: str("actionCodes", `row ${i}`, row, "description"),
  }));
  const codes = new Set(actionCodes.map((a) => a.code));
  if (codes.size !== actionCodes.length) fail("actionCodes", "", "duplicate action code");

  // CID 7050: each Option column must have exactly one code, and the two pixel Options none.
  const cidRows = asArray("cid7050", inputs.cid7050);
  const byColumn = new Map<string, CodeOut>();
  let basicProfileCode: CodeOut | undefined;
  const pixelOptionCodes: RulesData["pixelOptionCodes"] = [];
  const seenCodes = new Set<string>();
  cidRows.forEach((row, i) => {
    const where = `row ${i}`;
    const code = str("cid7050", where, row, "codeValue");
    const meaning = str("cid7050", where, row, "codeMeaning");
    if (row.codingSchemeDesignator !== "DCM") fail("cid7050", where, "codingSchemeDesignator is not DCM");
    if (seenCodes.has(code)) fail("cid7050", where, `duplicate code ${code}`);
    seenCodes.add(code);
    const column = row.tableE11Column;
    if (column === null) {
      if (code === BASIC_PROFILE_CODE) basicProfileCode = { code, meaning };
      else if (code in PIXEL_OPTIONS) pixelOptionCodes.push({ name: PIXEL_OPTIONS[code], code, meaning });
      else fail("cid7050", where, `code ${code} has no Table E.1-1 column and is not a known pixel Option`);
      return;
    }
    if (typeof column !== "string" || !OPTION_COLUMNS.some((o) => o.column === column)) {
      fail("cid7050", where, `unknown tableE11Column ${JSON.stringify(column)}`);
    }
    if (byColumn.has(column)) fail("cid7050", where, `second code for column ${column}`);
    byColumn.set(column, { code, meaning });
  });
  if (!basicProfileCode) fail("cid7050", "", `no ${BASIC_PROFILE_CODE} (Basic Profile) code`);
  if (pixelOptionCodes.length !== Object.keys(PIXEL_OPTIONS).length) {
    fail("cid7050", "", "pixel Option code missing");
  }
  const options: OptionOut[] = OPTION_COLUMNS.map(({ name, column }) => {
    const cid7050 = byColumn.get(column);
    if (!cid7050) fail("cid7050", "", `no code for column ${column}`);
    return { name, column, cid7050 };
  });

  // Table E.1-1.
  const attributes: AttributeOut[] = [];
  const seenTags = new Set<string>();
  const seenKeywords = new Set<string>();
  asArray("tableE11", inputs.tableE11).forEach((row, i) => {
    const printed = str("tableE11", `row ${i}`, row, "tag");
    const where = `row ${i} ${printed}`;
    const isPrivate = printed === PRIVATE_ROW_PRINTED;
    if (!isPrivate && !WILDCARD_TAGS.has(printed) && !TAG_RE.test(printed)) {
      fail("tableE11", where, "bad tag");
    }
    const tag = isPrivate ? PRIVATE_ROW_TAG : printed;
    if (seenTags.has(tag)) fail("tableE11", where, "duplicate tag");
    seenTags.add(tag);
    const keyword = row.keyword;
    if (keyword !== null) {
      if (typeof keyword !== "string" || !KEYWORD_RE.test(keyword)) fail("tableE11", where, "bad keyword");
      if (seenKeywords.has(keyword)) fail("tableE11", where, `duplicate keyword ${keyword}`);
      seenKeywords.add(keyword);
    } else if (!isPrivate && printed !== "(50xx,xxxx)") {
      // The README says only these two rows lack a keyword; anything else means a broken join.
      fail("tableE11", where, "keyword is null");
    }
    const basic = str("tableE11", where, row, "basic");
    if (!codes.has(basic)) fail("tableE11", where, `unknown basic action ${basic}`);
    const opts: Record<string, string> = {};
    for (const { column } of OPTION_COLUMNS) {
      const cell = row[column];
      if (cell === null) continue;
      if (typeof cell !== "string" || !codes.has(cell)) {
        fail("tableE11", where, `unknown ${column} action ${JSON.stringify(cell)}`);
      }
      opts[column] = cell;
    }
    attributes.push({
      tag,
      keyword,
      name: str("tableE11", where, row, "name"),
      retired: bool("tableE11", where, row, "retired"),
      inStdCompIOD: bool("tableE11", where, row, "inStdCompIOD"),
      basic,
      options: opts,
    });
  });
  for (const t of [PRIVATE_ROW_TAG, ...WILDCARD_TAGS]) {
    if (!seenTags.has(t)) fail("tableE11", "", `row ${t} missing`);
  }

  // Table E.3.10-1.
  const safePrivate: SafePrivateOut[] = [];
  const seenSafe = new Set<string>();
  asArray("safePrivate", inputs.safePrivate).forEach((row, i) => {
    const tag = str("safePrivate", `row ${i}`, row, "tag");
    const where = `row ${i} ${tag}`;
    const m = SAFE_TAG_RE.exec(tag);
    if (!m) fail("safePrivate", where, "bad tag");
    const group = parseInt(m[1], 16);
    if ((group & 1) === 0) fail("safePrivate", where, "group is not odd (private)");
    const element = parseInt(m[2], 16);
    const creator = str("safePrivate", where, row, "privateCreator");
    // Matching trims the creator read from a file, so a padded creator here could never match.
    if (creator !== creator.trim()) fail("safePrivate", where, "private creator has outer whitespace");
    const key = `${creator}\u0000${group}\u0000${element}`;
    if (seenSafe.has(key)) fail("safePrivate", where, `duplicate row for ${creator}`);
    seenSafe.add(key);
    // Two SIEMENS Ultrasound SC2000 rows, (0119,xx21) and (0129,xx29), have a blank meaning in
    // the standard itself; kept blank rather than invented.
    const meaning = row.meaning;
    if (typeof meaning !== "string") fail("safePrivate", where, "meaning is not a string");
    const vr = row.vr;
    if (vr !== null && (typeof vr !== "string" || !/^[A-Z]{2}(\/[A-Z]{2})*$/.test(vr))) {
      fail("safePrivate", where, "bad vr");
    }
    safePrivate.push({
      tag,
      group,
      element,
      creator,
      vr,
      vm: str("safePrivate", where, row, "vm"),
      meaning,
    });
  });

  const addedAttributes = asArray("addedAttributes", inputs.addedAttributes).map((row, i) => {
    const where = `row ${i}`;
    const out: AddedAttributeOut = {
      tag: str("addedAttributes", where, row, "tag"),
      keyword: str("addedAttributes", where, row, "keyword"),
      vr: str("addedAttributes", where, row, "vr"),
      value: str("addedAttributes", where, row, "value"),
      when: str("addedAttributes", where, row, "when"),
      source: str("addedAttributes", where, row, "source"),
    };
    if (!TAG_RE.test(out.tag)) fail("addedAttributes", where, "bad tag");
    return out;
  });

  return {
    edition: EDITION,
    source: SOURCE,
    options,
    basicProfileCode,
    pixelOptionCodes,
    actionCodes,
    attributes,
    safePrivate,
    addedAttributes,
  };
}

/** One object per line inside each array so that a new edition shows up as a readable diff. */
export function serializeRules(data: RulesData): string {
  const array = (rows: readonly unknown[]) => `[\n${rows.map((r) => JSON.stringify(r)).join(",\n")}\n]`;
  const fields: [string, string][] = [
    ["edition", JSON.stringify(data.edition)],
    ["source", JSON.stringify(data.source)],
    ["options", array(data.options)],
    ["basicProfileCode", JSON.stringify(data.basicProfileCode)],
    ["pixelOptionCodes", array(data.pixelOptionCodes)],
    ["actionCodes", array(data.actionCodes)],
    ["attributes", array(data.attributes)],
    ["safePrivate", array(data.safePrivate)],
    ["addedAttributes", array(data.addedAttributes)],
  ];
  return `{\n${fields.map(([k, v]) => `${JSON.stringify(k)}: ${v}`).join(",\n")}\n}\n`;
}

/** Where the inputs live, resolved from this file so the cwd does not matter. */
export const INPUT_DIR_URL = new URL("../../shared/standard/", import.meta.url);
/** Where the generator writes. */
export const OUTPUT_URL = new URL("../rules/ps3.15.json", import.meta.url);

/** Reads and parses every input file; rejects with `Deno.errors.NotFound` when one is missing. */
export async function readInputs(dir: URL = INPUT_DIR_URL): Promise<RulesInputs> {
  const entries = await Promise.all(
    Object.entries(INPUT_FILES).map(async ([key, file]) => {
      const text = await Deno.readTextFile(new URL(file, dir));
      return [key, JSON.parse(text)] as const;
    }),
  );
  return Object.fromEntries(entries) as RulesInputs;
}

/** Counts printed after a run, so a changed edition is noticed in the terminal, not only in review. */
export function summarize(data: RulesData): string {
  const byBasic = new Map<string, number>();
  for (const a of data.attributes) byBasic.set(a.basic, (byBasic.get(a.basic) ?? 0) + 1);
  const basic = [...byBasic].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([code, n]) => `${code} ${n}`).join(", ");
  const creators = new Set(data.safePrivate.map((s) => s.creator)).size;
  return [
    `Table E.1-1: ${data.attributes.length} rows; by basic code: ${basic}`,
    `Table E.3.10-1: ${data.safePrivate.length} safe private rows, ${creators} distinct creators`,
  ].join("\n");
}

if (import.meta.main) {
  const data = buildRules(await readInputs());
  await Deno.writeTextFile(OUTPUT_URL, serializeRules(data));
  console.log(`gen_rules: wrote rules/ps3.15.json\n${summarize(data)}`);
}
