/**
 * The run's DICOM phase: each file to write is resumed (the journal finished it, its input is
 * unchanged and its output is still the one written), taken from what the plan wrote ahead, or
 * written now: copied or linked by this thread for a sort-only run, de-identified in the workers
 * (or this thread) otherwise. Every output is claimed in the journal before it is started and
 * recorded once it has its name.
 *
 * @module
 */
import { dirname } from "node:path";
import { preparePixelWork } from "../pixels/transcode.ts";
import type { PlannedFile } from "../plan/mod.ts";
import {
  identityOf,
  type InputStamp,
  lstatOrUndefined,
  sameStamp,
  stampOf,
  statOrUndefined,
} from "../util/file_identity.ts";
import { boundHeap } from "../util/heap.ts";
import { RunRefusal } from "./errors.ts";
import { isJournaled } from "./journal.ts";
import { changedReason, type FileJob, type FileOutcome, placeFile, processFile } from "./process.ts";
import { moveStaged, openPlacer, type Placer, type StagedMove } from "./placer.ts";
import { recordFile, recordOutcome } from "./record_outcome.ts";
import type { StagedOutput } from "./stage.ts";
import { absentFolders, destPath, otherRuns } from "./output_root.ts";
import type { RunContext } from "./types.ts";
import { openRunWorkers, rewritesPixels, type RunWorkers } from "./workers.ts";

/**
 * Files a run takes through its steps at a time (stat, resume check, claim, move of what was
 * written ahead, then writing the rest) unless told (`RunOptions.chunk`): what it holds for them is
 * dropped before the next but one, so memory does not grow with the files here.
 */
const CHUNK = 4096;

/**
 * The chunk when outputs written ahead are moved into place: two chunks are held at once then (one
 * being moved while the next is prepared), and with the placer's heap a run of 300,000 files held
 * 190 to 210 MB through the phase with chunks of 4,096 against 172 to 181 MB without the placer,
 * and 184 to 187 MB with chunks of 1,024 (which take as long).
 */
const STAGED_CHUNK = 1024;

/**
 * Chunks prepared ahead of the one being finished when a placer moves them (one otherwise): with
 * one, the placer waited for this thread's next chunk while it recorded the one before and
 * collected (a run of 300,000 files: the placer busy about 80 % of the phase, this thread 65 %).
 */
const CHUNKS_AHEAD = 2;

