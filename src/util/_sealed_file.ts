/**
 * The temporary file of a `SpillMap`: made in a given folder and removed from it as soon as it is
 * open (it lives as long as it is open), so a killed process leaves nothing behind, and encrypted
 * (AES-256-CTR) with a key that exists only in this object: what the disk keeps of it after the
 * process is gone is unreadable, whatever it held. Bytes are appended at its end and read back from
 * any offset.
 *
 * @module
 */
import { createCipheriv } from "node:crypto";
import { join } from "node:path";
import { PRIVATE_FILE } from "./atomic.ts";

/** Closes the file of a sealed file collected without being closed. */
const unclosed = new FinalizationRegistry<Deno.FsFile>((file) => {
  try {
    file.close();
  } catch { /* closed already */ }
});

/** See the module's documentation. */
export class SealedFile {
  #file: Deno.FsFile | undefined;
  /** The file's path while it could not be removed from its folder (removed on close). */
  #path: string | undefined;
  readonly #key = crypto.getRandomValues(new Uint8Array(32));
  #end = 0;

  /** A new sealed file in the folder `dir`. */
  constructor(dir: string) {
    const path = join(dir, `.spill-${crypto.randomUUID()}.tmp`);
    const file = Deno.openSync(path, { read: true, write: true, createNew: true, mode: PRIVATE_FILE });
    // Gone from the folder at once: the open file is this object's alone, and a kill leaves nothing.
    try {
      Deno.removeSync(path);
    } catch {
      this.#path = path;
    }
    unclosed.register(this, file, this);
    this.#file = file;
  }

  /** Bytes appended so far (a failed append counts its bytes: see `append`). */
  get end(): number {
    return this.#end;
  }

  /** Append `bytes`; the offset they start at. */
  append(bytes: Uint8Array): number {
    const file = this.#open();
    const start = this.#end;
    // Past these bytes whatever happens: a keystream is never used twice, even after a failed write.
    this.#end += bytes.length;
    const sealed = this.#cipher(start, bytes);
    file.seekSync(start, Deno.SeekMode.Start);
    for (let written = 0; written < sealed.length;) written += file.writeSync(sealed.subarray(written));
    return start;
  }

  /**
   * Read `into.length` bytes (fewer at the end of the file) from `offset`, decrypted in place; how
   * many were read.
   */
  readAt(offset: number, into: Uint8Array): number {
    const file = this.#open();
    file.seekSync(offset, Deno.SeekMode.Start);
    let n = 0;
    while (n < into.length) {
      const got = file.readSync(into.subarray(n));
      if (got === null || got === 0) break;
      n += got;
    }
    into.set(this.#cipher(offset, into.subarray(0, n)));
    return n;
  }

  /** Close the file (what it held is gone). */
  close(): void {
    if (!this.#file) return;
    unclosed.unregister(this);
    this.#file.close();
    this.#file = undefined;
    if (this.#path) {
      try {
        Deno.removeSync(this.#path);
      } catch { /* gone already */ }
      this.#path = undefined;
    }
  }

  #open(): Deno.FsFile {
    if (!this.#file) throw new Error("the spill file is closed");
    return this.#file;
  }

  /**
   * AES-256-CTR of `bytes` as they sit at `offset` in the file (encrypting and decrypting are the
   * same): the counter is the offset's 16-byte block, so any piece can be read alone.
   */
  #cipher(offset: number, bytes: Uint8Array): Uint8Array {
    const iv = new Uint8Array(16);
    new DataView(iv.buffer).setBigUint64(8, BigInt(Math.floor(offset / 16)));
    const aes = createCipheriv("aes-256-ctr", this.#key, iv);
    try {
      if (offset % 16) aes.update(new Uint8Array(offset % 16));
      return aes.update(bytes);
    } finally {
      // Deno frees a cipher's native state at `final` only, not when the object is collected: about
      // 1.2 KB a cipher, and a run of 300,000 files makes tens of thousands.
      aes.final();
    }
  }
}
