/**
 * What a finished run left to check against: the rows of `<output>/.dcmtidy/files.csv` (one per
 * input file, in the run's input order) and the files actually in the output tree.
 */
import { join, relative, sep } from "node:path";
import { parseCsv } from "../util/csv.ts";
import { STATE_DIR } from "../run/mod.ts";
import { VerifyError } from "./errors.ts";

/** One row of files.csv: an input file and what the run did with it. */
export interface FileRow {
  /** Path relative to its input root, `/` separators. */
  readonly input: string;
  readonly root: string;
  readonly status: "written" | "skipped" | "quarantined";
  readonly reason: string;
  /** Destination relative to the output root (written files only). */
  readonly output: string;
  /**
   * With NIfTI output: the volume(s) holding its instance, relative to the output root (several
   * `;`-separated when a multi-frame file went into several); "" otherwise.
   */
  readonly nifti: string;
}

const COLUMNS = ["Input", "Root", "Status", "Reason", "Output"];

/** Read `<output>/.dcmtidy/files.csv`. Throws `VerifyError` when there is none or it is not ours. */
export async function readFileRows(outputRoot: string): Promise<FileRow[]> {
  const path = join(outputRoot, STATE_DIR, "files.csv");
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new VerifyError(`no finished run in ${outputRoot} (no ${STATE_DIR}/files.csv): run it first`);
    }
    throw e;
  }
  let parsed: string[][];
  try {
    parsed = parseCsv(text);
  } catch (e) {
    throw new VerifyError(`${path}: ${(e as Error).message}`);
  }
  const [header, ...rows] = parsed;
  const col = COLUMNS.map((c) => header?.indexOf(c) ?? -1);
  if (col.some((i) => i < 0)) {
    throw new VerifyError(`${path}: expected the columns ${COLUMNS.join(", ")}`);
  }
  const niftiCol = header?.indexOf("Nifti") ?? -1; // only runs with NIfTI output have it
  return rows.filter((r) => r.length > 1).map((r, n) => {
    const status = r[col[2]];
    if (status !== "written" && status !== "skipped" && status !== "quarantined") {
      throw new VerifyError(`${path}: row ${n + 2} has the status "${status}"`);
    }
    return {
      input: r[col[0]],
      root: r[col[1]],
      status,
      reason: r[col[3]],
      output: r[col[4]],
      nifti: niftiCol < 0 ? "" : r[niftiCol] ?? "",
    };
  });
}

/**
 * Every file (and symlink) under the output root, relative with `/` separators, except the run's
 * state folder and the paths in `ignore` (report and key file). Symlinks are listed, never followed.
 */
export async function listOutputTree(root: string, ignore: readonly string[]): Promise<string[]> {
  const skip = new Set(ignore);
  const out: string[] = [];
  const walk = async (dir: string) => {
    const entries: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(dir)) entries.push(e);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory) {
        if (!(dir === root && e.name === STATE_DIR)) await walk(path);
      } else if (!skip.has(path)) {
        out.push(relative(root, path).split(sep).join("/"));
      }
    }
  };
  await walk(root);
  return out;
}
