/**
 * One buffer reused from file to file, for code that handles one file at a time.
 *
 * @module
 */
import { DEFAULT_WHOLE_FILE_LIMIT } from "./read_plan.ts";

/** A buffer that grows to the largest size asked of it, for one file at a time (see `ReadFileOptions.reuse`). */
export class ReusableBuffer {
  #buf: Uint8Array = new Uint8Array(0);
  /** Sizes above this get a buffer of their own, so one huge header does not stay allocated. */
  readonly max: number;
  /** `max`: the largest size kept and reused (default: the whole-file read limit). */
  constructor(max = DEFAULT_WHOLE_FILE_LIMIT) {
    this.max = max;
  }
  /** `n` bytes: a view of the shared buffer (grown if needed), or a new buffer above `max`. */
  take(n: number): Uint8Array {
    if (n > this.max) return new Uint8Array(n);
    if (this.#buf.length < n) {
      this.#buf = new Uint8Array(Math.max(n, Math.min(this.max, this.#buf.length * 2)));
    }
    return this.#buf.subarray(0, n);
  }
}
