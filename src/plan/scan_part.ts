/**
 * A split scan for clusters. `dcmtidy scan --shard K/N` surveys only its share of the listed files
 * (`shareOf`: by path, so the shares are disjoint and together the whole listing) and keeps what the
 * plan made of each file in a part; `readScanParts` puts the N parts together into every file's
 * survey, so that `run --shard` plans without reading a header (see `PlanOptions.surveyed`). The
 * plan is the one a scan of every file gives: the surveys are the same, and what depends on other
 * files (duplicates, series, collisions, pseudonyms) is decided afterwards, over all of them.
 *
 * A part records what it was made from: the tool and rules edition, the protocol, the salt's
 * fingerprint and the listing's. A part that does not fit the run that reads it is stale and is
 * refused, as are missing parts. A part holds original values (the header facts the key file is
 * made from, the input paths): with a de-identifying protocol its records are encrypted with a key
 * derived from the salt (AES-256-GCM), so the output root that holds it tells nothing to whoever
 * lacks the salt. A sort-only protocol writes the originals to its output anyway.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createCipheriv, createDecipheriv, createHash } from "node:crypto";
import { join } from "node:path";
import type { Keys } from "../deid/keys.ts";
import type { ListedFiles } from "../scan/inputs.ts";
import type { ScannedFile } from "../scan/scan.ts";
import { PRIVATE_FILE, setMode } from "../util/atomic.ts";
import { DcmtidyError, EXIT } from "../util/errors.ts";
import { boundHeap } from "../util/heap.ts";
import { hash32 } from "../util/hash.ts";
import { readLines } from "../util/lines.ts";
import { partialTarget, tempNameFor } from "../util/temp.ts";
import { RULES_EDITION } from "../standard/ps3_15.ts";
import { VERSION } from "../version.ts";
import { type Shard, shardName } from "./shard.ts";
import { compactSurvey, type FileFacts, type Survey } from "./survey.ts";
import { Interner } from "../scan/intern.ts";
import type { FileList, FileRecords, PlanSpill } from "./file_records.ts";
import { SurveyRecords } from "./survey_records.ts";

/** Format 2: shares by `shareOf`'s FNV-1a hash (format 1's were by SHA-256). */
const FORMAT = "dcmtidy-scan-part/2";
/**
 * Surveys per record line: one encryption (and one JSON parse) per line, not per file; and lines of
 * about 50 KB, not 430 KB as with 512 a line. A run reading the parts of 300,000 files bounds its
 * heap as it goes (`boundHeap`, without which it grew to 237 MB against a run's 200); with lines of
 * 512 that took 2.5 s more than not bounding it, with lines of 64 no measurable time. (V8 puts a
 * string of over 128 KB, such as a long line and its decrypted text, in the old generation, which
 * only a full collection frees.)
 */
const PER_LINE = 64;
const PART_NAME = /^(\d+)-of-(\d+)\.part$/;

/** What a part was made from: the run that assembles parts must have been given the same. */
export interface ScanPartOrigin {
  /** dcmtidy's version. */
  readonly tool: string;
  /** The de-identification rules' edition. */
  readonly rules: string;
  /** The protocol's name and the sha256 of its text. */
  readonly protocol: { readonly name: string; readonly sha256: string };
  /** The salt's fingerprint (`Keys.fingerprint`); absent when the protocol does not de-identify. */
  readonly salt?: string;
  /** The whole listing (every shard lists every file): how many, and `listingFingerprint`. */
  readonly listing: { readonly files: number; readonly sha256: string };
}

/** The first line of a part. */
interface PartHead extends ScanPartOrigin {
  readonly format: typeof FORMAT;
  readonly shard: Shard;
  /** Files in this shard's share. */
  readonly share: number;
  /** Whether the record lines are encrypted (a de-identifying protocol's). */
  readonly encrypted: boolean;
}

/** One file of a part: its index in the listing, its path, and its survey without its mount. */
type PartRecord = [
  index: number,
  rel: string,
  scanned: Pick<ScannedFile, "size" | "kind" | "reason" | "header">,
  facts?: FileFacts,
];

