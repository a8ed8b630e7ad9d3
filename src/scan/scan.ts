/**
 * Scanning a raw dump: walk the input roots through the protocol's globs, read each file's header
 * (never its pixels), and classify it. Every file found is in the result, with a reason when it
 * will not be written: the report accounts for all of them.
 */
import { DicomReadError } from "../dicom/errors.ts";
import { readDicomFile, readDicomFileSync } from "../dicom/read_file.ts";
import { ReusableBuffer } from "../dicom/reusable_buffer.ts";
import type { DataSet, DicomFile } from "../dicom/model.ts";
import { decodeStrings } from "../dicom/values.ts";
import { tags } from "../standard/tags.ts";
import { hash32, sha256File } from "../util/hash.ts";
import { HashIndex } from "../util/hash_index.ts";
import { type Listed, type ListedFiles, walkInputs, type WalkOptions } from "./inputs.ts";
import type { Interner } from "./intern.ts";

/** How a scanned file will be treated. */
export type FileKind = "dicom" | "dicomdir" | "not-dicom" | "unreadable" | "duplicate" | "not-regular";

/** The header facts planning needs. */
export interface HeaderInfo {
  /** SOPInstanceUID as read (original): how duplicates are found. */
  readonly sopInstanceUID?: string;
  /** StudyInstanceUID as read (original): what shards partition on and the key file records. */
  readonly studyUID?: string;
  /** SeriesInstanceUID as read (original). */
  readonly seriesUID?: string;
  /** PatientID as read (original): the key file's first column. */
  readonly patientId?: string;
  /** Modality, e.g. "CT". */
  readonly modality?: string;
  /** The transfer syntax UID of the data set. */
  readonly transferSyntax: string;
}

/** One file found under an input root. */
export interface ScannedFile {
  /** The input root it was found under. */
  readonly root: string;
  /** Its path relative to that root, with `/` separators. */
  readonly rel: string;
  /** Its absolute path (as listed: through links when they are followed). */
  readonly path: string;
  /** Its size in bytes (0 for what is not a regular file). */
  readonly size: number;
  /** What the scan found it to be. */
  kind: FileKind;
  /** Why it will not be written (for every kind but "dicom"). */
  reason?: string;
  /** Header facts, for DICOM files (and duplicates of them). */
  readonly header?: HeaderInfo;
}

/** Options for `scan`: where to look (`WalkOptions`), and how to read. */
export interface ScanOptions extends WalkOptions {
  /** Header reads in flight at once (default 32: they are small and mostly wait on the disk). */
  readonly concurrency?: number;
  /** Called after each file is classified. */
  readonly onProgress?: (done: number, total: number) => void;
}

function headerInfo(ds: DataSet, ts: string): HeaderInfo {
  const get = (tag: number) => {
    const el = ds.elements.find((e) => e.tag === tag);
    return el ? decodeStrings(el, ds)[0] || undefined : undefined;
  };
  return {
    sopInstanceUID: get(tags.SOPInstanceUID),
    studyUID: get(tags.StudyInstanceUID),
    seriesUID: get(tags.SeriesInstanceUID),
    patientId: get(tags.PatientID),
    modality: get(tags.Modality),
    transferSyntax: ts,
  };
}

/** A header read: the file, or why it could not be read with the file's size (0 if unknown). */
export type HeaderRead = { readonly file: DicomFile } | { readonly error: unknown; readonly size: number };

/** Read a listed file's header into `buffer` (this lane's; see `classify`). */
export async function readHeader(f: Listed, buffer?: ReusableBuffer): Promise<HeaderRead> {
  try {
    return { file: await readDicomFile(f.path, { headerOnly: true, reuse: buffer }) };
  } catch (error) {
    return { error, size: await Deno.stat(f.path).then((st) => st.size, () => 0) };
  }
}

/** `readHeader`, blocking (for a worker, which plans one file at a time). */
export function readHeaderSync(f: Listed, buffer?: ReusableBuffer): HeaderRead {
  try {
    return { file: readDicomFileSync(f.path, { headerOnly: true, reuse: buffer }) };
  } catch (error) {
    let size = 0;
    try {
      size = Deno.statSync(f.path).size;
    } catch { /* gone: the reason says so */ }
    return { error, size };
  }
}

/**
 * Classify one file from its header read (none for what is not a regular file). Nothing of the
 * read outlives the call (the header facts are strings): the read may be in a reused buffer.
 */