/** Write (or resume) `files`, given as their index in `Plan.files`. */
export async function writeFiles(ctx: RunContext, files: readonly number[]): Promise<void> {
  const absent = absentFolders(ctx.root);
  // Each file's journal line is appended as its outcome comes, not waited for one by one (the
  // appender writes those that queue meanwhile in one go); a failed append stops the run at the next
  // file, and the last is waited for before the run goes on.
  let appended: Promise<void> = Promise.resolve();
  let failed: { error: unknown } | undefined;
  const recordWith = (mtimes: Map<number, number | undefined>) => (result: FileOutcome): Promise<void> => {
    if (failed) return Promise.reject(failed.error);
    const line = recordOutcome(ctx, result, mtimes.get(result.index));
    if (line !== undefined) {
      appended = ctx.append(line);
      appended.catch((error) => failed ??= { error });
    }
    return Promise.resolve();
  };
  const writer = new ChunkWriter(ctx, files);
  const chunkSize = Math.max(1, ctx.opts.chunk ?? (ctx.opts.staging?.outputs.size ? STAGED_CHUNK : CHUNK));
  // Files from `from` on that the plan did not write ahead: at most so many more need writing here.
  const unstaged = (from: number) => {
    const staged = ctx.opts.staging?.outputs;
    let n = 0;
    for (let i = from; i < files.length; i++) if (!staged?.has(files[i])) n++;
    return n;
  };
  // Written ahead: the moves into place go to the placer, which makes them while this thread
  // prepares the next chunk and records the one before. It starts while the first is prepared; one
  // that cannot start leaves the moves to this thread.
  const placer = ctx.opts.staging?.outputs.size && (ctx.opts.workers ?? 0) > 0
    ? openPlacer(ctx.plan.protocol)
    : undefined;
  placer?.catch(() => {});
  const move = async (moves: readonly StagedMove[]): Promise<Uint8Array> => {
    const worker = await placer?.catch(() => undefined);
    return worker ? await worker.move(moves) : Uint8Array.from(moves, (m) => moveStaged(m) ? 1 : 0);
  };
  // A chunk is prepared (its inputs checked, its files claimed, its staged outputs on their way into
  // place) one chunk, or `CHUNKS_AHEAD` with a placer, before it is finished (its moved files recorded,
  // the rest written), so the placer has a chunk to move while this thread records one and collects
  // its garbage. What a chunk holds is dropped once it is finished.
  const pending: Prepared[] = [];
  const recorded = (chunk: Prepared) => (chunk.recorded ??= recordMoved(ctx, chunk));
  // The oldest pending chunk; `rest`: where the files not yet prepared start.
  const finishOldest = async (rest: number) => {
    const chunk = pending.shift()!;
    const later = await recorded(chunk);
    if (!later.length) return;
    // The next chunk's moved files are recorded before these are written (which takes a while): a
    // stop meanwhile finds them in the journal, not only claimed.
    const [next, ...others] = pending;
    const nextLater = next ? (await recorded(next)).length : 0;
    const othersAtMost = others.reduce((n, c) => n + c.jobs.length, 0);
    await writer.write(
      later,
      recordWith(chunk.mtimes),
      () => later.length + nextLater + othersAtMost + unstaged(rest),
    );
  };
  try {
    for (let from = 0; from < files.length; from += chunkSize) {
      try {
        pending.push(await prepareChunk(ctx, files.slice(from, from + chunkSize), absent, move));
      } catch (e) {
        // The chunks before are finished all the same: their moved files are recorded.
        while (pending.length) await finishOldest(from).catch(() => {});
        throw e;
      }
      if (pending.length > (placer ? CHUNKS_AHEAD : 1)) await finishOldest(from + chunkSize);
      // What a chunk held is garbage now: the heap is kept near what is live (a run of 30,000 files
      // used up to 96 MB of heap here without it, 80 MB with it).
      boundHeap();
    }
    while (pending.length) await finishOldest(files.length);
  } finally {
    // Whatever stopped the run, moves under way end before the placer stops, and the files moved are
    // recorded: they are in place (a kill before that leaves them claimed, and the next run redoes them).
    for (const chunk of pending) await recorded(chunk).catch(() => {});
    (await placer?.catch(() => undefined))?.close();
    await writer.close();
    // Whatever stopped the run (a file in the way in a later chunk), the lines of the files written
    // are in the journal before it is closed.
    await appended.catch(() => {});
  }
  await appended;
}

/**
 * Writes the files a run writes itself (not resumed, not written ahead), a chunk at a time: copied
 * or linked by this thread for a sort-only run, de-identified in the workers (started for the
 * first chunk that has such files, and kept for the others) or in this thread otherwise.
 */
class ChunkWriter {
  readonly #ctx: RunContext;
  readonly #files: readonly number[];
  #workers?: Promise<RunWorkers>;
  #pixelsReady = false;

  constructor(ctx: RunContext, files: readonly number[]) {
    this.#ctx = ctx;
    this.#files = files;
  }

  /**
   * Write `jobs`, each outcome to `record`; `atMost`: how many files, these included, may still be
   * written here (no more workers are started; asked once, when they are).
   */
  async write(
    jobs: FileJob[],
    record: (o: FileOutcome) => Promise<void>,
    atMost: () => number,
  ): Promise<void> {
    const { plan, opts, session } = this.#ctx;
    const p = plan.protocol;
    if (!p.deidentify) {
      // Sort only: the plan read each header (its report columns are in the plan), so nothing is
      // read again and no worker is needed; links have to be made here anyway (Deno asks for write
      // access to a link's target), and a copy is one call into the kernel.
      for (const job of jobs) await record(await placed(job, plan.files.get(job.index)));
    } else if ((opts.workers ?? 0) > 0) {
      if (!opts.salt) throw new Error("sandboxed workers need the salt's bytes");
      const files = this.#files;
      // Allowed to read the run's inputs (gone through only where links are followed).
      const inputs = function* () {
        for (const i of files) yield plan.files.get(i).input.path;
      };
      this.#workers ??= openRunWorkers(
        p,
        { ...opts.overrides, salt: opts.salt },
        Math.min(opts.workers!, atMost()),
        inputs(),
      );
      await (await this.#workers).run(jobs, record);
    } else {
      if (rewritesPixels(p) && !this.#pixelsReady) {
        await preparePixelWork();
        this.#pixelsReady = true;
      }
      for (const job of jobs) {
        // As in a worker: whatever happens to one file (its input removed meanwhile), the run goes on.
        await record(
          await processFile(job, session!).catch((e): FileOutcome => ({
            index: job.index,
            status: "quarantined",
            reason: (e as Error).message,
          })),
        );
      }
    }
  }

