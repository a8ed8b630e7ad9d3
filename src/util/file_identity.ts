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

/** The stamp of an input from its `stat`. */
export function stampOf(st: Deno.FileInfo): InputStamp {
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
export function identityOfInfo(st: Deno.FileInfo): OutputIdentity {
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
  let now: OutputIdentity;
  try {
    now = identityOf(path);
  } catch {
    return false;
  }
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
