/**
 * The key file: original PatientID and StudyInstanceUID against what the run made of them. It lives
 * outside the output root, is private to its owner, and is merged under a lock (shards on several
 * machines add their rows to one file).
 *
 * @module
 */
import { dirname } from "node:path";
import type { Plan } from "../plan/mod.ts";
import { ensureDir, PRIVATE_FILE, writeAtomically } from "../util/atomic.ts";
import { parseCsv, toCsv } from "../util/csv.ts";
import { RunRefusal } from "./errors.ts";
import type { FileOutcome } from "./process.ts";

/** The key file's columns, in order: a file with other columns is not a key file dcmtidy wrote. */
export const KEY_HEADER: readonly string[] = [
  "OriginalPatientID",
  "Pseudonym",
  "DateOffsetDays",
  "OriginalStudyInstanceUID",
  "NewStudyInstanceUID",
];

/** One key file row, in `KEY_HEADER`'s order. */
export type KeyRow = readonly string[];

/** A lock older than this was left by a killed run (holding it takes a moment): it is taken over. */
const STALE_LOCK_MS = 120_000;
/** How long a run waits for another one (a shard) to finish writing the key file. */
const LOCK_WAIT_MS = 600_000;
/** A wait longer than this is said (`onWait`): another run's turn takes a moment, a killed one's two minutes. */
const WAIT_NOTICE_MS = 1_000;

/**
 * The rows of an existing key file, [] when there is none (or it is empty). Throws `RunRefusal`
 * when the file is not a key file dcmtidy wrote: it is not ours to replace.
 */
export async function readKeyFile(path: string): Promise<string[][]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    if (e instanceof Deno.errors.IsADirectory) {
      throw new RunRefusal(`the key file ${path} is a folder: name a file`);
    }
    throw e;
  }
  if (!text.trim()) return [];
  let parsed: string[][] = [];
  try {
    // Blank lines (an editor's last line) are no rows.
    parsed = parseCsv(text.replace(/^\uFEFF/, "")).filter((r) => r.length > 1 || r[0] !== "");
  } catch { /* not CSV: refused below */ }
  const [header = [], ...rows] = parsed;
  if (header.join(",") !== KEY_HEADER.join(",") || rows.some((r) => r.length !== KEY_HEADER.length)) {
    throw new RunRefusal(
      `the key file ${path} exists and is not a key file dcmtidy wrote (columns ${KEY_HEADER.join(",")}): ` +
        "refusing to replace it; move it away or name another key path",
    );
  }
  return rows;
}

/**
 * Add rows to the key file: the rows already in it are kept (another site, an earlier run), the same
 * row is listed once, and rows are sorted, so the file does not depend on which run or shard wrote
 * what first. The file is its owner's only (0600). Runs that share a key file (shards) take turns
 * through a lock file beside it.
 */
export async function mergeKeyFile(
  path: string,
  rows: readonly KeyRow[],
  onWait?: (why: string) => void,
): Promise<void> {
  await ensureDir(dirname(path));
  await withLock(`${path}.lock`, onWait, async () => {
    const all = new Map<string, KeyRow>();
    for (const r of [...(await readKeyFile(path)), ...rows]) all.set(JSON.stringify(r), r);
    const sorted = [...all.values()].sort(compareRows);
    await writeAtomically(path, toCsv([KEY_HEADER, ...sorted]), { mode: PRIVATE_FILE });
  });
}

function compareRows(a: KeyRow, b: KeyRow): number {
  const x = a.join("\0");
  const y = b.join("\0");
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Run `work` holding `lock` (a file made with createNew); a lock left by a killed run is taken over.
 * `onWait` is told once, with why, when the lock has been held by another for a second.
 */
async function withLock<T>(
  lock: string,
  onWait: ((why: string) => void) | undefined,
  work: () => Promise<T>,
): Promise<T> {
  const started = Date.now();
  const deadline = started + LOCK_WAIT_MS;
  let told = false;
  for (;;) {
    try {
      (await Deno.open(lock, { write: true, createNew: true, mode: PRIVATE_FILE })).close();
      break;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    const since = await Deno.stat(lock).then(
      (st) => Date.now() - (st.mtime?.getTime() ?? Date.now()),
      () => 0,
    );
    if (since > STALE_LOCK_MS) {
      await Deno.remove(lock).catch(() => {});
      continue;
    }
    if (Date.now() > deadline) {
      throw new RunRefusal(`${lock} is held by another run (or left by one): remove it if no dcmtidy runs`);
    }
    if (!told && onWait && Date.now() - started > WAIT_NOTICE_MS) {
      told = true;
      const left = Math.max(1, Math.ceil((STALE_LOCK_MS - since) / 1000));
      onWait(
        `the key file's lock ${lock} is held by another run, or was left by one that was killed: ` +
          `waiting for it (a lock left behind is taken over when it is ${STALE_LOCK_MS / 60_000} minutes ` +
          `old, in ${left} s)`,
      );
    }
    await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
  }
  held.add(lock);
  try {
    return await work();
  } finally {
    held.delete(lock);
    await Deno.remove(lock).catch(() => {});
  }
}

/** The locks this process holds (one at a time, in practice). */
const held = new Set<string>();

/**
 * Let go of the key file locks this process holds, blocking: for a process about to exit on a signal
 * (its `finally` blocks do not run). The key file itself is whole (it is replaced by a rename); rows
 * not merged yet are merged by the next run, which finds the files finished in the journal and does
 * not wait two minutes for a lock left behind.
 */
export function releaseKeyLocksSync(): void {
  for (const lock of held) {
    try {
      Deno.removeSync(lock);
    } catch { /* gone already */ }
  }
  held.clear();
}

/**
 * The key file's rows for the files written: the original PatientID and StudyInstanceUID as the
 * scan read them from the input's header, with what the run made of them. Files without a
 * PatientID have no row (their subject is their study, named by its pseudonym).
 */
export function keyRows(plan: Plan, outcomes: ReadonlyMap<number, FileOutcome>): KeyRow[] {
  const rows = new KeyRowSet();
  for (const o of outcomes.values()) rows.add(plan.files.get(o.index).input.header, o);
  return rows.rows();
}

/** What a key row takes from a file's original header (as the scan read it). */
export interface KeyOriginal {
  readonly patientId?: string;
  readonly studyUID?: string;
}

/**
 * `keyRows` gathered as a run records its files (`add` each outcome with its input's header), so
 * that no pass over the plan and the outcomes is needed at its end: past the memory bound both are
 * read back from disk (2 s for 300,000 files). Each row once; a study's files, which mostly come
 * one after another, are compared with the last row before the row is looked up.
 */
export class KeyRowSet {
  readonly #rows = new Map<string, KeyRow>();
  #last?: KeyRow;

  /** Count the file with this outcome and original header (written files with a PatientID only). */
  add(
    original: KeyOriginal | undefined,
    o: Pick<FileOutcome, "status" | "pseudoId" | "dayOffset" | "newStudyUID">,
  ): void {
    if (o.status !== "written" || !original?.patientId) return;
    const row = [
      original.patientId,
      o.pseudoId ?? "",
      String(o.dayOffset ?? ""),
      original.studyUID ?? "",
      o.newStudyUID ?? "",
    ];
    const last = this.#last;
    if (last && row.every((v, i) => v === last[i])) return;
    this.#last = row;
    this.#rows.set(JSON.stringify(row), row);
  }

  /** The rows, each once, in the order first met. */
  rows(): KeyRow[] {
    return [...this.#rows.values()];
  }
}