  /** Stop the workers, if any were started. */
  async close(): Promise<void> {
    const workers = this.#workers;
    this.#workers = undefined;
    (await workers?.catch(() => undefined))?.close();
  }
}

/** A chunk of `writeFiles` prepared: its files claimed, its staged outputs being moved. */
interface Prepared {
  /** Its files claimed (not resumed, not quarantined): those being moved, and those to write. */
  readonly jobs: FileJob[];
  /** Each job's input modification time before it was read (for its journal line). */
  readonly mtimes: Map<number, number | undefined>;
  readonly planned: Map<number, PlannedFile>;
  /** The staged outputs sent to be moved, by index, in the order of `moved`. */
  readonly staged: Map<number, StagedOutput>;
  /** Files whose input is checked where their staged output is moved, not before (see `checkInput`). */
  readonly deferred: ReadonlySet<number>;
  readonly moved: Promise<Uint8Array>;
  /** Once its moved files are recorded (`recordMoved`): the jobs left to write. */
  recorded?: Promise<FileJob[]>;
}

/**
 * One chunk of `writeFiles`: each file's input is checked (another size than the plan read: it is
 * quarantined; see `checkInput`), resumed when the journal has it, else claimed; then what the plan
 * wrote ahead is sent to be moved into place (`move`) if its input is as the plan read it. An input
 * written ahead is checked where it is moved, and by `recordMoved` when it is not moved.
 */
async function prepareChunk(
  ctx: RunContext,
  files: readonly number[],
  absent: (dir: string) => boolean,
  move: Placer["move"],
): Promise<Prepared> {
  const { plan, opts, root, journal } = ctx;
  const p = plan.protocol;
  const transcoding = p.output.transferSyntax === "keep" ? {} : { transferSyntax: p.output.transferSyntax };
  // Where links are followed, an input may be in a folder the placer may not read.
  const checkWhereMoved = !p.input.followSymlinks;
  const jobs: FileJob[] = [];
  const mtimes = new Map<number, number | undefined>();
  const stamps = new Map<number, InputStamp>();
  // This chunk's planned files, read once (they may be read back from disk).
  const planned = new Map<number, PlannedFile>();
  // A file written ahead, and not finished by an earlier run, has its input checked where it is
  // moved (see `StagedMove.input`): the check is the stat this thread makes of every other file.
  const deferred = new Set<number>();
  for (const i of files) {
    const f = plan.files.get(i);
    planned.set(i, f);
    const dest = destPath(root, f.dest!);
    const prior = journal.done(f.dest!, true);
    if (!prior && checkWhereMoved && opts.staging?.outputs.has(i)) deferred.add(i);
    else if (!(await checkInput(ctx, i, f, mtimes, stamps))) continue;
    const mtime = mtimes.get(i);
    if (
      prior && prior.input === f.input.path &&
      (prior.inputMtime === undefined || prior.inputMtime === mtime) &&
      (await isJournaled(prior, dest))
    ) {
      ctx.record({ ...prior.outcome, index: i }, f.input.header);
      ctx.kept(true);
      ctx.progress(f.input.size);
    } else {
      if (
        !prior && !journal.claimed(f.dest!) && !absent(dirname(dest)) &&
        lstatOrUndefined(dest) !== undefined
      ) {
        throw new RunRefusal(
          `${dest} exists and was not written by dcmtidy: refusing to replace it${
            otherRuns(root, opts.shard)
          }`,
        );
      }
      jobs.push({
        index: i,
        path: f.input.path,
        dest,
        mode: p.output.mode,
        studyUID: f.input.header?.studyUID ?? "",
        // Neither finished nor started by an earlier run: nothing was at dest (checked just above).
        ...(!prior && !journal.claimed(f.dest!) ? { fresh: true } : {}),
        ...transcoding,
      });
    }
  }
  if (jobs.length) {
    await ctx.append(jobs.map((j) => JSON.stringify({ claim: planned.get(j.index)!.dest }) + "\n").join(""));
  }
  // Written ahead by the plan, de-identified as the workers would: moved into place if its input is
  // as the plan read it and the staged file the one the plan wrote (see `moveStaged`); any other is
  // written later. Taken or not, it is not asked for again: what the staging holds goes as the run
  // goes on.
  const staged = new Map<number, StagedOutput>();
  const moves: StagedMove[] = [];
  for (const job of jobs) {
    const s = opts.staging?.outputs.get(job.index);
    opts.staging?.outputs.delete(job.index);
    const identity = s?.outcome.output;
    const checked = deferred.has(job.index);
    if (!s || !identity || !(checked || sameStamp(s.input, stamps.get(job.index)))) continue;
    // Moved only if its input is as the stamp says: its journal line has the stamp's time.
    if (checked) mtimes.set(job.index, s.input.mtimeMs);
    staged.set(job.index, s);
    moves.push({
      from: s.path,
      identity,
      dest: job.dest,
      ...(checked ? { input: { path: job.path, stamp: s.input } } : {}),
    });
  }
  const moved = moves.length ? move(moves) : Promise.resolve(new Uint8Array());
  moved.catch(() => {}); // whoever finishes the chunk sees a failure; one never finished is let go
  return { jobs, mtimes, planned, staged, deferred, moved };
}

