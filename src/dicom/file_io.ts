/**
 * The file system calls the reader and writer share, each in an asynchronous and a blocking form:
 * reading a byte range, whether a path exists, whether two paths are one file.
 *
 * @module
 */

/**
 * Read `n` bytes at `offset` (fewer at the end of the file), into `into` when given (its first `n`
 * bytes). `position`, when the caller knows it, saves the seek if it is already `offset`.
 */
export async function readAt(
  f: Deno.FsFile,
  offset: number,
  n: number,
  into?: Uint8Array,
  position?: number,
): Promise<Uint8Array> {
  const buf = into ? into.subarray(0, n) : new Uint8Array(n);
  if (position !== offset) await f.seek(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < n) {
    const r = await f.read(buf.subarray(got));
    if (r === null) break;
    got += r;
  }
  return got === n ? buf : buf.subarray(0, got);
}

/** `readAt`, blocking. */
export function readAtSync(
  f: Deno.FsFile,
  offset: number,
  n: number,
  into?: Uint8Array,
  position?: number,
): Uint8Array {
  const buf = into ? into.subarray(0, n) : new Uint8Array(n);
  if (position !== offset) f.seekSync(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < n) {
    const r = f.readSync(buf.subarray(got));
    if (r === null) break;
    got += r;
  }
  return got === n ? buf : buf.subarray(0, got);
}

/** Whether anything (file, folder, link) is at `path`. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** `exists`, blocking. */
export function existsSync(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Whether `a` and `b` are the same file. The destination is looked at first: usually it is not there. */
export async function samePath(a: string, b: string): Promise<boolean> {
  try {
    const sb = await Deno.stat(b);
    const sa = await Deno.stat(a);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}

/** `samePath`, blocking. */
export function samePathSync(a: string, b: string): boolean {
  try {
    const sb = Deno.statSync(b);
    const sa = Deno.statSync(a);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}
