/**
 * Lookup tables that map original patient IDs to study IDs (the honest broker's list). Read the way
 * the tools users come from accept them: comma, tab or whitespace separated, with or without a
 * header row. Anything ambiguous is an error before the run, never a guess during it.
 */

/** Header names we recognise in the first row (case-insensitive). */
const HEADER = /^(old|original|source|from|patient_?id|mrn|id|old_?id)$/i;

/** Read a lookup table; throws an Error whose message names the file and line of the problem. */
export async function readLookupTable(path: string): Promise<Map<string, string>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(
      e instanceof Deno.errors.NotFound
        ? `lookup file ${path} does not exist`
        : `${path}: ${(e as Error).message}`,
    );
  }
  const map = new Map<string, string>();
  const lineOf = new Map<string, number>();
  const owner = new Map<string, string>();
  const problems: string[] = [];
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  lines.forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const cells = trimmed.split(trimmed.includes(",") ? "," : trimmed.includes("\t") ? "\t" : /\s+/).map((
      c,
    ) => c.trim().replace(/^"(.*)"$/, "$1"));
    if (map.size === 0 && lineOf.size === 0 && HEADER.test(cells[0])) {
      lineOf.set("\0header", i + 1);
      return;
    }
    const n = i + 1;
    if (cells.length < 2 || cells[0] === "" || cells[1] === "") {
      problems.push(`${path}:${n}: needs two values, the original ID and the new one`);
      return;
    }
    const [from, to] = cells;
    const prior = map.get(from);
    if (prior !== undefined) {
      problems.push(
        prior === to
          ? `${path}:${n}: duplicate row for an ID already on line ${lineOf.get(from)}`
          : `${path}:${n}: conflicting row: an ID on line ${lineOf.get(from)} maps to another value`,
      );
      return;
    }
    const otherOwner = owner.get(to);
    if (otherOwner !== undefined) {
      // Two patients would share one pseudonym: their data would be merged.
      problems.push(
        `${path}:${n}: new ID "${to}" is already given to the ID on line ${lineOf.get(otherOwner)}`,
      );
      return;
    }
    map.set(from, to);
    owner.set(to, from);
    lineOf.set(from, n);
  });
  if (problems.length) throw new Error(problems.join("; "));
  if (map.size === 0) throw new Error(`lookup file ${path} has no rows`);
  return map;
}