/**
 * Check the input of the file at `i` (planned as `f`) before it is read or its staged output taken:
 * the same size as the plan read, and a regular file. Its time (for its journal line) goes to
 * `mtimes` and its stamp to `stamps` when given. False when it is not (it is recorded quarantined).
 */
async function checkInput(
  ctx: RunContext,
  i: number,
  f: PlannedFile,
  mtimes: Map<number, number | undefined>,
  stamps?: Map<number, InputStamp>,
): Promise<boolean> {
  // Taken before the input is read: an input changed after this is done again next time.
  // Blocking: the inode is in memory after the scan, and an awaited call per file on the thread
  // that feeds the workers cost more than the stat.
  const st = statOrUndefined(f.input.path);
  if (st && (!st.isFile || st.size !== f.input.size)) {
    // Not the file the plan read: the plan's name for it is wrong. Something not a regular file (a
    // FIFO, which would block whoever opens it) is not opened at all.
    const reason = changedReason(
      st.isFile ? `${f.input.size} bytes then, ${st.size} now` : "not a regular file now",
    );
    await recordFile(ctx, { index: i, status: "quarantined", reason }, undefined, f);
    return false;
  }
  if (st) stamps?.set(i, stampOf(st));
  mtimes.set(i, st?.mtime?.getTime());
  return true;
}

/**
 * Record a prepared chunk's staged outputs moved into place (their journal lines in batches, one
 * write per JOURNAL_BATCH files: a kill between a move and its line's write leaves a claimed
 * output, which the next run redoes), and return the jobs left to write.
 */
async function recordMoved(ctx: RunContext, chunk: Prepared): Promise<FileJob[]> {
  const moved = await chunk.moved;
  const later: FileJob[] = [];
  let lines: string[] = [];
  let n = 0;
  for (const job of chunk.jobs) {
    const staged = chunk.staged.get(job.index);
    if (!staged || !moved[n++]) {
      // Not moved: an input not checked yet is checked before it is written here.
      const f = chunk.planned.get(job.index)!;
      if (!chunk.deferred.has(job.index) || await checkInput(ctx, job.index, f, chunk.mtimes)) {
        later.push(job);
      }
      continue;
    }
    const line = recordOutcome(
      ctx,
      { index: job.index, ...staged.outcome },
      chunk.mtimes.get(job.index),
      chunk.planned.get(job.index),
      true,
    );
    if (line !== undefined) lines.push(line);
    if (lines.length >= JOURNAL_BATCH) {
      await ctx.append(lines.join(""));
      lines = [];
    }
  }
  if (lines.length) await ctx.append(lines.join(""));
  return later;
}

/** A sort-only file copied or linked under its new name, or quarantined with the reason. */
function placed(job: FileJob, f: PlannedFile): Promise<FileOutcome> {
  return placeFile(job).then(
    ({ linkFellBack }): FileOutcome => ({
      index: job.index,
      status: "written",
      bytes: f.input.size,
      fields: f.fields ?? {},
      linkFellBack,
      output: job.mode === "copy" || linkFellBack ? identityOf(job.dest) : undefined,
    }),
    (e): FileOutcome => ({ index: job.index, status: "quarantined", reason: (e as Error).message }),
  );
}

/** Staged outputs moved into place between two journal writes (see `recordMoved`). */
const JOURNAL_BATCH = 256;
