/** Hashing whole files without holding them in memory, and strings to a number. */
import { createHash } from "node:crypto";

/** The sha256 of a file's bytes, read in the stream's chunks. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  const f = await Deno.open(path);
  for await (const chunk of f.readable) h.update(chunk); // the stream closes the file
  return h.digest("hex");
}

/**
 * A 32-bit hash of a string (FNV-1a over its UTF-16 code units): to find equal strings among many
 * without holding them (equal strings hash alike; strings that hash alike are compared). `h`: the
 * state to go on from (FNV-1a's offset basis by default), to hash several strings as one sequence.
 */
export function hash32(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Another 32-bit hash of a string, independent of `hash32` (a multiply-xorshift mix of its UTF-16
 * code units): the two together tell strings apart where one alone would often not (2^64 values).
 */
export function hash32b(s: string): number {
  let h = 0x9e3779b9;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 0x85ebca6b);
    h ^= h >>> 13;
  }
  h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
