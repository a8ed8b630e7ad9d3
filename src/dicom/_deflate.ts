/**
 * Deflated Explicit VR Little Endian: the data set after the meta group is inflated in memory,
 * bounded by `MAX_INFLATED`. Private to the reader (`parseDicom` in `reader.ts`).
 *
 * @module
 */
import { inflateRawSync } from "node:zlib";
import { type Ctx, fail } from "./_cursor.ts";

/** A deflated data set may inflate to at most this many bytes (a zip bomb stops here). */
export const MAX_INFLATED = 1024 * 1024 * 1024;

/**
 * Inflate the deflated data set that starts at `pos` in `ctx.src`. `fileSize`, when larger than
 * the bytes at hand, means they are only a header window: a deflated data set must be read whole.
 */
export function inflateDataSet(ctx: Ctx, pos: number, fileSize?: number): Uint8Array {
  const bytes = ctx.src;
  if (fileSize !== undefined && fileSize > bytes.length) {
    fail(ctx, "truncated", bytes.length, "a deflated data set must be read whole");
  }
  try {
    return new Uint8Array(inflateRawSync(bytes.subarray(pos), { maxOutputLength: MAX_INFLATED }));
  } catch (e) {
    if (e instanceof RangeError) {
      fail(ctx, "unsupported", pos, `deflated data set inflates to more than ${MAX_INFLATED} bytes`);
    }
    fail(ctx, "bad-structure", pos, `deflated data set does not inflate: ${(e as Error).message}`);
  }
}
