/**
 * The plan's sandboxed workers: they may read the inputs and write nothing (or, with a caller's
 * `SurveyAhead`, only where it says), and get the de-identification settings (hooks by name only:
 * the plan counts what a hook returns as removed) and the salt as data.
 *
 * @module
 */
import type { DeidConfig } from "../deid/config.ts";
import type { Protocol } from "../protocol/protocol.ts";
import { letGo, type Listed, type ListedFiles, plainListed } from "../scan/inputs.ts";
import { linkTargetDirs, workerPermissions } from "../workers/permissions.ts";
import { mapInPool, openPool } from "../workers/pool.ts";
import { compactSurvey, type Survey } from "./survey.ts";
import { Interner } from "../scan/intern.ts";
import type { ChangesOf, FromPlanWorker, TextOf, ToPlanWorker } from "./survey_worker.ts";
import { ocrBinaries } from "../pixels/ocr.ts";
import { codecBinaries } from "../pixels/wasm.ts";
import type { SurveyAhead } from "./types.ts";
import type { FileRecords, PlanSpill } from "./file_records.ts";
import { SurveyRecords } from "./survey_records.ts";

/** The paths of the files to read in `listed`, made as they are asked for (only where links are followed). */
function* regularPaths(listed: ListedFiles): Generator<string> {
  for (let i = 0; i < listed.length; i++) {
    const f = listed.at(i);
    if (f && !f.notRegular) yield f.path;
  }
}

/** What takes a plan's surveys in input order as they come (its assembly, `Assembly.add`). */
export interface InOrder {
  add(survey: Survey, listed?: Listed): void | Promise<void>;
}

/** A plan's workers: they survey files and make dry-run diffs. */
export interface PlanWorkers {
  /**
   * Survey the listed files; the result is in the order of `listed`. `listed` is handed over: each
   * entry is let go (`letGo`: a `Listing` releases it, an array's is made undefined) once its survey
   * is in, which then holds what it needs of it, so the listing does not stay whole through the
   * scan. `indices`: each file's index in the whole listing when `listed` is a share of it (what
   * warnings name it by); by default its position.
   * `spill`: where the surveys go past a bound (see `FileRecords`); in memory without it.
   * `inOrder`: takes each survey in the order of `listed` as soon as it and those before it are in
   * (each is then gone from the records returned); a promise it returns is waited for before it is
   * given the next, and its failure stops the survey.
   */
  survey(
    listed: ListedFiles,
    onProgress?: (done: number, total: number) => void,
    indices?: readonly number[],
    spill?: PlanSpill,
    inOrder?: InOrder,
  ): Promise<FileRecords<Survey>>;
  /** The dry-run diffs of these files (in no particular order). */
  changes(files: readonly { index: number; path: string }[]): Promise<ChangesOf[]>;
  /** Boxes of text in these files' first frames (`pixels_detect: ocr`; in no particular order). */
  text(files: readonly { index: number; path: string }[]): Promise<TextOf[]>;
  /** Stop the workers past the first `keep` (see `Pool.retire`). */
  retire(keep: number): void;
  /** Stop the workers. */
  close(): void;
}

/**
 * Start up to `workers` sandboxed workers for a plan (of `ahead.script` when given): no more than
 * `listed` has files, and allowed to read the folders its links lead to. Before the listing
 * (`listed` undefined) where links are not followed, as many as asked.
 */