export function classifyHeader(f: Listed, read?: HeaderRead): ScannedFile {
  const listed = { root: f.root, rel: f.rel, path: f.path };
  if (f.notRegular || !read) {
    return { ...listed, size: 0, kind: "not-regular", reason: f.notRegular ?? "not read" };
  }
  if ("error" in read) {
    const e = read.error;
    const size = read.size;
    if (e instanceof DicomReadError) {
      const why = e.toString().replace(`${f.path}: `, "");
      return { ...listed, size, kind: e.code === "not-dicom" ? "not-dicom" : "unreadable", reason: why };
    }
    return { ...listed, size, kind: "unreadable", reason: (e as Error).message };
  }
  const file = read.file;
  const size = file.size;
  if (file.isDicomDir) {
    return {
      ...listed,
      size,
      kind: "dicomdir",
      reason: "DICOMDIR: its records point at input paths; not copied",
    };
  }
  const px = file.dataset.elements.find((e) => e.external);
  if (px?.external && px.external.length >= 0 && px.external.offset + px.external.length > size) {
    return {
      ...listed,
      size,
      kind: "unreadable",
      reason: `Pixel Data is cut short (${size} bytes of ${px.external.offset + px.external.length})`,
    };
  }
  return { ...listed, size, kind: "dicom", header: headerInfo(file.dataset, file.transferSyntax.uid) };
}

/**
 * A scanned file as a plan keeps it for every input: the values files share (its root, the header's
 * study and series UIDs, PatientID, modality, transfer syntax, a reason) through `pool`, its path
 * strings made from `listed` when given (a listing entry's share its folder's, where a worker's copy
 * is a string of its own). `sop: false` leaves out the SOP Instance UID, once duplicates have been
 * found.
 */
export function compactScanned(
  f: ScannedFile,
  pool: Interner,
  options: { readonly listed?: Listed; readonly sop?: boolean } = {},
): ScannedFile {
  // A listing entry makes its paths when asked for: each is asked for once.
  const rel = options.listed?.rel;
  const listed = rel === f.rel;
  const h = f.header;
  // Object literals with every field (absent ones undefined) are held in one allocation each.
  return {
    root: pool.string(f.root),
    rel: listed ? rel : f.rel,
    path: listed ? options.listed!.path : f.path,
    size: f.size,
    kind: pool.string(f.kind),
    reason: pool.string(f.reason),
    // Without its SOP Instance UID, a header is its series': one object for all of the series' files.
    header: h && (options.sop === false ? pool.data(headerOf(h, pool)) : {
      ...headerOf(h, pool),
      sopInstanceUID: h.sopInstanceUID,
    }),
  };
}

/** A header's values shared by files through `pool`, without the SOP Instance UID. */
function headerOf(h: HeaderInfo, pool: Interner): HeaderInfo {
  return {
    studyUID: pool.string(h.studyUID),
    seriesUID: pool.string(h.seriesUID),
    patientId: pool.string(h.patientId),
    modality: pool.string(h.modality),
    transferSyntax: pool.string(h.transferSyntax),
  };
}

/**
 * A reference to another input file in a reason or warning. Input paths often name patients, so
 * text keeps references, and whoever prints it decides: the path, or "input #N" (see `renderRefs`).
 */
export function inputRef(index: number): string {
  return `{{input:${index}}}`;
}

/**
 * Replace input references with paths (`show`) or with "input #N" (the files.csv row). `files`: the
 * input files by index (an array, or what reads one by index).
 */
export function renderRefs(
  text: string,
  files: { at(index: number): { readonly rel: string } | undefined },
  show: boolean,
): string {
  return text.replace(
    /\{\{input:(\d+)\}\}/g,
    (_: string, n: string) => show ? files.at(Number(n))!.rel : `input #${Number(n) + 1}`,
  );
}

/** Mark files with the same SOP Instance UID and the same bytes as an earlier file as duplicates. */
export async function markDuplicates(files: ScannedFile[]): Promise<void> {
  const { duplicates } = await sharedInstances(files);
  for (const [i, reason] of duplicates) {
    files[i].kind = "duplicate";
    files[i].reason = reason;
  }
}

/**
 * The SOP Instance UIDs of files as they are scanned, as `sharedInstances` needs them: a 32-bit hash
 * of each one's UID by index (4 bytes a file while the files are scanned; `index` files those with
 * a UID by it, 8 bytes each, once they are), so that no pass over the files is made for them (past the
 * memory bound each file's record is read back from disk: 1.3 s for 300,000 files).
 */
export class InstanceKeys {
  /** By index: the UID's hash, with 0 for none (a hash of 0 is taken as 1: files alike by hash are compared by UID). */
  readonly #hashes: Uint32Array;

  /** For files 0 to `length` - 1. */
  constructor(length: number) {
    this.#hashes = new Uint32Array(length);
  }

  /** File `index` is `f` (again: the last one counts). */
  add(index: number, f: Pick<ScannedFile, "kind" | "header">): void {
    this.#hashes[index] = uidHash(f);
  }

