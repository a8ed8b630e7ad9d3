/**
 * The run's journal, `journal.jsonl` in its state folder: "claim" lines name the outputs a run is
 * about to produce (written before any of them is started), full entries the ones it finished. A
 * file a killed run renamed into place but did not record is claimed, so the next run knows it is
 * its own and redoes it. A series converted to NIfTI claims its stem (its outputs' names depend on
 * how it splits). The journal never holds original identities.
 *
 * Its lines and how they are appended are here; how a run reads it back is `journal_index.ts`.
 *
 * @module
 */
import { PRIVATE_FILE } from "../util/atomic.ts";
import {
  hasIdentity,
  lstatOrUndefined,
  type OutputIdentity,
  statOrUndefined,
} from "../util/file_identity.ts";
import { sha256File } from "../util/hash.ts";
import type { FileOutcome } from "./process.ts";
import type { SeriesOutcome } from "./series.ts";

/**
 * One journal line: a finished output and how to tell it is still what was written: its identity
 * on disk (inode, size, modification time: see `OutputIdentity`), or for a sort-only link, the
 * kind of link (a hard link is the input's inode, a symbolic link names the input). Journals of
 * dcmtidy 0.1 before this hashed every output (`sha256`): their entries are checked that way.
 */
export interface JournalEntry {
  readonly input: string;
  readonly dest: string;
  readonly output?: OutputIdentity;
  readonly link?: "hard" | "symbolic";
  readonly sha256?: string;
  /** The input's modification time (ms) before it was read: a changed input is done again. */
  readonly inputMtime?: number;
  /** Without the original PatientID and StudyInstanceUID (see `withoutOriginals`). */
  readonly outcome: FileOutcome;
}

/** One journal line for a series converted to NIfTI: its inputs, and what was written (with hashes). */
export interface SeriesEntry {
  /** The series' NIfTI stem (relative to the output root). */
  readonly series: string;
  /** Its input paths, in plan order. */
  readonly inputs: readonly string[];
  readonly outcome: SeriesOutcome;
}

/**
 * An outcome without the original PatientID and StudyInstanceUID: they link the pseudonym to the
 * patient, which only the key file (outside the output root) may do.
 */
export function withoutOriginals(o: FileOutcome): FileOutcome {
  const { originalPatientId: _id, originalStudyUID: _study, ...rest } = o;
  return rest;
}

export function seriesWithoutOriginals(o: SeriesOutcome): SeriesOutcome {
  return { ...o, files: o.files.map(withoutOriginals) };
}

/** Whether the output at `dest` is still what the journal entry recorded (see `JournalEntry`). */
export async function isJournaled(
  entry: Pick<JournalEntry, "output" | "link" | "input" | "sha256">,
  dest: string,
): Promise<boolean> {
  if (entry.link === "symbolic") return (await Deno.readLink(dest).catch(() => undefined)) === entry.input;
  if (entry.link === "hard") {
    const out = lstatOrUndefined(dest);
    const input = statOrUndefined(entry.input);
    return !!out?.isFile && !!input && out.ino !== null && out.ino === input.ino && out.dev === input.dev;
  }
  if (entry.output) return hasIdentity(dest, entry.output);
  return entry.sha256 !== undefined && (await sha256File(dest).catch(() => undefined)) === entry.sha256;
}

/**
 * The journal opened for appending, line by line through one open file (not an open and close per
 * file, on the thread that feeds the workers): a kill can cut at most the last line, which
 * `readJournal` skips. Appends are written in the order they are asked for; `append` resolves once
 * its text is written. Texts appended while a write is under way go out together in the next one
 * (a run that records each file as a worker reports it wrote one line a write, 27 us each on the
 * main thread). A write that fails fails its appends and every one after it.
 */
export async function openJournalAppender(
  path: string,
): Promise<{ append: (text: string) => Promise<void>; [Symbol.dispose](): void }> {
  const file = await Deno.open(path, { append: true, create: true, mode: PRIVATE_FILE });
  const encoder = new TextEncoder();
  let written = Promise.resolve();
  // The texts the next write takes, and that write (made when the first of them was appended).
  let queued: string[] = [];
  let next: Promise<void> | undefined;
  // Why a write failed: every append after it fails with it, and nothing more is queued.
  let failed: { error: unknown } | undefined;
  return {
    append: (text) => {
      if (failed) return Promise.reject(failed.error);
      queued.push(text);
      next ??= written = written.then(async () => {
        const bytes = encoder.encode(queued.join(""));
        queued = [];
        next = undefined;
        try {
          for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
        } catch (error) {
          failed ??= { error };
          throw error;
        }
      });
      return next;
    },
    [Symbol.dispose]: () => file.close(),
  };
}
