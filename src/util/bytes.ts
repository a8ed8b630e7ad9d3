/**
 * Byte arrays joined: the one helper for what several layers concatenate (fragments of a frame,
 * chunks of a PNG, encoded values).
 *
 * @module
 */

/** Bytes `smallBytes` carves from a shared buffer; larger arrays get a buffer of their own. */
export const SMALL_BYTES = 4096;
const SLAB = 64 * 1024;
let slab = new Uint8Array(0);
let slabAt = 0;

/**
 * A new zeroed array of `n` bytes, for the many small arrays a file's encoding makes (element
 * headers, edited values): up to `SMALL_BYTES` it is a view of a shared 64 KiB buffer, never
 * handed out twice. Creating an ArrayBuffer costs about a microsecond in Deno whatever its size
 * (each has a backing store of its own), a view of one about 40 ns; a small file's encoding made
 * about a hundred of them.
 *
 * The views share an ArrayBuffer: read one through its `byteOffset` (as every `DataView` here is
 * made), and never transfer, clone or write out its `buffer`: the rest of it is other arrays (other
 * files' values). A view keeps its whole 64 KiB buffer alive, so this is for what lives as long as
 * a file is being worked on, not for what a long-lived table keeps.
 *
 * @example A header written through a view
 * ```ts
 * import { smallBytes } from "./bytes.ts";
 *
 * const header = smallBytes(8);
 * // A view: its bytes start at byteOffset in a buffer that holds other arrays too.
 * new DataView(header.buffer, header.byteOffset, header.byteLength).setUint32(4, 1024, true);
 * console.assert(header.length === 8 && header[5] === 4);
 * ```
 */
export function smallBytes(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`smallBytes: a length is a whole number, not ${n}`);
  if (n > SMALL_BYTES) return new Uint8Array(n);
  // Views start on 8-byte boundaries, so a DataView or a wider typed array over one is aligned.
  const start = (slabAt + 7) & ~7;
  if (start + n > slab.length) {
    slab = new Uint8Array(SLAB);
    slabAt = n;
    return slab.subarray(0, n);
  }
  slabAt = start + n;
  return slab.subarray(start, start + n);
}

/** `parts` one after another in a new array (the part itself when there is only one). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The bytes of each `width`-byte word reversed (big endian to little endian and back), in a new
 * array; bytes after the last whole word are copied as they are. Width 1 is a plain copy.
 */
export function swapBytes(bytes: Uint8Array, width: number): Uint8Array {
  const out = bytes.slice();
  if (width < 2) return out;
  for (let i = 0; i + width <= bytes.length; i += width) {
    for (let k = 0; k < width; k++) out[i + k] = bytes[i + width - 1 - k];
  }
  return out;
}
