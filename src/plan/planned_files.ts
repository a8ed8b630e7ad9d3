/**
 * A plan's files (see `FileRecords`) with what the passes after the scan ask of every file kept
 * beside them in arrays of numbers: its disposition, its output series, its input's size and a
 * hash of its destination. Past the memory bound each record is read back from disk (about 1 s a
 * pass at 300,000 files); the collision check, the summary and the run's setup went through every
 * record for these alone, and now read back only the files they need more of (those not written,
 * those whose destination's hash is met twice). About 13 bytes a file, kept as each record is set.
 *
 * @example
 * ```ts ignore
 * import { PlannedFiles } from "./planned_files.ts";
 *
 * const files = PlannedFiles.from([{ input, status: "skip", reason: "not DICOM" }]);
 * console.log(files.status(0), files.seriesOf(0), files.destKey(0)); // "skip" undefined undefined
 * ```
 *
 * @module
 */
import { hash32 } from "../util/hash.ts";
import { plannedFileCodec } from "./_file_codec.ts";
import { FileRecords, type PlanSpill } from "./file_records.ts";
import type { Disposition, PlannedFile } from "./types.ts";

/** Dispositions by number (0: no record set). */
const DISPOSITIONS: readonly (Disposition | undefined)[] = [undefined, "write", "skip", "quarantine"];
const CODE: Readonly<Record<Disposition, number>> = { write: 1, skip: 2, quarantine: 3 };

/**
 * The key `destKey` gives a destination: 30 bits of the hash of its lower-case form (file systems
 * that ignore case merge "A" and "a"), so it is a small integer in a `Map`.
 */
export function destKeyOf(dest: string): number {
  return hash32(dest.toLowerCase()) & 0x3fffffff;
}

/** See the module's documentation. */
export class PlannedFiles extends FileRecords<PlannedFile> {
  #status = new Uint8Array(0);
  /** The output series' index plus one (0: none). */
  #series = new Uint32Array(0);
  #size: Uint32Array | Float64Array = new Uint32Array(0);
  /** `destKeyOf` the destination plus one (0: none). */
  #dest = new Uint32Array(0);

  /**
   * Without `spill`, every record stays in memory; `expected`: how many files will be pushed, when
   * known (the arrays are made that size once).
   */
  constructor(spill?: PlanSpill, expected = 0) {
    super(spill, 0, plannedFileCodec(), expected);
    this.#grow(expected);
  }

  /** The files of an array, in memory (`FileRecords.of` for planned files). */
  static from(files: readonly PlannedFile[]): PlannedFiles {
    const out = new PlannedFiles(undefined, files.length);
    for (const f of files) out.push(f);
    return out;
  }

  override set(index: number, f: PlannedFile): void {
    super.set(index, f);
    this.#note(index, f);
  }

  override push(f: PlannedFile): number {
    const index = super.push(f);
    this.#note(index, f);
    return index;
  }

  /** The file's disposition, without reading its record (undefined: no record at `index`). */
  status(index: number): Disposition | undefined {
    return DISPOSITIONS[this.#status[index] ?? 0];
  }

  /** The index of the file's output series in `Plan.series` (files to write), without its record. */
  seriesOf(index: number): number | undefined {
    const s = this.#series[index] ?? 0;
    return s === 0 ? undefined : s - 1;
  }

  /** The size of the file's input in bytes, without its record. */
  inputSize(index: number): number {
    return this.#size[index] ?? 0;
  }

  /** `destKeyOf` the file's destination (undefined without one), without its record. */
  destKey(index: number): number | undefined {
    const d = this.#dest[index] ?? 0;
    return d === 0 ? undefined : d - 1;
  }

  #note(index: number, f: PlannedFile): void {
    this.#grow(index + 1);
    this.#status[index] = CODE[f.status];
    this.#series[index] = f.series === undefined ? 0 : f.series + 1;
    const size = f.input.size;
    // Sizes past 4 GiB (a multi-frame file) widen the array once.
    if (size > 0xffffffff && this.#size instanceof Uint32Array) this.#size = Float64Array.from(this.#size);
    this.#size[index] = size;
    this.#dest[index] = f.dest === undefined ? 0 : destKeyOf(f.dest) + 1;
  }

  /** Room for `n` files (doubling past what is there). */
  #grow(n: number): void {
    if (n <= this.#status.length) return;
    const size = Math.max(n, this.#status.length * 2, 64);
    const wider = <A extends Uint8Array | Uint32Array | Float64Array>(a: A, make: (n: number) => A): A => {
      const b = make(size);
      b.set(a as never);
      return b;
    };
    this.#status = wider(this.#status, (n) => new Uint8Array(n));
    this.#series = wider(this.#series, (n) => new Uint32Array(n));
    this.#size = this.#size instanceof Uint32Array
      ? wider(this.#size, (n) => new Uint32Array(n))
      : wider(this.#size, (n) => new Float64Array(n));
    this.#dest = wider(this.#dest, (n) => new Uint32Array(n));
  }
}
