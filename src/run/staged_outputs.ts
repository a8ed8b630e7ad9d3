/**
 * The outputs a run writes ahead (`stage.ts`), as they cross from the survey workers and as the run
 * holds them until it takes each: a worker encodes each as one array of numbers (`StagedEncoder`),
 * what the files of a series share of its outcome by the number of a codec of its own, and the main
 * thread holds the numbers as they came, that number made its own codec's (`StagedOutputs`).
 *
 * @module
 */
import type { InputStamp } from "../util/file_identity.ts";
import type { Interner } from "../scan/intern.ts";
import { SpillMap } from "../util/spill_map.ts";
import type { SpillCodec } from "../util/spill_codec.ts";
import { compactOutcome, type FileOutcome, outcomeCodec } from "./process.ts";

/**
 * An output written ahead, under a temporary name in the staging folder: the run renames it into
 * place instead of reading and de-identifying the file a second time.
 */
export interface StagedOutput {
  /** Its temporary path (in the staging folder, under the output root). */
  readonly path: string;
  /** The input before it was read: the run uses the staged output only if the input still is so. */
  readonly input: InputStamp;
  /** What the run records for it (the same as writing it in the run would give). */
  readonly outcome: Omit<FileOutcome, "index">;
}

/** The temporary path of the output of the file at `index` in the plan, in the staging folder `dir`. */
export function stagedPath(dir: string, index: number): string {
  // Not `join`, which normalises the path: 2 us a call, twice a file on the main thread. The worker
  // that writes it and the run that takes it make it alike.
  return `${dir}/${index}.partial`;
}

/** A worker's outcomes are new objects for each file: their combinations are looked up by JSON. */
const WORKER_LOOKUP = { lookup: "json" } as const;

/** What the files of a series share of a staged output's outcome (see `outcomeCodec`). */
type SharedOutcome = Omit<StagedOutput["outcome"], "output" | "bytes">;

/**
 * In a survey worker: the outputs it writes ahead, as the run holds them (`StagedOutputs`): each
 * one array of numbers, its outcome's values that the files of a series share by the number of a
 * codec of the worker's own (a new one for each of the plan's surveys), sent with what that codec
 * numbered for them (`newParts`). The main thread then neither rebuilds each outcome from its
 * message (a series' report columns, a file's) nor looks its values up again.
 */
export class StagedEncoder {
  readonly #dir: string;
  #codec = outcomeCodec<SharedOutcome>(WORKER_LOOKUP);
  #of: number | undefined;

  /** For outputs staged in the folder `dir`. */
  constructor(dir: string) {
    this.#dir = dir;
  }

