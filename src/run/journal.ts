/**
 * The run's journal, `journal.jsonl` in its state folder: "claim" lines name the outputs a run is
 * about to produce (written before any of them is started), full entries the ones it finished. A
 * file a killed run renamed into place but did not record is claimed, so the next run knows it is
 * its own and redoes it. A series converted to NIfTI claims its stem (its outputs' names depend on
 * how it splits). The journal never holds original identities.
 *
 * @module
 */
import type { Shard } from "../plan/mod.ts";
import { PRIVATE_FILE, setMode, writeAtomically } from "../util/atomic.ts";
import {
  hasIdentity,
  lstatOrUndefined,
  type OutputIdentity,
  statOrUndefined,
} from "../util/file_identity.ts";
import { sha256File } from "../util/hash.ts";
import type { FileOutcome } from "./process.ts";
import type { SeriesOutcome } from "./series.ts";
import { journalPath } from "./state_dir.ts";

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

/** What the journal holds. */
export interface Journal {
  readonly done: Map<string, JournalEntry>;
  readonly claimed: Set<string>;
  /** Finished series, by NIfTI stem. */
  readonly series: Map<string, SeriesEntry>;
  /** NIfTI stems a run set out to write: every name of their family is dcmtidy's. */
  readonly claimedSeries: Set<string>;
}

/**
 * The journal: "claim" lines name the outputs a run is about to produce (written before any of
 * them is started), full entries the ones it finished. A file a killed run renamed into place
 * but did not record is claimed, so the next run knows it is its own and redoes it. A series
 * converted to NIfTI claims its stem (its outputs' names depend on how it splits).
 */
export async function readJournal(path: string): Promise<Journal> {
  let text = "";
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return parseJournal("");
    throw e;
  }
  await setMode(path, PRIVATE_FILE);
  const journal = parseJournal(text);
  // A journal of an older dcmtidy held original identities: rewrite it without them.
  if (text.includes('"originalPatientId"') || text.includes('"originalStudyUID"')) {
    const lines = [
      ...[...journal.claimed].map((claim) => ({ claim })),
      ...[...journal.claimedSeries].map((claimSeries) => ({ claimSeries })),
      ...journal.done.values(),
      ...journal.series.values(),
    ];
    await writeAtomically(path, lines.map((l) => JSON.stringify(l) + "\n").join(""), { mode: PRIVATE_FILE });
  }
  return journal;
}

/** A journal's lines, replayed. */
function parseJournal(text: string): Journal {
  const journal: Journal = {
    done: new Map(),
    claimed: new Set(),
    series: new Map(),
    claimedSeries: new Set(),
  };
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const entry = JSON.parse(line) as JournalLine;
      if ("claim" in entry) journal.claimed.add(entry.claim);
      else if ("claimSeries" in entry) journal.claimedSeries.add(entry.claimSeries);
      else if ("removed" in entry) {
        journal.done.delete(entry.removed);
        journal.claimed.delete(entry.removed);
      } else if ("removedSeries" in entry) {
        journal.series.delete(entry.removedSeries);
        journal.claimedSeries.delete(entry.removedSeries);
      } else if ("inputs" in entry) {
        journal.series.set(entry.series, { ...entry, outcome: seriesWithoutOriginals(entry.outcome) });
      } else journal.done.set(entry.dest, { ...entry, outcome: withoutOriginals(entry.outcome) });
    } catch {
      // A line cut by a crash: that file is simply redone.
    }
  }
  return journal;
}

/** An output an earlier run finished, as its journal says: a file whose output it is is not staged. */
export interface FinishedOutput {
  readonly input: string;
  readonly inputMtime?: number;
  readonly output: OutputIdentity;
}

/**
 * The de-identified outputs the journal of a run into `root` (of `shard`) has finished, by
 * destination: what a run's writing ahead leaves to the run to resume (see `stage.ts`).
 * Reads the journal only; empty when there is none.
 */
export async function finishedOutputs(root: string, shard?: Shard): Promise<Map<string, FinishedOutput>> {
  const text = await Deno.readTextFile(journalPath(root, shard)).catch(() => "");
  const out = new Map<string, FinishedOutput>();
  for (const e of parseJournal(text).done.values()) {
    if (e.output && !e.link) out.set(e.dest, { input: e.input, inputMtime: e.inputMtime, output: e.output });
  }
  return out;
}

/** The lines a journal holds. */
type JournalLine =
  | JournalEntry
  | SeriesEntry
  | { claim: string }
  | { claimSeries: string }
  /** An output an earlier run wrote, removed because the plan no longer makes it. */
  | { removed: string }
  | { removedSeries: string };

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
