/**
 * The plan from its surveys, in input order: what depends on other files (duplicates skipped by
 * the scan, pseudonym collisions, output series, template elements missing for every file).
 *
 * @module
 */
import { PseudonymRegistry } from "../deid/pseudonyms.ts";
import { formatTag, lookupTag } from "../standard/dictionary.ts";
import { MISSING } from "../protocol/segments.ts";
import { Interner } from "../scan/intern.ts";
import { compactScanned, inputRef } from "../scan/scan.ts";
import type { FileRecords, PlanSpill } from "./file_records.ts";
import { PlannedFiles } from "./planned_files.ts";
import { boundHeap } from "../util/heap.ts";
import type { Survey } from "./survey.ts";
import type { Disposition, PlannedSeries, PlanWarning } from "./types.ts";

const folderOf = (dest: string) => (dest.includes("/") ? dest.slice(0, dest.lastIndexOf("/")) : ".");

/**
 * The plan from its surveys, in input order: what depends on other files. Duplicates are skipped,
 * pseudonyms checked for collisions, files grouped into output series (by SeriesInstanceUID and
 * folder). Returns the series without their diffs, and each one's least destination (its NIfTI's
 * name). Warnings and errors are appended in input order.
 *
 * Each planned file is what the plan holds for every input until the run ends, so it is compact:
 * values files share are held once (see `Interner`), and its header loses the SOP Instance UID,
 * which served to find duplicates and is read no more. `instances`: the files that share a SOP
 * Instance UID, and the duplicates among them (see `sharedInstances`). The surveys are taken one at
 * a time (each is gone from `surveys` once planned), and the files go where `spill` says past a
 * bound (see `FileRecords`).
 */
export function assemble(
  surveys: FileRecords<Survey>,
  instances: { readonly groups: readonly number[][]; readonly duplicates: ReadonlyMap<number, string> },
  warnings: PlanWarning[],
  errors: string[],
  spill?: PlanSpill,
): {
  files: PlannedFiles;
  series: PlannedSeries[];
  seriesDest: string[];
  actions: Record<string, number>;
} {
  const files = new PlannedFiles(spill, surveys.length);
  const series: PlannedSeries[] = [];
  const seriesIndex = new Map<string, number>();
  /**
   * Per series, the least template destination of its files (before collisions rename them): its
   * NIfTI's name, `0001` rather than whichever instance the raw dump happens to list first.
   */
  const seriesDest: string[] = [];
  const actions: Record<string, number> = {};
  const naCount = new Map<number, number>();
  const pseudonyms = new PseudonymRegistry();
  const pool = new Interner();
  let written = 0;
  sameInstanceWarnings(instances, warnings);
  for (let index = 0; index < surveys.length; index++) {
    // A survey is garbage once planned (taken, not kept beside its planned file until the end): the
    // heap is kept near what is live.
    if (index % 1024 === 1023) boundHeap();
    const { scanned, facts } = surveys.take(index);
    const duplicate = instances.duplicates.get(index);
    const input = compactScanned(
      duplicate === undefined ? scanned : { ...scanned, kind: "duplicate", reason: duplicate },
      pool,
      { sop: false },
    );
    if (input.kind !== "dicom" || !facts) {
      const status: Disposition = input.kind === "unreadable" ? "quarantine" : "skip";
      files.push({ input, status, reason: pool.string(input.reason ?? input.kind) });
      if (input.kind === "dicomdir") {
        warnings.push({
          kind: "dicomdir",
          message: `${inputRef(index)}: DICOMDIR not copied: its records point at input paths`,
        });
      }
      continue;
    }
    // Checked here, in input order over every file: which file a collision stops must not depend
    // on which worker de-identified which file.
    try {
      for (const [pseudo, subject] of facts.pseudonyms ?? []) pseudonyms.register(pseudo, subject);
    } catch (e) {
      files.push({ input, status: "quarantine", reason: (e as Error).message });
      continue;
    }
    if (facts.warnings) warnings.push(...facts.warnings);
    if (facts.errors) errors.push(...facts.errors);
    for (const t of facts.na ?? []) naCount.set(t, (naCount.get(t) ?? 0) + 1);
    if (facts.quarantine !== undefined || facts.dest === undefined) {
      files.push({
        input,
        status: "quarantine",
        reason: pool.string(facts.quarantine),
        suspect: pool.data(facts.suspect),
      });
      continue;
    }
    const dest = facts.dest;
    const folder = folderOf(dest);
    const key = `${facts.seriesUID ?? ""}\0${folder}`;
    let s = seriesIndex.get(key);
    if (s === undefined) {
      s = series.length;
      seriesIndex.set(key, s);
      series.push({
        folder,
        seriesUID: facts.seriesUID,
        studyUID: facts.studyUID,
        pseudoId: facts.pseudoId,
        modality: facts.modality,
        description: facts.description,
        files: 0,
        bytes: 0,
        representative: files.length,
        changes: [],
        frames: 0,
      });
      seriesDest.push(dest);
    }
    if (dest < seriesDest[s]) seriesDest[s] = dest;
    series[s].files++;
    series[s].bytes += input.size;
    series[s].frames += facts.frames;
    for (const [code, n] of Object.entries(facts.counts ?? {})) actions[code] = (actions[code] ?? 0) + n;
    files.push({
      input,
      status: "write",
      reason: pool.string(facts.note),
      dest,
      pseudoId: pool.string(facts.pseudoId),
      studyUID: pool.string(facts.studyUID),
      seriesUID: pool.string(facts.seriesUID),
      seriesDescription: pool.string(facts.description),
      modality: pool.string(facts.modality),
      series: s,
      counts: pool.data(facts.counts),
      fields: pool.data(facts.fields),
      blank: pool.data(facts.blank),
      suspect: pool.data(facts.suspect),
    });
    written++;
  }
  for (const [t, n] of naCount) {
    if (n === written && written > 0) {
      warnings.push({
        kind: "template-na",
        message: `the output template uses ${lookupTag(t)?.keyword ?? "the element"} ${formatTag(t)}, ` +
          `which is ${MISSING} for every file (absent, or removed by the profile: keep it with a per-tag ` +
          `rule if it holds nothing identifying, or take it out of the template)`,
      });
    }
  }
  return { files, series, seriesDest, actions };
}

/**
 * Files that share a SOP Instance UID but not their bytes (byte-identical ones are duplicates,
 * skipped by the scan): both are written, under their own names, and both keep one new UID, so
 * whoever loads the output will see one instance twice. In input order.
 */
function sameInstanceWarnings(
  instances: { readonly groups: readonly number[][]; readonly duplicates: ReadonlyMap<number, string> },
  warnings: PlanWarning[],
): void {
  const found: [number, number][] = [];
  for (const group of instances.groups) {
    const kept = group.filter((i) => !instances.duplicates.has(i));
    for (const i of kept.slice(1)) found.push([i, kept[0]]);
  }
  found.sort(([a], [b]) => a - b);
  for (const [i, j] of found) {
    warnings.push({
      kind: "same-instance",
      message: `${inputRef(i)} has the SOP Instance UID of ${inputRef(j)} but other bytes: both are written`,
    });
  }
}