  /**
   * The numbers of the output staged for the file at `index` in the plan's survey `codec`;
   * undefined (the run writes that file itself) when it is not at its index's path, has no
   * identity to check it by, or has a field of its own besides its output and size (which the
   * numbers would not keep).
   */
  encode(codec: number, index: number, staged: StagedOutput): number[] | undefined {
    this.#start(codec);
    // Original identities are never held (the run records what it takes as it is): a worker's
    // outcome has none; one given here is dropped.
    const { output, bytes, originalPatientId: _id, originalStudyUID: _study, ...shared } = staged.outcome;
    if (!output || staged.path !== stagedPath(this.#dir, index)) return undefined;
    const [part, own] = this.#codec.encode(shared) as [number, Record<string, unknown>];
    if (Object.keys(own).length) return undefined;
    const { input: i } = staged;
    return [
      part,
      i.dev,
      i.ino,
      i.size,
      i.mtimeMs,
      i.ctimeMs,
      output.dev,
      output.ino,
      output.size,
      output.mtimeMs,
      bytes ?? -1,
    ];
  }

  /** What the codec numbered since it was last asked, for `StagedOutputs.addParts`. */
  newParts(codec: number): Record<string, unknown>[] {
    this.#start(codec);
    return this.#codec.newParts();
  }

  #start(codec: number): void {
    if (codec === this.#of) return;
    this.#codec = outcomeCodec<SharedOutcome>(WORKER_LOOKUP);
    this.#of = codec;
  }
}

/**
 * The outputs written ahead, each held as one array of numbers until the run takes it: its outcome's
 * values that the files of a series share, by number (see `outcomeCodec`), its input's stamp, its
 * output's identity and size, as a worker's `StagedEncoder` made it. Its path is not held: it is its
 * index's in the staging folder. About 140 bytes a file in memory, against about 450 as objects (a
 * path, a stamp, an identity, an outcome), and past the bound of its `SpillMap` a line of about 100
 * bytes on file.
 */
export class StagedOutputs {
  readonly #dir: string;
  readonly #held: SpillMap<number[]>;
  readonly #outcomes: SpillCodec<SharedOutcome>;
  /** By worker (`source`), the number in `#outcomes` of each combination its codec numbered. */
  #sources: number[][] = [];

  /**
   * Outputs staged in `dir`; `inMemory`: how many are held before they go to a file there; `codec`:
   * how their outcomes are held (an `outcomeCodec`, which may be another map's too).
   */
  constructor(dir: string, inMemory?: number, codec: SpillCodec<FileOutcome> = outcomeCodec()) {
    this.#dir = dir;
    this.#held = new SpillMap<number[]>(dir, inMemory);
    this.#outcomes = codec;
  }

  /** How many are held. */
  get size(): number {
    return this.#held.size;
  }

  /** A new survey: its workers' codecs (`StagedEncoder`) number from the start again. */
  startSurvey(): void {
    this.#sources = [];
  }

  /**
   * What the codec of the survey's worker `source` numbered (its `StagedEncoder.newParts`, each in
   * turn): numbered here too, each value held once through `pool`.
   */
  addParts(parts: readonly Record<string, unknown>[], source: number, pool: Interner): void {
    const table = this.#sources[source] ??= [];
    for (const p of parts) {
      table.push((this.#outcomes.encode(compactOutcome(p, pool) as SharedOutcome) as [number, unknown])[0]);
    }
  }

  /** Hold the output the survey's worker `source` staged for the file at `index` (`StagedEncoder.encode`). */
  setEncoded(index: number, numbers: number[], source: number): void {
    const part = this.#sources[source]?.[numbers[0]];
    if (part === undefined) {
      throw new Error(`worker ${source} sent a staged output of a part it did not send`);
    }
    numbers[0] = part;
    this.#held.set(index, numbers);
  }

  /** Whether an output is staged for the file at `index` (without reading it back). */
  has(index: number): boolean {
    return this.#held.has(index);
  }

  /** The output staged for the file at `index`, if any. */
  get(index: number): StagedOutput | undefined {
    const held = this.#held.get(index);
    if (!held) return undefined;
    const [part, dev, ino, size, mtimeMs, ctimeMs, oDev, oIno, oSize, oMtimeMs, bytes] = held;
    const shared = this.#outcomes.decode([part, {}]) as Record<string, unknown>;
    // In the order a worker's outcome has its fields (a journal line is the same either way), made
    // once: a run of 30,000 files allocated 236 MB in its writing phase, a sixth of it copies of these.
    const outcome: Record<string, unknown> = {
      status: shared.status,
      output: { dev: oDev, ino: oIno, size: oSize, mtimeMs: oMtimeMs },
    };
    if (bytes >= 0) outcome.bytes = bytes;
    for (const k in shared) if (k !== "status") outcome[k] = shared[k];
    return {
      path: stagedPath(this.#dir, index),
      input: { dev, ino, size, mtimeMs, ctimeMs },
      outcome: outcome as StagedOutput["outcome"],
    };
  }

  /**
   * Say how many files may be staged (made before the listing, it is told once the survey starts):
   * past the spill map's bound, fewer are held in memory (see `SpillMap.expect`).
   */
  expect(files: number): void {
    this.#held.expect(files);
  }

  /** Let go of the output staged for the file at `index` (its file stays: the folder goes at the end). */
  delete(index: number): boolean {
    return this.#held.delete(index);
  }

  /** Let go of every one (and of the temporary file). */
  close(): void {
    this.#held.close();
  }
}
