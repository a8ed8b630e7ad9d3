/**
 * The plan's sandboxed workers: they may read the inputs and write nothing (or, with a caller's
 * `SurveyAhead`, only where it says), and get the de-identification settings (hooks by name only:
 * the plan counts what a hook returns as removed) and the salt as data.
 *
 * @module
 */
import type { DeidConfig } from "../deid/config.ts";
import type { Protocol } from "../protocol/protocol.ts";
import { letGo, type ListedFiles, plainListed } from "../scan/inputs.ts";
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

/** A plan's workers: they survey files and make dry-run diffs. */
export interface PlanWorkers {
  /**
   * Survey the listed files; the result is in the order of `listed`. `listed` is handed over: each
   * entry is let go (`letGo`: a `Listing` releases it, an array's is made undefined) once its survey
   * is in, which then holds what it needs of it, so the listing does not stay whole through the
   * scan. `indices`: each file's index in the whole listing when `listed` is a share of it (what
   * warnings name it by); by default its position.
   * `spill`: where the surveys go past a bound (see `FileRecords`); in memory without it.
   */
  survey(
    listed: ListedFiles,
    onProgress?: (done: number, total: number) => void,
    indices?: readonly number[],
    spill?: PlanSpill,
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
    survey: async (files, onProgress, indices, spill) => {
      const out = new SurveyRecords(spill, files.length);
      const position = indices && new Map(indices.map((index, i) => [index, i]));
      // Each message makes fresh copies of a series' values: one copy of each is kept.
      const shared = ahead?.shared ?? new Interner();
      ahead?.onSurvey?.(files.length);
      let done = 0;
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
              out.set(at, compactSurvey(r.survey, shared, files.at(at)));
              letGo(files, at);
              if (r.extra !== undefined) ahead?.onExtra(r.index, r.extra);
              onProgress?.(++done, files.length);
            },
          },
        );
      } catch (e) {
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
