/**
 * Output names that depend on other files: DICOM destinations that collide (case-insensitively)
 * get `_2`, `_3`..., NIfTI stems of series whose family of names is taken get `-2`, `-3`...; or
 * the plan fails with `on_collision: error`.
 *
 * @module
 */
import { niftiFamily, niftiPaths } from "../nifti/convert.ts";
import { inputRef } from "../scan/scan.ts";
import { fileIdProblem } from "../dicom/dicomdir.ts";
import type { PlannedFile, PlannedSeries, PlanWarning } from "./types.ts";
import type { FileList } from "./file_records.ts";
import { destKeyOf, type PlannedFiles } from "./planned_files.ts";
import { boundHeap } from "../util/heap.ts";

/**
 * Two files for one destination: the later ones (in input order) get `_2`, `_3`... or the plan fails.
 * The names taken are held as a hash each with the index of the file that took it (a few dozen
 * bytes a file, not its name): a name whose hash is taken is compared with that file's, and names
 * that collide (or whose hashes do) are then held as they are.
 */
export function resolveCollisions(
  files: PlannedFiles,
  mode: "suffix" | "error",
  warnings: PlanWarning[],
  errors: string[],
): void {
  const lower = (p: string) => p.toLowerCase(); // case-insensitive file systems merge "A" and "a"
  // By hash (30 bits: a small integer) of a lower-case name: the file that took it, or the names.
  const taken = new Map<number, number | string[]>();
  const isTaken = (name: string): boolean => {
    const h = destKeyOf(name);
    let t = taken.get(h);
    if (t === undefined) return false;
    if (typeof t === "number") taken.set(h, t = [lower(files.get(t).dest!)]);
    return t.includes(lower(name));
  };
  const take = (name: string, index?: number): void => {
    const h = destKeyOf(name);
    const t = taken.get(h);
    if (t === undefined) taken.set(h, index ?? [lower(name)]);
    else if (typeof t === "number") taken.set(h, [lower(files.get(t).dest!), lower(name)]);
    else t.push(lower(name));
  };
  for (let index = 0; index < files.length; index++) {
    // The heap is kept near what is live, as a pass that reads the files back keeps it (the map of
    // names grows by copies, and the plan's assembly left its garbage).
    if (index % 1024 === 1023) boundHeap();
    // A destination's hash is at hand (`PlannedFiles`): a file is read back only when its hash is
    // taken, not every file once more (past the memory bound, a read from disk each).
    const key = files.status(index) === "write" ? files.destKey(index) : undefined;
    if (key === undefined) continue;
    if (!taken.has(key)) {
      taken.set(key, index);
      continue;
    }
    const f = files.get(index);
    if (!isTaken(f.dest!)) {
      take(f.dest!, index);
      continue;
    }
    if (mode === "error") {
      errors.push(
        `${inputRef(index)} and another file would both be written as ${
          outputRef(f.dest!)
        } (on_collision: error)`,
      );
      continue;
    }
    const dest = f.dest!;
    const dot = dest.lastIndexOf(".");
    const slash = dest.lastIndexOf("/");
    const [stem, ext] = dot > slash ? [dest.slice(0, dot), dest.slice(dot)] : [dest, ""];
    let n = 2;
    while (isTaken(`${stem}_${n}${ext}`)) n++;
    const renamed = `${stem}_${n}${ext}`;
    warnings.push({
      kind: "collision",
      message: `${inputRef(index)}: ${outputRef(dest)} is taken, written as ${outputRef(renamed)}`,
    });
    files.set(index, { ...f, dest: renamed });
    take(renamed);
  }
}

/**
 * Give each series its NIfTI stem: its least template destination without the extension.
 * When any name of its family (`niftiFamily`) is taken, case-insensitively, by an earlier
 * series or (with `both`) by a DICOM file, the later series becomes `<stem>-2`, `-3`... with a
 * warning, or the plan fails with `on_collision: error`.
 */
export function assignNiftiStems(
  files: FileList<PlannedFile>,
  series: PlannedSeries[],
  seriesDest: readonly string[],
  format: "nifti" | "both",
  mode: "suffix" | "error",
  warnings: PlanWarning[],
  errors: string[],
): void {
  const lower = (p: string) => p.toLowerCase();
  const used = new Set<string>();
  if (format === "both") {
    for (const f of files) if (f.status === "write" && f.dest) used.add(lower(f.dest));
  }
  const clashes = (stem: string, frames: number) => niftiFamily(stem, frames).some((p) => used.has(lower(p)));
  for (const [i, s] of series.entries()) {
    const base = niftiPaths(seriesDest[i]).nifti.slice(0, -".nii.gz".length);
    let stem = base;
    if (clashes(base, s.frames)) {
      if (mode === "error") {
        errors.push(
          `${inputRef(s.representative)}: its series' NIfTI ${outputRef(`${base}.nii.gz`)} is taken ` +
            `by another series or file (on_collision: error)`,
        );
      } else {
        let n = 2;
        while (clashes(`${base}-${n}`, s.frames)) n++;
        stem = `${base}-${n}`;
        warnings.push({
          kind: "collision",
          message:
            `${inputRef(s.representative)}: its series' NIfTI ${outputRef(`${base}.nii.gz`)} is taken, ` +
            `written as ${outputRef(`${stem}.nii.gz`)}`,
        });
      }
    }
    for (const p of niftiFamily(stem, s.frames)) used.add(lower(p));
    s.nifti = stem;
  }
}

/**
 * An output path in a warning or error. Without de-identification output names come from the
 * original headers, so whoever prints the text decides whether to show them (see `renderPlanText`).
 */
export function outputRef(path: string): string {
  return `{{output:${encodeURIComponent(path)}}}`;
}

/**
 * With `output.dicomdir`: every written file's name must be a media file ID (the template check of
 * `validate` cannot see values: a missing one renders `na`, an ID may hold a dot). One error names
 * the first such file and counts the others.
 */
export function checkMediaNames(files: FileList<PlannedFile>, errors: string[]): void {
  const bad = files.flatMap((f, i) => {
    const problem = f.status === "write" && f.dest ? fileIdProblem(f.dest.split("/")) : undefined;
    return problem ? [{ i, dest: f.dest!, problem }] : [];
  });
  if (!bad.length) return;
  const { i, dest, problem } = bad[0];
  errors.push(
    `${inputRef(i)} would be written as ${outputRef(dest)}, which a DICOMDIR cannot list: ${problem}` +
      (bad.length > 1 ? ` (and ${bad.length - 1} more files)` : "") +
      "; give the template's values a fallback in capitals ({StudyDate|NODATE}) or use other elements",
  );
}