/** Missing, stale or unreadable scan parts: each problem says which part and what to do. Exit 2. */
export class ScanPartError extends DcmtidyError {
  /** `problems`: one line each. */
  constructor(readonly problems: string[]) {
    super(problems.join("\n"), EXIT.usage);
    this.name = "ScanPartError";
  }

  /** The problems, one per line, under what could not be done. */
  override describe(): string {
    return `the split scan's parts cannot be used:\n${this.problems.map((p) => `  ${p}`).join("\n")}`;
  }
}

/**
 * The share (1 to `n`) a listed file belongs to in a split scan: a hash of its root's position and
 * its path relative to the root (not the absolute path: shards may mount the input elsewhere).
 * FNV-1a (`hash32`) with murmur3's finalizer: FNV-1a's low bits, which `% n` keeps, depend on few
 * of the characters' bits (its lowest is the parity of theirs). Not node:crypto's SHA-256, as parts
 * of format 1 had it: a scan and each run from the parts hash every listed path, and for 300,000
 * paths `createHash` took 0.6 to 1.2 s and left 35 to 50 MB in the C heap, which its native hash
 * objects had used (bench/README.md, "The cluster path's memory").
 */
export function shareOf(rootIndex: number, rel: string, n: number): number {
  if (n === 1) return 1;
  let h = hash32(`${rootIndex}\0${rel}`);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) % n + 1;
}

/** The indices in `listed` of shard `shard`'s share. */
export function shareIndices(listed: ListedFiles, roots: readonly string[], shard: Shard): number[] {
  const out: number[] = [];
  for (let i = 0; i < listed.length; i++) {
    const f = listed.at(i)!;
    if (shareOf(roots.indexOf(f.root), f.rel, shard.n) === shard.k) out.push(i);
  }
  return out;
}

/** What a part made now from `listed` for `protocol` records, and what a run given the same expects. */
export function scanOrigin(
  protocol: {
    readonly name: string;
    readonly sha256: string;
    readonly input: { readonly roots: readonly string[] };
  },
  listed: ListedFiles,
  keys?: Keys,
): ScanPartOrigin {
  return {
    tool: VERSION,
    rules: RULES_EDITION,
    protocol: { name: protocol.name, sha256: protocol.sha256 },
    ...(keys ? { salt: keys.fingerprint() } : {}),
    listing: { files: listed.length, sha256: listingFingerprint(listed, protocol.input.roots) },
  };
}

/** A fingerprint of the listing that does not depend on where the inputs are mounted. */
export function listingFingerprint(listed: ListedFiles, roots: readonly string[]): string {
  const h = createHash("sha256");
  // Hashed 64 KB at a time: an update a file took 106 ms for 300,000 files, 42 ms this way.
  let text = "";
  for (let i = 0; i < listed.length; i++) {
    const f = listed.at(i)!;
    text += `${roots.indexOf(f.root)}\0${f.rel}\0${f.notRegular ?? ""}\n`;
    if (text.length >= 65536) {
      h.update(text);
      text = "";
    }
  }
  return h.update(text).digest("hex");
}

/** The file name of a shard's part in the parts' folder. */
export function scanPartName(shard: Shard): string {
  return `${shardName(shard)}.part`;
}

const cipherKey = (keys: Keys) => keys.derivedKey("dcmtidy/scan-part");

function seal(text: string, key: Uint8Array): string {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const c = createCipheriv("aes-256-gcm", key, iv);
  const body = Buffer.concat([c.update(text, "utf8"), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), body]).toString("base64");
}

function unseal(line: string, key: Uint8Array): string {
  const bytes = Buffer.from(line, "base64");
  const d = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, 12));
  d.setAuthTag(bytes.subarray(12, 28));
  return Buffer.concat([d.update(bytes.subarray(28)), d.final()]).toString("utf8");
}

/**
 * Shard `shard`'s part in `folder`, written as its surveys come (`add`), to a temporary name that
 * `finish` renames, owner-only: a part under its name is complete. `keys` (a de-identifying
 * protocol's) encrypts the records. A leftover of a killed scan of the same shard is removed.
 */
export class ScanPartWriter {
  readonly #file: Deno.FsFile;
  readonly #tmp: string;
  readonly #path: string;
  readonly #key?: Uint8Array;
  readonly #encoder = new TextEncoder();
  #records: PartRecord[] = [];
  #written = 0;

