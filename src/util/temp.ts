/**
 * The one way dcmtidy names a file it is still writing: `.<name>.<8 hex>.partial` beside its final
 * name, renamed into place once complete. A kill leaves only such names, never a half-written file
 * under its final name; `partialTarget` tells which final name a leftover was for.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";

const PARTIAL = /^\.(.+)\.[0-9a-f]{8}\.partial$/;

/**
 * A fresh temporary name beside `dest` (same folder, so the rename is atomic).
 *
 * @example
 * ```ts
 * import { partialTarget, tempNameFor } from "./temp.ts";
 * const tmp = tempNameFor("/out/a/0001.dcm"); // "/out/a/.0001.dcm.1f2e3d4c.partial"
 * partialTarget(tmp.split("/").pop()!); // "0001.dcm"
 * ```
 */
export function tempNameFor(dest: string): string {
  return join(dirname(dest), `.${basename(dest)}.${crypto.randomUUID().slice(0, 8)}.partial`);
}

/** The final name (in the same folder) a temporary name of `tempNameFor` stands for, if it is one. */
export function partialTarget(name: string): string | undefined {
  return PARTIAL.exec(name)?.[1];
}
