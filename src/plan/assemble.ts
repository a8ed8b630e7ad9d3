/**
 * The plan from its surveys, in input order: what depends on other files (duplicates, pseudonym
 * collisions, output series, template elements missing for every file).
 *
 * @module
 */
import { PseudonymRegistry } from "../deid/pseudonyms.ts";
import { formatTag, lookupTag } from "../standard/dictionary.ts";
import { MISSING } from "../protocol/segments.ts";
import { Interner } from "../scan/intern.ts";
import { compactScanned, inputRef } from "../scan/scan.ts";
import type { Listed } from "../scan/inputs.ts";
import type { PlanSpill } from "./file_records.ts";
import { InstanceGroups } from "./instance_groups.ts";
import { PlannedFiles } from "./planned_files.ts";
import { boundHeap } from "../util/heap.ts";
import type { Survey } from "./survey.ts";
import type { Disposition, PlannedSeries, PlanWarning } from "./types.ts";

const folderOf = (dest: string) => (dest.includes("/") ? dest.slice(0, dest.lastIndexOf("/")) : ".");

/** What `Assembly.finish` gives: the plan's files, its series and their least destinations, its counts. */
export interface Assembled {
  files: PlannedFiles;
  series: PlannedSeries[];
  seriesDest: string[];
  actions: Record<string, number>;
}

/**
 * The plan from its surveys, in input order: what depends on other files. Duplicates are skipped
 * (see `InstanceGroups`), pseudonyms checked for collisions, files grouped into output series (by
 * SeriesInstanceUID and folder). Each survey is given (`add`) once those of every file before it
 * are: while the rest are still being surveyed, so that no survey waits for the end of the scan
 * (past the memory bound, written out to disk and read back). `finish` gives the series without
 * their diffs, and each one's least destination (its NIfTI's name), and appends the warnings and
 * errors in input order.
 *
 * Each planned file is what the plan holds for every input until the run ends, so it is compact:
 * values files share are held once (see `Interner`), and its header loses the SOP Instance UID,
 * which served to find duplicates and is read no more. The files go where `spill` says past a bound
 * (see `FileRecords`).
 */
export class Assembly {
  readonly files: PlannedFiles;
  readonly #series: PlannedSeries[] = [];
  readonly #seriesIndex = new Map<string, number>();
  /**
   * Per series, the least template destination of its files (before collisions rename them): its
   * NIfTI's name, `0001` rather than whichever instance the raw dump happens to list first.
   */
  readonly #seriesDest: string[] = [];
  readonly #actions: Record<string, number> = {};
  readonly #naCount = new Map<number, number>();
  readonly #pseudonyms = new PseudonymRegistry();
  readonly #pool = new Interner();
  readonly #instances: InstanceGroups;
  readonly #warnings: PlanWarning[] = [];
  readonly #errors: string[] = [];
  #written = 0;
  #closed = false;

  /** `length`: the files to come (every one is given to `add`). */
  constructor(length: number, spill?: PlanSpill) {
    this.files = new PlannedFiles(spill, length);
    this.#instances = new InstanceGroups((i) => this.files.get(i).input);
  }

  /** Files given so far: the index of the next one. */
  get next(): number {
    return this.files.length;
  }

