/**
 * Byte arrays joined: the one helper for what several layers concatenate (fragments of a frame,
 * chunks of a PNG, encoded values).
 *
 * @module
 */

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