export async function openPlanWorkers(
  p: Protocol,
  config: DeidConfig | undefined,
  salt: Uint8Array | undefined,
  listed: ListedFiles | undefined,
  workers: number,
  ahead?: SurveyAhead,
): Promise<PlanWorkers> {
  if (config && !salt) throw new Error("sandboxed workers need the salt's bytes");
  const init: ToPlanWorker = {
    type: "init",
    config: config && { ...config, hooks: {} },
    salt,
    plan: {
      root: p.output.root,
      folder: p.output.folder.source,
      file: p.output.file.source,
      burnedIn: p.deidentify?.burned_in ?? "warn",
      keepFields: !p.deidentify,
    },
    ahead: ahead?.init,
    // Searching pixels for text: the worker may not read the module cache, so it gets the bytes.
    pixels: p.deidentify?.pixels_detect === "ocr"
      ? { codecs: await codecBinaries(), ocr: await ocrBinaries() }
      : undefined,
  };
  if (!listed && p.input.followSymlinks) throw new Error("workers that follow links need the listing");
  const linked = listed ? linkTargetDirs(p, regularPaths(listed)) : [];
  // They write nothing, or only where the caller's extra work writes.
  const permissions = { ...workerPermissions(p, linked), write: ahead ? [...ahead.write] : false };
  const script = ahead?.script ?? new URL("./_plan_worker.ts", import.meta.url);
  const count = Math.max(1, Math.min(workers, listed?.length ?? workers));
  const pool = await openPool<ToPlanWorker, FromPlanWorker>(script, count, permissions, init);
  return {
    survey: async (files, onProgress, indices, spill, inOrder) => {
      const out = new SurveyRecords(spill, files.length);
      const position = indices && new Map(indices.map((index, i) => [index, i]));
      // Each message makes fresh copies of a series' values: one copy of each is kept.
      const shared = ahead?.shared ?? new Interner();
      ahead?.onSurvey?.(files.length);
      let done = 0;
      const order = inOrder && new Sequence(inOrder);
      try {
        await mapInPool(
          pool,
          // The jobs are made a batch at a time, not one object a file for the whole scan.
          {
            length: files.length,
            slice: (from, to) =>
              Array.from({ length: to - from }, (_, i) => {
                const listed = plainListed(files.at(from + i)!);
                const extra = ahead?.forJob?.(listed);
                return {
                  index: indices?.[from + i] ?? from + i,
                  listed,
                  ...(extra === undefined ? {} : { ahead: extra }),
                };
              }),
          },
          (jobs): ToPlanWorker => ({ type: "survey", jobs }),
          (msg) => (msg.type === "surveyed" ? msg.surveys : undefined),
          {
            onResult: (r) => {
              const at = position ? position.get(r.index)! : r.index;
              // The next in order is taken at once, as it came; any other is held until it is.
              if (!order?.give(at, r.survey, files.at(at), out)) {
                out.set(at, compactSurvey(r.survey, shared, files.at(at)));
              }
              letGo(files, at);
              if (r.extra !== undefined) ahead?.onExtra(r.index, r.extra);
              onProgress?.(++done, files.length);
            },
            stop: () => order?.failure,
          },
        );
        await order?.end(out);
      } catch (e) {
        order?.stop();
        out.close();
        throw e;
      }
      return out;
    },
    text: (files) =>
      mapInPool(
        pool,
        files,
        (jobs): ToPlanWorker => ({ type: "text", jobs: [...jobs] }),
        (msg) => (msg.type === "texted" ? msg.text : undefined),
        { maxBatch: 1 },
      ),
    changes: (files) =>
      mapInPool(
        pool,
        files,
        (jobs): ToPlanWorker => ({ type: "changes", jobs: [...jobs] }),
        (msg) => (msg.type === "changed" ? msg.changes : undefined),
      ),
    retire: pool.retire,
    close: pool.close,
  };
}

/**
 * Surveys handed to an `InOrder` in the order of their files: the next one as it arrives, those
 * after it from the records where they wait, one at a time (a promise from `add` is waited for).
 */
class Sequence {
  readonly #to: InOrder;
  #next = 0;
  /** The `add` under way, and what follows it. */
  #pending: Promise<void> | undefined;
  #stopped = false;
  /** Why the survey stops: what `add` threw or rejected with. */
  failure: Error | undefined;

  constructor(to: InOrder) {
    this.#to = to;
  }

  /**
   * Survey `at` (of file `listed`) has arrived: given at once when it is the next and nothing is
   * under way (true), else left for the caller to hold in `held` (false). Those held after it are
   * given after it.
   */
  give(at: number, survey: Survey, listed: Listed | undefined, held: FileRecords<Survey>): boolean {
    if (this.#pending || this.#stopped || at !== this.#next) return false;
    this.#take(survey, listed, held);
    return true;
  }

  /** Once every survey has arrived (in `held` or given): wait for them all to be given. */
  async end(held: FileRecords<Survey>): Promise<void> {
    try {
      while (this.#pending) await this.#pending;
      const s = this.#heldNext(held);
      if (s) this.#take(s, undefined, held);
      while (this.#pending) await this.#pending;
      if (this.failure) throw this.failure;
      if (this.#next < held.length) throw new Error(`the survey of file ${this.#next} was never given`);
    } finally {
      this.#stopped = true;
    }
  }

  /** Give `survey` (the next), then those held after it, until one is missing or one is under way. */
  #take(survey: Survey, listed: Listed | undefined, held: FileRecords<Survey>): void {
    for (let s: Survey | undefined = survey; s && !this.#stopped; s = this.#heldNext(held)) {
      this.#next++;
      let pending: void | Promise<void>;
      try {
        pending = this.#to.add(s, listed);
      } catch (e) {
        return this.#fail(e);
      }
      listed = undefined;
      if (pending) {
        this.#pending = pending.then(
          () => {
            this.#pending = undefined;
            const s = this.#heldNext(held);
            if (s) this.#take(s, undefined, held);
          },
          (e) => {
            this.#pending = undefined;
            this.#fail(e);
          },
        );
        return;
      }
    }
  }

  /** Give no more (the survey failed). */
  stop(): void {
    this.#stopped = true;
  }

  #fail(e: unknown): void {
    this.failure ??= e instanceof Error ? e : new Error(String(e));
    this.#stopped = true;
  }

  /** The next survey in order if it is held (taken from `held`), else undefined. */
  #heldNext(held: FileRecords<Survey>): Survey | undefined {
    return !this.#stopped && this.#next < held.length && held.has(this.#next)
      ? held.take(this.#next)
      : undefined;
  }
}