  private constructor(file: Deno.FsFile, tmp: string, path: string, key?: Uint8Array) {
    this.#file = file;
    this.#tmp = tmp;
    this.#path = path;
    this.#key = key;
  }

  /** Start shard `shard`'s part of `share` files. */
  static async open(
    folder: string,
    shard: Shard,
    origin: ScanPartOrigin,
    share: number,
    keys?: Keys,
  ): Promise<ScanPartWriter> {
    const path = join(folder, scanPartName(shard));
    for await (const e of Deno.readDir(folder)) {
      if (partialTarget(e.name) === scanPartName(shard)) {
        await Deno.remove(join(folder, e.name)).catch(() => {});
      }
    }
    const tmp = tempNameFor(path);
    const file = await Deno.open(tmp, { write: true, createNew: true, mode: PRIVATE_FILE });
    const writer = new ScanPartWriter(file, tmp, path, keys && cipherKey(keys));
    try {
      await setMode(tmp, PRIVATE_FILE);
      const head: PartHead = { format: FORMAT, ...origin, shard, share, encrypted: !!keys };
      await writer.#write(JSON.stringify(head) + "\n");
    } catch (e) {
      await writer.abort();
      throw e;
    }
    return writer;
  }

  async #write(text: string): Promise<void> {
    const bytes = this.#encoder.encode(text);
    for (let at = 0; at < bytes.length;) at += await this.#file.write(bytes.subarray(at));
  }

  async #flush(): Promise<void> {
    if (!this.#records.length) return;
    const text = JSON.stringify(this.#records);
    this.#records = [];
    await this.#write((this.#key ? seal(text, this.#key) : text) + "\n");
  }

  /** Add the surveys of these files (`indices` into `listed`). */
  async add(
    listed: ListedFiles,
    indices: readonly number[],
    surveys: FileList<Survey>,
  ): Promise<void> {
    for (const [j, index] of indices.entries()) {
      const { scanned: s, facts } = surveys.at(j)!;
      const record: PartRecord = [index, listed.at(index)!.rel, {
        size: s.size,
        kind: s.kind,
        reason: s.reason,
        header: s.header,
      }];
      if (facts) record.push(facts);
      this.#records.push(record);
      this.#written++;
      if (this.#records.length >= PER_LINE) await this.#flush();
    }
  }

  /** Write what is left, and put the part under its name; returns its path. */
  async finish(): Promise<string> {
    try {
      await this.#flush();
      await this.#file.sync();
      this.#file.close();
      await Deno.rename(this.#tmp, this.#path);
      return this.#path;
    } catch (e) {
      await this.abort();
      throw e;
    }
  }

  /** Give up: the temporary file is removed. */
  async abort(): Promise<void> {
    try {
      this.#file.close();
    } catch { /* closed */ }
    await Deno.remove(this.#tmp).catch(() => {});
  }
}

/** The shard counts of the parts in `folder` (none when it has none, or is not there). */
export async function scanPartCounts(folder: string): Promise<number[]> {
  const counts = new Set<number>();
  try {
    for await (const e of Deno.readDir(folder)) {
      const m = e.isFile ? PART_NAME.exec(e.name) : null;
      if (m) counts.add(Number(m[2]));
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return [...counts].sort((a, b) => a - b);
}

/**
 * Every listed file's survey, from the N parts in `folder` (`scan` command), for `makePlan`'s
 * `surveyed`. Throws `ScanPartError` when a part is missing, unfinished, stale (another tool,
 * rules edition, protocol, salt or file list than `origin`'s), of another shard count, unreadable
 * with this salt, or when the parts do not cover the listing exactly.
 *
 * The parts' names: `scanPartName`. `onProgress` is told of the files read so far.
 */
export async function readScanParts(
  folder: string,
  listed: ListedFiles,
  roots: readonly string[],
  origin: ScanPartOrigin,
  keys?: Keys,
  onProgress?: (done: number, total: number) => void,
  spill?: PlanSpill,
): Promise<FileRecords<Survey>> {
  const counts = await scanPartCounts(folder);
  if (counts.length === 0) throw new ScanPartError([`${folder} holds no scan part`]);
  if (counts.length > 1) {
    throw new ScanPartError([
      `scan parts of different shard counts (${counts.join(", ")}) are in ${folder}: remove the stale ones ` +
      `(or the folder) and scan again with one count`,
    ]);
  }
  const n = counts[0];
  const problems: string[] = [];
  const surveys = new SurveyRecords(spill, listed.length);
  const key = keys && cipherKey(keys);
  let done = 0;
  const pool = new Interner();
  for (let k = 1; k <= n; k++) {
    const shard = { k, n };
    const path = join(folder, scanPartName(shard));
    const again = `run dcmtidy scan --shard ${k}/${n} again (same protocol, --input and --output)`;
    try {
      const read = readLines(path);
      const first = await read.next();
      const line = first.done ? undefined : parseHead(first.value);
      if (line?.format !== FORMAT) {
        const format = line?.format;
        const older = typeof format === "string" && format.startsWith("dcmtidy-scan-part/") &&
          `is of another part format (${format}; this dcmtidy reads ${FORMAT})`;
        problems.push(
          `scan part ${shardName(shard)} ${older || "is not a part this dcmtidy understands"}: ${again}`,
        );
        continue;
      }
      const head = line as PartHead;
      const stale = staleness(head, origin);
      if (stale) {
        problems.push(`scan part ${shardName(shard)} is stale: ${stale}: ${again}`);
        continue;
      }
      let count = 0;
      for await (const line of read) {
        let records: PartRecord[];
        try {
          records = JSON.parse(key && head.encrypted ? unseal(line, key) : line);
        } catch {
          throw new ScanPartError([
            `scan part ${
              shardName(shard)
            } cannot be read: it is damaged, or was made with another salt: ${again}`,
          ]);
        }
        for (const [index, rel, scanned, facts] of records) {
          const f = listed.at(index);
          if (!f || f.rel !== rel || shareOf(roots.indexOf(f.root), rel, n) !== k || surveys.has(index)) {
            throw new ScanPartError([`scan part ${shardName(shard)} does not fit the input files: ${again}`]);
          }
          // Parsed afresh, each record would hold its own copy of its series' values: one copy each.
          surveys.set(
            index,
            compactSurvey({ scanned: { ...scanned, root: f.root, rel, path: f.path }, facts }, pool, f),
          );
          count++;
        }
        onProgress?.(done += records.length, listed.length);
        // A line's text and records are garbage once set: the heap is kept near what is live.
        boundHeap();
      }
      if (count !== head.share) problems.push(`scan part ${shardName(shard)} is cut short: ${again}`);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        problems.push(
          `scan part ${shardName(shard)} is missing: run dcmtidy scan --shard ${k}/${n} (a scan still ` +
            `running has not written it yet)`,
        );
      } else if (e instanceof ScanPartError) problems.push(...e.problems);
      else {
        surveys.close();
        throw e;
      }
    }
  }
  if (problems.length === 0) {
    const left = listed.length - surveys.filled;
    if (left) problems.push(`${left} input files are in no scan part: scan every shard again`);
  }
  if (problems.length) {
    surveys.close();
    throw new ScanPartError(problems);
  }
  return surveys;
}

/** A part's first line as JSON (a `PartHead` when it names this dcmtidy's format); undefined if not JSON. */
function parseHead(line: string): { readonly format?: unknown } | undefined {
  try {
    return JSON.parse(line) ?? undefined;
  } catch {
    return undefined;
  }
}

/** Why a part made from `head` does not fit `origin`, if it does not. */
function staleness(head: PartHead, origin: ScanPartOrigin): string | undefined {
  if (head.tool !== origin.tool) return `made by dcmtidy ${head.tool}, this is ${origin.tool}`;
  if (head.rules !== origin.rules) return `made with the rules of ${head.rules}, these are ${origin.rules}`;
  if (head.protocol.sha256 !== origin.protocol.sha256) {
    return `made with another protocol text (${head.protocol.name}, sha256 ${
      head.protocol.sha256.slice(0, 12)
    })`;
  }
  if ((head.salt ?? "") !== (origin.salt ?? "")) return "made with another salt";
  if (head.listing.sha256 !== origin.listing.sha256) {
    const then = head.listing.files, now = origin.listing.files;
    return `the input files changed since it was made (${
      then === now ? `as many files, other names` : `${then} files then, ${now} now`
    })`;
  }
  return undefined;
}