  /** The files with a UID, by its hash. */
  index(): HashIndex {
    const index = new HashIndex();
    for (const [i, h] of this.#hashes.entries()) if (h) index.add(h, i);
    return index;
  }
}

/**
 * DICOM files that share a SOP Instance UID: each group's indices (in input order; the groups in the
 * order of their first file), and the duplicates among them (the same size and bytes as an earlier
 * member) with their reason. One pass over `files` (which may be read back from disk one at a time),
 * unless their `known` keys were gathered as they were scanned, keeps 8 bytes a file with a UID, not
 * the UIDs: a hash of each one's UID with its index (a `HashIndex`). Files whose UIDs hash alike are
 * then asked for by index and their UIDs compared, and each group's members hashed.
 */
export async function sharedInstances(
  files: {
    entries(): Iterable<readonly [number, ScannedFile]>;
    at(index: number): ScannedFile | undefined;
  },
  known?: InstanceKeys,
): Promise<{ groups: number[][]; duplicates: Map<number, string> }> {
  const groups: number[][] = [];
  for (const alike of (known?.index() ?? keysOf(files.entries())).groups(2)) {
    // Alike by hash: grouped by UID (in input order, as a hash's indices come smallest first).
    const byUid = new Map<string, number[]>();
    for (const i of alike) {
      const uid = files.at(i)!.header!.sopInstanceUID!;
      const group = byUid.get(uid);
      if (group) group.push(i);
      else byUid.set(uid, [i]);
    }
    for (const group of byUid.values()) if (group.length > 1) groups.push(group);
  }
  groups.sort((a, b) => a[0] - b[0]);
  const duplicates = new Map<number, string>();
  for (const group of groups) {
    const firstByHash = new Map<string, number>();
    for (const i of group) {
      const f = files.at(i)!;
      const key = `${f.size}:${await sha256File(f.path).catch(() => `unreadable:${f.path}`)}`;
      const earlier = firstByHash.get(key);
      if (earlier !== undefined) duplicates.set(i, `same SOP Instance UID and bytes as ${inputRef(earlier)}`);
      else firstByHash.set(key, i);
    }
  }
  return { groups, duplicates };
}

/** The files with a UID of `files`, by its hash, in one pass (`InstanceKeys.index`). */
function keysOf(files: Iterable<readonly [number, ScannedFile]>): HashIndex {
  const index = new HashIndex();
  for (const [i, f] of files) {
    const h = uidHash(f);
    if (h) index.add(h, i);
  }
  return index;
}

/** A DICOM file's SOP Instance UID's 32-bit hash (0 taken as 1), or 0 for a file without one. */
function uidHash(f: Pick<ScannedFile, "kind" | "header">): number {
  const uid = f.kind === "dicom" ? f.header?.sopInstanceUID : undefined;
  return uid ? hash32(uid) || 1 : 0;
}

/**
 * Find and classify every input file. The result is in a stable order (roots, then paths), and
 * every file the globs select is in it: what will not be written has its `kind` and `reason`.
 *
 * @example Listing the DICOM files of a dump and why the others are left out
 * ```ts
 * import { scan } from "./scan.ts";
 *
 * const files = await scan({
 *   roots: ["/data/dump"],
 *   include: ["**"],
 *   exclude: ["scratch/**"],
 *   followSymlinks: false,
 * });
 * for (const f of files) {
 *   if (f.kind === "dicom") console.log(f.rel, f.header?.modality, f.header?.seriesUID);
 *   else console.log(`${f.rel}: ${f.kind}, ${f.reason}`);
 * }
 * ```
 */
export async function scan(opts: ScanOptions): Promise<ScannedFile[]> {
  const out = await readInLanes(
    await walkInputs(opts),
    (f, read) => classifyHeader(f, read),
    opts.onProgress,
    opts.concurrency,
  );
  await markDuplicates(out);
  return out;
}

/**
 * Read every listed file's header, `concurrency` reads in flight (they are small and mostly wait on
 * the disk), and make `of` each one (in the order of `listed`). Each lane reuses one buffer, so
 * nothing `of` returns may hold on to the read.
 */
export async function readInLanes<T>(
  listed: ListedFiles,
  of: (f: Listed, read: HeaderRead | undefined, index: number) => T,
  onProgress?: (done: number, total: number) => void,
  concurrency = 32,
): Promise<T[]> {
  const out: T[] = new Array(listed.length);
  let next = 0;
  let done = 0;
  const lane = async () => {
    const buffer = new ReusableBuffer(256 * 1024);
    while (next < listed.length) {
      const i = next++;
      const f = listed.at(i)!;
      out[i] = of(f, f.notRegular ? undefined : await readHeader(f, buffer), i);
      onProgress?.(++done, listed.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, listed.length) }, lane));
  return out;
}
