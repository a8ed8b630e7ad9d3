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
 * A listed file as `Listing.at` gives it: its folder's paths (shared by the folder's files) and its
 * name, its paths made when asked for.
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
 * Listed files by position: a `Listing`, or an array of entries (a share of one; an entry let go is
 * undefined, see `letGo`).
 */
export interface ListedFiles {
  readonly length: number;
  at(index: number): Listed | undefined;
}

/** Where a released file's name starts (see `Listing.release`). */
const RELEASED = 0xffffffff;

/**
 * The listing: every path the globs select, in order, held in about 20 bytes a file (its folder's
 * number, where its name starts in its folder's names, and the name's characters) instead of an
 * object and a string each (about 80 bytes: 18 MB more for a listing of 300,000 files, which is
 * whole when the scan starts). `at` makes an entry when asked for; `release` lets go of one once the
 * survey holds what it needs of it, and a folder's names go with its last file.
 *
 * @example
 * ```ts ignore
 * const listing = await walkInputs({ roots: ["/data"], include: ["**"], exclude: [], followSymlinks: false });
 * for (let i = 0; i < listing.length; i++) console.log(listing.at(i)!.path);
 * ```
 */
export class Listing implements ListedFiles, Iterable<Listed> {
  readonly #parts: ListingParts;
  /** Per folder, its files not yet released. */
  readonly #left: Uint32Array;

  /** Made by `walkInputs`. */
  constructor(parts: ListingParts) {
    this.#parts = parts;
    this.#left = new Uint32Array(parts.folders.length);
    for (let i = 0; i < parts.length; i++) this.#left[parts.folderOf[i]]++;
  }

  get length(): number {
    return this.#parts.length;
  }

  at(index: number): Listed | undefined {
    const p = this.#parts;
    if (!Number.isInteger(index) || index < 0 || index >= p.length) return undefined;
    const start = p.start[index];
    if (start === RELEASED) return undefined;
    const f = p.folderOf[index];
    const names = p.names[f];
    const end = names.indexOf("/", start);
    const name = names.slice(start, end < 0 ? names.length : end);
    const why = p.others.size ? p.others.get(index) : undefined;
    return why === undefined ? new ListedFile(p.folders[f], name) : new ListedOther(p.folders[f], name, why);
  }

  /** Let go of the file at `index` (`at` gives undefined for it from now on). */
  release(index: number): void {
    const p = this.#parts;
    if (!Number.isInteger(index) || index < 0 || index >= p.length || p.start[index] === RELEASED) return;
    p.start[index] = RELEASED;
    const f = p.folderOf[index];
    if (--this.#left[f] === 0) p.names[f] = "";
  }

  *[Symbol.iterator](): Iterator<Listed> {
    for (let i = 0; i < this.#parts.length; i++) {
      const f = this.at(i);
      if (f) yield f;
    }
  }
}

/** What a `Listing` is made of (see `ListingBuilder`). */
interface ListingParts {
  /** Each folder met, and its files' names joined by "/" (which no name has). */
  readonly folders: readonly ListedFolder[];
  readonly names: string[];
  /** Per file, its folder's number and where its name starts in the folder's names. */
  readonly folderOf: Uint32Array;
  readonly start: Uint32Array;
  readonly length: number;
  /** Why the entries that are not files to read are not read, by position (they are few). */
  readonly others: ReadonlyMap<number, string>;
}

/** A `Listing` as `walkInputs` makes it, a folder at a time. */
class ListingBuilder {
  readonly #folders: ListedFolder[] = [];
  readonly #names: string[] = [];
  /** The names of the folders being walked (a folder's walk is inside its parent's). */
  readonly #open = new Map<number, { names: string[]; chars: number }>();
  #folderOf = new Uint32Array(1024);
  #start = new Uint32Array(1024);
  #length = 0;
  readonly #others = new Map<number, string>();

  /** A folder whose files follow: its number. */
  folder(folder: ListedFolder): number {
    this.#folders.push(folder);
    this.#names.push("");
    this.#open.set(this.#folders.length - 1, { names: [], chars: 0 });
    return this.#folders.length - 1;
  }

  /** A file of folder `f`, named `name`; `why` it is not read, if it is not. */
  add(f: number, name: string, why?: string): void {
    const open = this.#open.get(f)!;
    if (this.#length === this.#start.length) {
      this.#folderOf = grown(this.#folderOf);
      this.#start = grown(this.#start);
    }
    this.#folderOf[this.#length] = f;
    this.#start[this.#length] = open.chars;
    open.names.push(name);
    open.chars += name.length + 1;
    if (why !== undefined) this.#others.set(this.#length, why);
    this.#length++;
  }

  /** Folder `f` has all its files. */
  close(f: number): void {
    this.#names[f] = this.#open.get(f)!.names.join("/");
    this.#open.delete(f);
  }

  done(): Listing {
    return new Listing({
      folders: this.#folders,
      names: this.#names,
      folderOf: this.#folderOf.slice(0, this.#length),
      start: this.#start.slice(0, this.#length),
      length: this.#length,
      others: this.#others,
    });
  }
}

function grown(a: Uint32Array<ArrayBuffer>): Uint32Array<ArrayBuffer> {
  const b = new Uint32Array(a.length * 2);
  b.set(a);
  return b;
}

/**
 * Let go of entry `index` of `files` once its survey is in: a `Listing` releases it, an array's
 * entry is made undefined.
 */
export function letGo(files: ListedFiles, index: number): void {
  if (files instanceof Listing) files.release(index);
  else if (Array.isArray(files)) (files as (Listed | undefined)[])[index] = undefined;
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
 * The listing is compact (see `Listing`): an entry is made, and makes its paths, when asked for; a
 * message to a worker carries `plainListed(entry)`.
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
): Promise<Listing> {
  const include = picomatch([...opts.include], { dot: true });
  const exclude = opts.exclude.length ? picomatch([...opts.exclude], { dot: true }) : () => false;
  const out = new ListingBuilder();
  let regular = 0;
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
      const folder = out.folder({ root: given, rel: relDir ? `${relDir}/` : "", path: prefix });
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
            if (selected()) out.add(folder, e.name, why);
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
          out.add(folder, e.name);
          onFound?.(++regular);
        } else {
          out.add(folder, e.name, "not a regular file (a FIFO, socket or device): not read");
        }
      }
      out.close(folder);
    };
    await walk(root, "");
  }
  return out.done();
}

/** Separators at the end of a path. */
const TRAILING_SEP = sep === "/" ? /\/+$/ : /[\\/]+$/;