  /**
   * Plan the next file from its survey (`listed`: its listing entry, whose path strings the planned
   * file keeps when they are its). A promise when whether it duplicates an earlier file needs their
   * bytes hashed: no other file is given before it resolves.
   */
  add(survey: Survey, listed?: Listed): void | Promise<void> {
    if (this.#closed) return;
    const index = this.files.length;
    const { scanned } = survey;
    const uid = scanned.kind === "dicom" ? scanned.header?.sopInstanceUID : undefined;
    const duplicate = this.#instances.check(index, uid, scanned.path, scanned.size);
    if (duplicate instanceof Promise) return duplicate.then((d) => this.#plan(survey, d, listed));
    this.#plan(survey, duplicate, listed);
  }

  /** Let go of the files' temporary file: a plan that fails or is stopped takes no more files. */
  close(): void {
    this.#closed = true;
    this.files.close();
  }

  #plan({ scanned, facts }: Survey, duplicate: string | undefined, listed: Listed | undefined): void {
    if (this.#closed) return;
    const files = this.files;
    const index = files.length;
    // A survey is garbage once planned: the heap is kept near what is live.
    if (index % 1024 === 1023) boundHeap();
    const pool = this.#pool;
    const input = compactScanned(
      duplicate === undefined ? scanned : { ...scanned, kind: "duplicate", reason: duplicate },
      pool,
      { sop: false, listed },
    );
    if (input.kind !== "dicom" || !facts) {
      const status: Disposition = input.kind === "unreadable" ? "quarantine" : "skip";
      files.push({ input, status, reason: pool.string(input.reason ?? input.kind) });
      if (input.kind === "dicomdir") {
        this.#warnings.push({
          kind: "dicomdir",
          message: `${inputRef(index)}: DICOMDIR not copied: its records point at input paths`,
        });
      }
      return;
    }
    // Checked here, in input order over every file: which file a collision stops must not depend
    // on which worker de-identified which file.
    try {
      for (const [pseudo, subject] of facts.pseudonyms ?? []) this.#pseudonyms.register(pseudo, subject);
    } catch (e) {
      files.push({ input, status: "quarantine", reason: (e as Error).message });
      return;
    }
    if (facts.warnings) this.#warnings.push(...facts.warnings);
    if (facts.errors) this.#errors.push(...facts.errors);
    for (const t of facts.na ?? []) this.#naCount.set(t, (this.#naCount.get(t) ?? 0) + 1);
    if (facts.quarantine !== undefined || facts.dest === undefined) {
      files.push({
        input,
        status: "quarantine",
        reason: pool.string(facts.quarantine),
        suspect: pool.data(facts.suspect),
      });
      return;
    }
    const dest = facts.dest;
    const folder = folderOf(dest);
    const key = `${facts.seriesUID ?? ""}\0${folder}`;
    const series = this.#series;
    let s = this.#seriesIndex.get(key);
    if (s === undefined) {
      s = series.length;
      this.#seriesIndex.set(key, s);
      series.push({
        folder,
        seriesUID: facts.seriesUID,
        studyUID: facts.studyUID,
        pseudoId: facts.pseudoId,
        modality: facts.modality,
        description: facts.description,
        files: 0,
        bytes: 0,
        representative: index,
        changes: [],
        frames: 0,
      });
      this.#seriesDest.push(dest);
    }
    if (dest < this.#seriesDest[s]) this.#seriesDest[s] = dest;
    series[s].files++;
    series[s].bytes += input.size;
    series[s].frames += facts.frames;
    const actions = this.#actions;
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
    this.#written++;
  }

  /**
   * Once every file is given: the plan. Its warnings are appended to `warnings` (files that share a
   * SOP Instance UID first, then each file's, then the template's) and its errors to `errors`.
   */
  finish(warnings: PlanWarning[], errors: string[]): Assembled {
    for (const [i, j] of this.#instances.sameInstance) {
      warnings.push({
        kind: "same-instance",
        message: `${inputRef(i)} has the SOP Instance UID of ${
          inputRef(j)
        } but other bytes: both are written`,
      });
    }
    warnings.push(...this.#warnings);
    errors.push(...this.#errors);
    const written = this.#written;
    for (const [t, n] of this.#naCount) {
      if (n === written && written > 0) {
        warnings.push({
          kind: "template-na",
          message: `the output template uses ${lookupTag(t)?.keyword ?? "the element"} ${formatTag(t)}, ` +
            `which is ${MISSING} for every file (absent, or removed by the profile: keep it with a per-tag ` +
            `rule if it holds nothing identifying, or take it out of the template)`,
        });
      }
    }
    return { files: this.files, series: this.#series, seriesDest: this.#seriesDest, actions: this.#actions };
  }
}
