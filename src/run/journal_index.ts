/**
 * The journal as a run finds it, without its lines in memory: one pass over `journal.jsonl` replays
 * them and keeps, for each output still finished or claimed, where its line is and 32-bit hashes of
 * its name and input (about 22 bytes an output); a lookup reads that line back and compares. Reading the whole journal into objects, as before, made a
 * second run over 300,000 finished files peak at 1,088 MB (a 220 MB journal read as text, parsed,
 * and handed to every survey worker): the first run had peaked at 204 MB.
 *
 * A NIfTI series' lines (a few a series) are kept as they are.
 *
 * @module
 */
import { PRIVATE_FILE, setMode, writeAtomically } from "../util/atomic.ts";
import { hash32, hash32b } from "../util/hash.ts";
import { HashIndex } from "../util/hash_index.ts";
import { readFileAt, ReadWindows } from "../util/read_windows.ts";
import type { OutputIdentity } from "../util/file_identity.ts";
import { type JournalEntry, type SeriesEntry, seriesWithoutOriginals, withoutOriginals } from "./journal.ts";
import { journalPath } from "./state_dir.ts";
import type { Shard } from "../plan/shard.ts";

/** An output an earlier run finished, as its journal says: a file whose output it is is not staged. */
export interface FinishedOutput {
  readonly input: string;
  readonly dest: string;
  readonly inputMtime?: number;
  readonly output: OutputIdentity;
}

/** What a line of an output (not a series) does, replayed in order. */
const ENTRY = 1;
const CLAIM = 2;
const REMOVED = 3;

/** Read in pieces of this size; a longer line is read whole all the same. */
const PIECE = 1 << 20;

/** See the module's documentation. */
export class Journal implements Disposable {
  /** Finished series, by NIfTI stem. */
  readonly series = new Map<string, SeriesEntry>();
  /** NIfTI stems a run set out to write: every name of their family is dcmtidy's. */
  readonly claimedSeries = new Set<string>();
  #file: Deno.FsFile | undefined;
  /**
   * Each kept line's place and length: 4 and 2 bytes while the journal is under 4 GiB and its lines
   * under 64 KiB (an output's line is about 730 bytes), 8 and 4 past that.
   */
  #off: Uint32Array | Float64Array = new Uint32Array(0);
  #len: Uint16Array | Uint32Array = new Uint16Array(0);
  readonly #entries = new HashIndex();
  readonly #claims = new HashIndex();
  readonly #inputs = new HashIndex();
  /** Slots of the entries whose output the run makes (see `done`), once it was said of one. */
  #made: Uint8Array | undefined;
  #decoder = new TextDecoder();
  /**
   * Lines read back a window at a time: a run asks for them in about the order an earlier run wrote
   * them (the order of its files), so most come from memory, not a seek and a read each. A few
   * windows: its entries, and its claims, which it wrote a chunk ahead of them.
   */
  readonly #windows = new ReadWindows((offset, into) => readFileAt(this.#file!, offset, into), { count: 4 });

  /** A journal with nothing in it (there is no file yet). */
  static empty(): Journal {
    return new Journal(undefined);
  }

  private constructor(file: Deno.FsFile | undefined) {
    this.#file = file;
  }

  /** How many outputs it has finished. */
  get finished(): number {
    return this.#entries.size;
  }

