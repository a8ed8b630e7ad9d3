/**
 * Telling files apart without reading them: an output's identity (device, inode, size, modification
 * time) and an input's stamp (its identity and change time). The journal keeps identities to know
 * an output is still the one a run wrote; a run keeps stamps to know an input has not changed since
 * the plan read it.
 *
 * @module
 */

/**
 * A file's identity on disk: its inode, size and modification time. A file replaced under the
 * same name has another inode; one changed in place, another time or size. Hashing every output
 * would tell the same at the cost of reading (or hashing while writing) every byte.
 */
export interface OutputIdentity {
  /** The device holding it. */
  readonly dev: number;
  /** Its inode number. */
  readonly ino: number;
  /** Its size in bytes. */
  readonly size: number;
  /** Its modification time, in milliseconds since 1970. */
  readonly mtimeMs: number;
}

/**
 * An input as the file system knows it before it is read: its identity and its change time (an
 * edit that puts the modification time back still moves the change time).
 */
export interface InputStamp extends OutputIdentity {
  /** The change time of the inode, in milliseconds since 1970 (0 where the system gives none). */
  readonly ctimeMs: number;
}

/**
 * What dcmtidy reads of a `stat`: a `Deno.FileInfo` has it, and so does one packed into numbers and
 * unpacked where it is used (`packStat`, `unpackStat`: a stat made in another thread).
 */
export type StatFacts = Pick<
  Deno.FileInfo,
  "isFile" | "isSymlink" | "size" | "dev" | "ino" | "mtime" | "ctime"
>;

/** Numbers a packed stat takes (see `packStat`). */
export const PACKED_STAT = 6;

/**
 * Pack a stat (or its absence: nothing at the path) into `PACKED_STAT` numbers of `into` from `at`:
 * what it is (0 nothing, 1 a regular file, 2 a link, 3 anything else), device, inode, size,
 * modification and change time in milliseconds (NaN where the system gives none).
 */
export function packStat(st: StatFacts | undefined, into: Float64Array, at: number): void {
  into[at] = !st ? 0 : st.isFile ? 1 : st.isSymlink ? 2 : 3;
  into[at + 1] = st?.dev ?? 0;
  into[at + 2] = st?.ino ?? NaN;
  into[at + 3] = st?.size ?? 0;
  into[at + 4] = st?.mtime?.getTime() ?? NaN;
  into[at + 5] = st?.ctime?.getTime() ?? NaN;
}

/** The stat `packStat` packed at `at` (undefined: there was nothing at the path). */
export function unpackStat(from: Float64Array, at: number): StatFacts | undefined {
  const kind = from[at];
  if (kind === 0) return undefined;
  const time = (ms: number) => Number.isNaN(ms) ? null : new Date(ms);
  return {
    isFile: kind === 1,
    isSymlink: kind === 2,
    dev: from[at + 1],
    ino: Number.isNaN(from[at + 2]) ? null : from[at + 2],
    size: from[at + 3],
    mtime: time(from[at + 4]),
    ctime: time(from[at + 5]),
  };
}

/** The stamp of an input from its `stat`. */
export function stampOf(st: StatFacts): InputStamp {
  return {
    dev: st.dev,
    ino: st.ino ?? 0,
    size: st.size,
    mtimeMs: st.mtime?.getTime() ?? 0,
    ctimeMs: st.ctime?.getTime() ?? 0,
  };
}

/** Whether two stamps are of one unchanged input. */
export function sameStamp(a: InputStamp, b: InputStamp | undefined): boolean {
  return !!b && a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs &&
    a.ctimeMs === b.ctimeMs;
}

/**
 * The identity of the file at `path` (not following a link at the end).
 *
 * @example
 * ```ts
 * import { hasIdentity, identityOf } from "./file_identity.ts";
 * const path = await Deno.makeTempFile();
 * const id = identityOf(path);
 * hasIdentity(path, id); // true, until the file is replaced or changed
 * ```
 */
export function identityOf(path: string): OutputIdentity {
  return identityOfInfo(Deno.lstatSync(path));
}

/** The identity in a `stat` (of a path, or of an open file). */
export function identityOfInfo(st: StatFacts): OutputIdentity {
  return { dev: st.dev, ino: st.ino ?? 0, size: st.size, mtimeMs: st.mtime?.getTime() ?? 0 };
}

/**
 * Whether the file at `path` still has `identity` (false when nothing is there); with
 * `inodeOnly`, whether it is still that inode, whatever its size and time.
 */
export function hasIdentity(
  path: string,
  identity: OutputIdentity,
  opts: { inodeOnly?: boolean } = {},
): boolean {
  return isIdentity(lstatOrUndefined(path), identity, opts);
}

/** Whether `st` (undefined: nothing there) is of the file with `identity` (see `hasIdentity`). */
export function isIdentity(
  st: StatFacts | undefined,
  identity: OutputIdentity,
  opts: { inodeOnly?: boolean } = {},
): boolean {
  if (!st) return false;
  const now = identityOfInfo(st);
  return now.dev === identity.dev && now.ino === identity.ino &&
    (opts.inodeOnly || (now.size === identity.size && now.mtimeMs === identity.mtimeMs));
}

/** `Deno.statSync`, or undefined when the path cannot be stat'ed (gone, a permission). */
export function statOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.statSync(path);
  } catch {
    return undefined;
  }
}

/** `Deno.lstatSync`, or undefined when there is nothing at the path. */
export function lstatOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch {
    return undefined;
  }
}
