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
