/**
 * Files written whole or not at all, and private to their owner: the run's state, reports and key
 * file are written to a temporary name (see `temp.ts`) and renamed, with their mode set before any
 * byte is written.
 *
 * @module
 */
import { dirname } from "node:path";
import { tempNameFor } from "./temp.ts";

/** Mode of the run's own records under `<output>/.dcmtidy/` and of the key file: the owner's only. */
export const PRIVATE_FILE = 0o600;
/** Mode of `<output>/.dcmtidy/` and the folders in it. */
export const PRIVATE_DIR = 0o700;

const encoder = new TextEncoder();

/** Set a mode where the platform has modes (Deno cannot on Windows: nothing to do there). */
export async function setMode(path: string, mode: number): Promise<void> {
  try {
    await Deno.chmod(path, mode);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotSupported) && Deno.build.os !== "windows") throw e;
  }
}

/**
 * Make a folder and its parents unless it is there: an existing folder is not "made" again, which
 * would need write permission on it (a process with the least permissions has none on the folder a
 * key file or a quarantine folder sits in).
 */
export async function ensureDir(dir: string): Promise<void> {
  let st: Deno.FileInfo | undefined;
  try {
    st = await Deno.stat(dir);
  } catch (e) {
    // Not ours to look at (a narrowed process): taken as there; what is made inside it says if not.
    if (e instanceof Deno.errors.NotCapable) return;
  }
  if (!st?.isDirectory) await Deno.mkdir(dir, { recursive: true });
}

/**
 * Make a folder (its parents as usual) that only its owner can enter, and make an existing one so:
 * the run's state names input paths, original values never, but no one else needs to read it.
 */
export async function ensurePrivateDir(path: string): Promise<void> {
  await ensureDir(dirname(path));
  await Deno.mkdir(path, { mode: PRIVATE_DIR }).catch((e) => {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  });
  await setMode(path, PRIVATE_DIR);
}

/**
 * Write text to a temporary name beside `path`, then rename: readers never see half a file. With
 * `mode`, the file is created with it (before any byte is written). The temporary file is removed
 * when the write or the rename fails: it may hold what the key file holds. `text` may come in
 * pieces, written in turn (a file of a million lines need not be one string).
 */
export async function writeAtomically(
  path: string,
  text: string | Iterable<string>,
  opts: { mode?: number } = {},
): Promise<void> {
  await ensureDir(dirname(path));
  const tmp = tempNameFor(path);
  try {
    await Deno.writeTextFile(tmp, "", {
      createNew: true,
      ...(opts.mode === undefined ? {} : { mode: opts.mode }),
    });
    if (opts.mode !== undefined) await setMode(tmp, opts.mode); // whatever the umask
    if (typeof text === "string") await Deno.writeTextFile(tmp, text);
    else {
      // A piece at a time, each written before the next is made: a piece dies young, where a stream's
      // queued pieces outlived young collections and piled up outside the heap until a full one.
      using file = await Deno.open(tmp, { write: true });
      for (const piece of text) {
        const bytes = encoder.encode(piece);
        for (let n = 0; n < bytes.length;) n += await file.write(bytes.subarray(n));
      }
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
