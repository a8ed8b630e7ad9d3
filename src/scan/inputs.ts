/**
 * Walking the input roots: every path the protocol's globs select, in a stable order (root
 * order, then path), with what is not a regular file (a link not followed, a FIFO) listed and
 * marked rather than left out. Symbolic links to folders are followed only when asked, and a
 * link loop ends.
 *
 * @module
 */
// @ts-types="@types/picomatch"
import picomatch from "picomatch";
import { normalize, parse, sep } from "node:path";

/** Where the input files are: the roots, the globs, and whether links are followed. */
export interface WalkOptions {
  /** Absolute input roots, walked in this order. */
  readonly roots: readonly string[];
  /** Globs (picomatch, relative to a root) a file must match. */
  readonly include: readonly string[];
  /** Globs that drop a file the include globs selected. */
  readonly exclude: readonly string[];
  /** Walk into linked folders and read linked files; otherwise links are listed as skipped. */
  readonly followSymlinks: boolean;
}

/** A path under an input root that the globs select. */
export interface Listed {
  readonly root: string;
  readonly rel: string;
  readonly path: string;
  /** Not a file to read (a link not followed, a FIFO, a dangling link): why it is skipped. */
  readonly notRegular?: string;
}

/**
 * A listed file as the listing holds it: its folder's paths (shared by the folder's files) and its
 * name, its paths made when asked for. About 80 bytes a file, against about 190 as an object with
 * its name, relative path and absolute path held as strings: 30 MB less for a listing of 300,000
 * files, which is whole until the survey takes it over.
 */
class ListedFile implements Listed {
  readonly #folder: ListedFolder;
  readonly #name: string;
  constructor(folder: ListedFolder, name: string) {
    this.#folder = folder;
    this.#name = name;
  }
  get root(): string {
    return this.#folder.root;
  }
  get rel(): string {
    return this.#folder.rel + this.#name;
  }
  get path(): string {
    return this.#folder.path + this.#name;
  }
  get notRegular(): string | undefined {
    return undefined;
  }
}

/** A listed entry that is not a file to read, with why (they are few). */
class ListedOther extends ListedFile {
  readonly #why: string;
  constructor(folder: ListedFolder, name: string, why: string) {
    super(folder, name);
    this.#why = why;
  }
  override get notRegular(): string {
    return this.#why;
  }
}

/** What the files of one folder share: their root as given, and the folder's paths with a separator. */
interface ListedFolder {
  readonly root: string;
  readonly rel: string;
  readonly path: string;
}

/**
 * A listed file as a plain object, for a message to a worker (a structured clone keeps no
 * accessors: a `walkInputs` entry's paths are made when asked for).
 */
export function plainListed(f: Listed): Listed {
  return f.notRegular === undefined
    ? { root: f.root, rel: f.rel, path: f.path }
    : { root: f.root, rel: f.rel, path: f.path, notRegular: f.notRegular };
}

/** The paths under the roots that the globs select, sorted (root order, then path), with sizes. */
export async function listFiles(
  opts: WalkOptions,
): Promise<{ root: string; rel: string; path: string; size: number }[]> {
  const out = [];
  for (const f of await walkInputs(opts)) {
    out.push({
      root: f.root,
      rel: f.rel,
      path: f.path,
      size: f.notRegular ? 0 : (await Deno.stat(f.path)).size,
    });
  }
  return out;
}

/**
 * The paths under the roots that the globs select, sorted (root order, then path): `listFiles`
 * without sizes, as the scan learns each size when it opens the file anyway. What is not a regular
 * file is listed with `notRegular` saying why it is not read. `onFound` is told how many regular
 * files have been found, after each one (a plan starts its workers when there is one for each).
 * An entry makes its paths when asked for (see `ListedFile`): a message to a worker carries
 * `plainListed(entry)`.
 *
 * @example The files a protocol's globs select
 * ```ts
 * import { walkInputs } from "./inputs.ts";
 *
 * const listed = await walkInputs({
 *   roots: ["/data/dump"],
 *   include: ["**"],
 *   exclude: ["scratch/**", "DICOMDIR"],
 *   followSymlinks: false,
 * });
 * for (const f of listed) console.log(f.notRegular ? `${f.rel}: skipped, ${f.notRegular}` : f.path);
 * ```
 */
export async function walkInputs(
  opts: WalkOptions,
  onFound?: (count: number) => void,
): Promise<Listed[]> {
  const include = picomatch([...opts.include], { dot: true });
  const exclude = opts.exclude.length ? picomatch([...opts.exclude], { dot: true }) : () => false;
  const out: Listed[] = [];
  for (const given of opts.roots) {
    // Paths are made by concatenation, not join() and relative() (5 us a file, most of a listing's
    // time): from the root as join() would write it, without a trailing separator unless it is a
    // file system's root ("/", "E:\\").
    const normal = normalize(given);
    const root = normal === parse(normal).root ? normal : normal.replace(TRAILING_SEP, "");
    const seen = new Set<string>(); // real paths of folders entered, so a symlink loop ends
    const walk = async (dir: string, relDir: string) => {
      const real = await Deno.realPath(dir);
      if (seen.has(real)) return;
      seen.add(real);
      // A folder is read in one blocking call (an awaited iterator costs a turn of the event loop
      // per entry); the awaited realPath above lets the loop turn between folders, so an interrupt
      // is heard.
      const entries = [...Deno.readDirSync(dir)];
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      // join(".", name) is the name alone.
      const prefix = dir === "." ? "" : dir.endsWith(sep) ? dir : dir + sep;
      const folder: ListedFolder = { root: given, rel: relDir ? `${relDir}/` : "", path: prefix };
      for (const e of entries) {
        const path = prefix + e.name;
        let isDir = e.isDirectory;
        let isFile = e.isFile;
        const rel = relDir ? `${relDir}/${e.name}` : e.name;
        // Whatever the globs select is in the result, read or not: the report accounts for it.
        const selected = () => include(rel) && !exclude(rel);
        if (e.isSymlink) {
          const st = await Deno.stat(path).catch(() => undefined);
          if (!opts.followSymlinks || !st) {
            const why = !st
              ? "a symbolic link to nothing (dangling)"
              : `a symbolic link to a ${
                st.isDirectory ? "folder" : "file"
              }, not followed (follow_symlinks is off)`;
            if (selected()) out.push(new ListedOther(folder, e.name, why));
            continue;
          }
          isDir = st.isDirectory;
          isFile = st.isFile;
        }
        if (isDir) {
          await walk(path, rel);
        } else if (!selected()) {
          continue;
        } else if (isFile) {
          out.push(new ListedFile(folder, e.name));
          onFound?.(out.length);
        } else {
          out.push(
            new ListedOther(folder, e.name, "not a regular file (a FIFO, socket or device): not read"),
          );
        }
      }
    };
    await walk(root, "");
  }
  return out;
}

/** Separators at the end of a path. */
const TRAILING_SEP = sep === "/" ? /\/+$/ : /[\\/]+$/;
