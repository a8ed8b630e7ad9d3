/**
 * Generates `src/dicom/dictionary_data.json` from the PS3.6 facts in
 * `../shared/standard/data-dictionary.json` (see that folder's README for the format).
 *
 * The output is a checked-in artifact so that the tool works without `../shared`; the test suite
 * regenerates it in memory to catch staleness. Run with `deno task gen`.
 *
 * @module
 */

/** Edition label stored with the data, so users can tell which PS3.6 the tool speaks. */
export const EDITION = "PS3.6 2026c + 2026d addition (3004,007F)";

/** Recorded as a repo-relative path so the output does not depend on where the repo is checked out. */
export const SOURCE =
  "../shared/standard/data-dictionary.json (DICOM PS3.6 Tables 6-1, 7-1, 8-1, 9-1; DICOM is © NEMA)";

/** `[tag, keyword, name, vrs, vm, retired]`: tuples keep the checked-in file about half the size of objects. */
export type DictionaryRow = [string, string, string, string, string, 0 | 1];

/** Shape of `src/dicom/dictionary_data.json`. */
export interface DictionaryData {
  edition: string;
  source: string;
  entries: DictionaryRow[];
}

const TAG_RE = /^\(([0-9A-Fx]{4}),([0-9A-Fx]{4})\)$/;
const VR_RE = /^[A-Z]{2}$/;
const KEYWORD_RE = /^[A-Za-z][A-Za-z0-9]*$/;

/** Numeric sort key with wildcards as 0, which is the order PS3.6 itself prints. */
function sortKey(tag: string): number {
  const m = TAG_RE.exec(tag)!;
  return ((parseInt(m[1].replaceAll("x", "0"), 16) << 16) | parseInt(m[2].replaceAll("x", "0"), 16)) >>> 0;
}

function fail(index: number, why: string): never {
  throw new Error(`data-dictionary.json entry ${index}: ${why}`);
}

/**
 * Converts the parsed `data-dictionary.json` array into the compact checked-in form.
 *
 * Pure (no I/O), so the staleness test can compare its result with the committed file.
 * Throws on malformed input rather than silently producing a partial dictionary.
 */
export function buildDictionaryData(raw: unknown[]): DictionaryData {
  const rows: DictionaryRow[] = [];
  const seenTags = new Set<string>();
  const seenKeywords = new Set<string>();
  raw.forEach((item, i) => {
    if (typeof item !== "object" || item === null || Array.isArray(item)) fail(i, "not an object");
    const e = item as Record<string, unknown>;
    const { tag, keyword, name, vr, vm, retired } = e;
    if (typeof tag !== "string" || !TAG_RE.test(tag)) fail(i, `bad tag ${JSON.stringify(tag)}`);
    if (seenTags.has(tag)) fail(i, `duplicate tag ${tag}`);
    seenTags.add(tag);
    if (typeof retired !== "boolean") fail(i, `${tag}: retired is not a boolean`);
    // PS3.6 prints 7 retired rows with a blank keyword and name. Nothing can refer to them by
    // keyword and the de-identifier treats them like any unknown standard element, so they are
    // dropped (4 of them also lack a VR and VM).
    if (keyword === null) return;
    if (typeof keyword !== "string" || !KEYWORD_RE.test(keyword)) fail(i, `${tag}: bad keyword`);
    if (seenKeywords.has(keyword)) fail(i, `duplicate keyword ${keyword}`);
    seenKeywords.add(keyword);
    if (typeof name !== "string" || name === "") fail(i, `${tag}: bad name`);
    if (!Array.isArray(vr) || !vr.every((v) => typeof v === "string" && VR_RE.test(v))) {
      fail(i, `${tag}: bad vr`);
    }
    if (typeof vm !== "string" || vm === "") fail(i, `${tag}: bad vm`);
    rows.push([tag, keyword, name, vr.join("|"), vm, retired ? 1 : 0]);
  });
  // The source is already in this order; sorting anyway keeps the output stable if it is not.
  rows.sort((a, b) => sortKey(a[0]) - sortKey(b[0]) || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return { edition: EDITION, source: SOURCE, entries: rows };
}

/** One entry per line so that a new PS3.6 edition shows up as a readable diff. */
export function serializeDictionaryData(data: DictionaryData): string {
  const lines = data.entries.map((row) => JSON.stringify(row));
  return "{\n" +
    `"edition": ${JSON.stringify(data.edition)},\n` +
    `"source": ${JSON.stringify(data.source)},\n` +
    `"entries": [\n${lines.join(",\n")}\n]\n}\n`;
}

/** Where the generator reads from, resolved from this file so the cwd does not matter. */
export const INPUT_URL = new URL("../../shared/standard/data-dictionary.json", import.meta.url);
/** Where the generator writes. */
export const OUTPUT_URL = new URL("../src/dicom/dictionary_data.json", import.meta.url);

if (import.meta.main) {
  const raw: unknown = JSON.parse(await Deno.readTextFile(INPUT_URL));
  if (!Array.isArray(raw)) throw new Error("data-dictionary.json is not a JSON array");
  const data = buildDictionaryData(raw);
  await Deno.writeTextFile(OUTPUT_URL, serializeDictionaryData(data));
  console.log(
    `gen_dictionary: wrote ${data.entries.length} entries (${raw.length - data.entries.length} ` +
      `without a keyword skipped) to src/dicom/dictionary_data.json`,
  );
}