  /**
   * The entry of the output at `dest` (relative to the output root), if it is finished. `made`: the
   * run makes `dest` (writes it, or resumes it): its entry is not one `entries` gives with `unmade`.
   */
  done(dest: string, made = false): JournalEntry | undefined {
    if (!this.#entries.size) return undefined;
    for (const slot of this.#entries.candidates(hash32(dest))) {
      const e = this.#line(slot) as JournalEntry | undefined;
      if (e?.dest !== dest) continue;
      if (made) (this.#made ??= new Uint8Array(this.#len.length))[slot] = 1;
      return { ...e, outcome: withoutOriginals(e.outcome) };
    }
    return undefined;
  }

  /**
   * Whether a run set out to write `dest` (and no line since said it was removed): asked of outputs
   * not finished (`done` finds none), and answered for those only.
   */
  claimed(dest: string): boolean {
    if (!this.#claims.size) return false;
    for (const slot of this.#claims.candidates(hash32(dest))) {
      if ((this.#line(slot) as { claim?: string } | undefined)?.claim === dest) return true;
    }
    return false;
  }

  /** The de-identified outputs finished from the input at `path` (usually one). */
  finishedFrom(path: string): FinishedOutput[] {
    const out: FinishedOutput[] = [];
    for (const slot of this.#inputs.candidates(hash32(path))) {
      const e = this.#line(slot, true) as Partial<JournalEntry> | undefined;
      if (e?.input !== path || !e.dest || !e.output || e.link) continue;
      out.push({ input: e.input, dest: e.dest, inputMtime: e.inputMtime, output: e.output });
    }
    return out;
  }

  /**
   * Every finished output's entry, in the order of their lines; with `unmade`, only those whose
   * output the run was not said to make (see `done`).
   */
  *entries(opts: { unmade?: boolean } = {}): IterableIterator<JournalEntry> {
    const made = opts.unmade ? this.#made : undefined;
    const slots = [...this.#entries.values()].filter((slot) => !made?.[slot]).sort((a, b) =>
      this.#off[a] - this.#off[b]
    );
    for (const slot of slots) {
      const e = this.#line(slot) as JournalEntry | undefined;
      if (e) yield { ...e, outcome: withoutOriginals(e.outcome) };
    }
  }

  [Symbol.dispose](): void {
    this.#file?.close();
    this.#file = undefined;
    this.#windows.clear();
  }

  /**
   * The kept line at `slot`, parsed (undefined if it no longer parses: the file changed under us).
   * `head`: an entry's fields before its outcome only (most of a line's bytes, not needed to tell
   * what was finished from an input): the line is cut before `,"outcome":`, which a run writes after
   * them (the quotes would be escaped inside a value); a line without it is parsed whole.
   */
  #line(slot: number, head = false): unknown {
    if (!this.#file) return undefined;
    const length = this.#len[slot];
    const bytes = this.#windows.read(this.#off[slot], length);
    if (bytes.length < length) return undefined;
    try {
      const text = this.#decoder.decode(bytes);
      const cut = head ? text.indexOf(',"outcome":') : -1;
      return JSON.parse(cut < 0 ? text : `${text.slice(0, cut)}}`);
    } catch {
      return undefined;
    }
  }

  /** Replay the journal's lines (see `readJournal`); whether any held original identities. */
  #replay(): boolean {
    const lines = new LineTable();
    let legacy = false;
    forEachLine(this.#file!, (text, offset, length) => {
      // A line cut by a crash, or not one of ours: skipped (that file is simply redone).
      if (text.includes('"originalPatientId"') || text.includes('"originalStudyUID"')) legacy = true;
      try {
        const entry = JSON.parse(text) as JournalLine;
        if ("claim" in entry) lines.add(CLAIM, name(entry.claim), offset, length);
        else if ("claimSeries" in entry) this.claimedSeries.add(name(entry.claimSeries));
        else if ("removed" in entry) lines.add(REMOVED, name(entry.removed), offset, length);
        else if ("removedSeries" in entry) {
          this.series.delete(entry.removedSeries);
          this.claimedSeries.delete(entry.removedSeries);
        } else if ("inputs" in entry) {
          this.series.set(name(entry.series), { ...entry, outcome: seriesWithoutOriginals(entry.outcome) });
        } else if (entry.outcome) lines.add(ENTRY, name(entry.dest), offset, length, name(entry.input));
      } catch { /* skipped */ }
    });
    // What each output's lines leave, in their order: its last entry unless removed since, and its
    // claims unless removed since. A claim matters only to an output not finished (a run asks
    // whether it set out to write a file it has no entry for), so one is kept only then.
    const kept: number[] = [];
    lines.byKey((group) => {
      let entry = -1;
      let claim = -1;
      for (const i of group) {
        if (lines.kind[i] === ENTRY) entry = i;
        else if (lines.kind[i] === CLAIM) claim = i;
        else entry = claim = -1;
      }
      if (entry >= 0) kept.push(entry);
      else if (claim >= 0) kept.push(claim);
    });
    const far = kept.some((i) => lines.off[i] + lines.len[i] > 0xffffffff);
    const long = kept.some((i) => lines.len[i] > 0xffff);
    this.#off = far ? new Float64Array(kept.length) : new Uint32Array(kept.length);
    this.#len = long ? new Uint32Array(kept.length) : new Uint16Array(kept.length);
    kept.forEach((i, slot) => {
      this.#off[slot] = lines.off[i];
      this.#len[slot] = lines.len[i];
      if (lines.kind[i] === CLAIM) this.#claims.add(lines.h1[i], slot);
      else {
        this.#entries.add(lines.h1[i], slot);
        this.#inputs.add(lines.input[i], slot);
      }
    });
    return legacy;
  }

  /** Read the journal at `path` (see `readJournal`). */
  static async read(path: string, rewritten = false): Promise<Journal> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return Journal.empty();
      throw e;
    }
    const journal = new Journal(file);
    try {
      await setMode(path, PRIVATE_FILE);
      if (!journal.#replay() || rewritten) return journal;
      // A journal of an older dcmtidy held original identities: rewrite it without them.
      const lines = [
        ...[...journal.#claims.values()].map((slot) => ({
          claim: (journal.#line(slot) as { claim: string }).claim,
        })),
        ...[...journal.claimedSeries].map((claimSeries) => ({ claimSeries })),
        ...journal.entries(),
        ...journal.series.values(),
      ];
      await writeAtomically(path, lines.map((l) => JSON.stringify(l) + "\n").join(""), {
        mode: PRIVATE_FILE,
      });
    } catch (e) {
      journal[Symbol.dispose]();
      throw e;
    }
    journal[Symbol.dispose]();
    return await Journal.read(path, true);
  }
}

/**
 * The journal in `path` (its lines replayed: "claim" lines name the outputs a run set out to
 * produce, entries the ones it finished, "removed" lines those taken away since); empty when there
 * is none. A line cut by a crash is skipped (that file is simply redone). Close it when done.
 */
export function readJournal(path: string): Promise<Journal> {
  return Journal.read(path);
}

/**
 * The de-identified outputs the journal of a run into `root` (of `shard`) has finished, by
 * destination. Reads the journal only; empty when there is none. Holds them all: a run asks its
 * `Journal` one input at a time instead (`Journal.finishedFrom`).
 */
export async function finishedOutputs(root: string, shard?: Shard): Promise<Map<string, FinishedOutput>> {
  using journal = await readJournal(journalPath(root, shard));
  const out = new Map<string, FinishedOutput>();
  for (const e of journal.entries()) {
    if (e.output && !e.link) {
      out.set(e.dest, { input: e.input, dest: e.dest, inputMtime: e.inputMtime, output: e.output });
    }
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

/** A line's name of an output, input or series: a string, or the line is not one of ours. */
function name(value: unknown): string {
  if (typeof value !== "string") throw new TypeError("not a journal line");
  return value;
}

/** Call `fn` with each line of `file` (from its start), its byte offset and length. */
function forEachLine(file: Deno.FsFile, fn: (text: string, offset: number, length: number) => void): void {
  const decoder = new TextDecoder();
  let buffer = new Uint8Array(PIECE);
  let filled = 0; // bytes in `buffer`, from the file at `base`
  let base = 0;
  file.seekSync(0, Deno.SeekMode.Start);
  for (;;) {
    if (filled === buffer.length) {
      const grown = new Uint8Array(buffer.length * 2); // a line longer than the buffer
      grown.set(buffer);
      buffer = grown;
    }
    const n = file.readSync(buffer.subarray(filled));
    const end = n === null;
    if (!end) filled += n;
    let start = 0;
    for (let nl = buffer.indexOf(10, start); nl >= 0 && nl < filled; nl = buffer.indexOf(10, start)) {
      if (nl > start) fn(decoder.decode(buffer.subarray(start, nl)), base + start, nl - start);
      start = nl + 1;
    }
    if (end) {
      // The last line has no newline: cut by a crash, or the file's end.
      if (filled > start) fn(decoder.decode(buffer.subarray(start, filled)), base + start, filled - start);
      return;
    }
    buffer.copyWithin(0, start, filled);
    filled -= start;
    base += start;
  }
}

/** The lines of outputs (not series) as they are read: what each does, where it is, its keys' hashes. */
class LineTable {
  kind = new Uint8Array(1024);
  off = new Float64Array(1024);
  len = new Uint32Array(1024);
  h1 = new Uint32Array(1024);
  h2 = new Uint32Array(1024);
  /** An entry's input's hash. */
  input = new Uint32Array(1024);
  size = 0;

  add(kind: number, dest: string, offset: number, length: number, input?: string): void {
    if (this.size === this.kind.length) this.#grow();
    const i = this.size++;
    this.kind[i] = kind;
    this.off[i] = offset;
    this.len[i] = length;
    this.h1[i] = hash32(dest);
    this.h2[i] = hash32b(dest);
    this.input[i] = input === undefined ? 0 : hash32(input);
  }

  /**
   * Call `fn` with the lines of each output, in their order: lines whose two hashes of the output's
   * name are the same (2^64 values: two names that share both are taken as one).
   */
  byKey(fn: (lines: number[]) => void): void {
    const index = new HashIndex();
    for (let i = 0; i < this.size; i++) index.add(this.h1[i], i);
    for (const group of index.groups()) {
      // Several names under one first hash: told apart by the second.
      if (group.every((i) => this.h2[i] === this.h2[group[0]])) {
        fn(group);
        continue;
      }
      const byCheck = new Map<number, number[]>();
      for (const i of group) byCheck.set(this.h2[i], [...(byCheck.get(this.h2[i]) ?? []), i]);
      for (const lines of byCheck.values()) fn(lines);
    }
  }

  #grow(): void {
    const n = this.kind.length * 2;
    const grow = <T extends Uint8Array | Uint32Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.kind = grow(this.kind, (n) => new Uint8Array(n));
    this.off = grow(this.off, (n) => new Float64Array(n));
    this.len = grow(this.len, (n) => new Uint32Array(n));
    this.h1 = grow(this.h1, (n) => new Uint32Array(n));
    this.h2 = grow(this.h2, (n) => new Uint32Array(n));
    this.input = grow(this.input, (n) => new Uint32Array(n));
  }
}
