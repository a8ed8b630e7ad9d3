/**
 * Outputs an earlier run wrote that this run does not make: removed when they are still what was
 * written, so the tree holds only what this run reports; told when they were changed since.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { exists } from "../dicom/file_io.ts";
import { niftiFamily } from "../nifti/convert.ts";
import type { Plan } from "../plan/mod.ts";
import { hasIdentity } from "../util/file_identity.ts";
import { hash32 } from "../util/hash.ts";
import { HashIndex } from "../util/hash_index.ts";
import { isJournaled, type JournalEntry } from "./journal.ts";
import type { Journal } from "./journal_index.ts";
import type { SeriesJob, SeriesOutcome } from "./series.ts";

/**
 * Remove what an earlier run wrote from an input of this plan to a place the plan no longer makes
 * (the input changed, or the protocol's names did), so the tree holds only what this run reports.
 * Only outputs that still have the bytes the journal recorded are removed, and the folders they
 * leave empty; a changed one is left in place and told. A shard sees only its own journal, and the
 * whole plan's destinations, so it never removes what another shard makes. Returns the notes.
 */
export async function removeStaleOutputs(
  plan: Plan,
  journal: Journal,
  append: (text: string) => Promise<void>,
): Promise<string[]> {
  const p = plan.protocol;
  const root = p.output.root;
  // Nothing an earlier run finished: nothing can be stale (and the plan's files are not gone through).
  if (journal.finished === 0 && journal.series.size === 0) return [];
  // The plan's inputs and the destinations it writes, by hash (8 bytes a file, not the strings),
  // in one pass over its files (which may be read back from disk); a file found is read back to
  // compare.
  const inputs = new HashIndex();
  const dests = new HashIndex();
  for (const [i, f] of plan.files.entries()) {
    inputs.add(hash32(f.input.path), i);
    if (p.output.format !== "nifti" && f.status === "write") dests.add(hash32(f.dest!), i);
  }
  const reads = (path: string) =>
    some(inputs.candidates(hash32(path)), (i) => plan.files.get(i).input.path === path);
  const makes = (dest: string) =>
    some(dests.candidates(hash32(dest)), (i) => plan.files.get(i).dest === dest);
  const stems = new Set(p.output.format === "dicom" ? [] : plan.series.flatMap((s) => s.nifti ?? []));
  let removed = 0;
  const changed: string[] = [];
  const lines: string[] = [];
  /**
   * Remove `rel` if it is what the journal recorded: a file with its hash, or (an entry of a
   * sort-only run) the link it made to its input; a symbolic link to the input counts for entries
   * of older runs, which hashed links.
   */
  const removeIfOurs = async (
    rel: string,
    recorded: Pick<JournalEntry, "output" | "link" | "input" | "sha256">,
  ) => {
    const path = join(root, rel);
    const link = await Deno.readLink(path).catch(() => undefined);
    // A hard link is the file it was made as while it is that inode, whatever was done to the
    // input through it since (an edit in place changes the size and time of both).
    const ours = (!p.deidentify && link === recorded.input) ||
      (recorded.output
        ? hasIdentity(path, recorded.output, { inodeOnly: recorded.link === "hard" })
        : await isJournaled(recorded, path));
    if (!ours) {
      if (link !== undefined || (await exists(path))) changed.push(rel);
      return;
    }
    await Deno.remove(path);
    removed++;
    for (let dir = dirname(path); dir.length > root.length && dir.startsWith(root); dir = dirname(dir)) {
      if (!(await Deno.remove(dir).then(() => true, () => false))) break; // not empty: stop
    }
  };
  // Those whose output the run wrote or resumed are not gone through again (`Journal.done`).
  for (const e of journal.entries({ unmade: true })) {
    if (makes(e.dest) || !reads(e.input)) continue;
    await removeIfOurs(e.dest, e);
    lines.push(JSON.stringify({ removed: e.dest }));
  }
  for (const e of journal.series.values()) {
    if (stems.has(e.series) || !e.inputs.some(reads)) continue;
    for (const v of e.outcome.volumes) {
      await removeIfOurs(v.nifti, { sha256: v.niftiSha256, input: "" });
      await removeIfOurs(v.sidecar, { sha256: v.sidecarSha256, input: "" });
    }
    lines.push(JSON.stringify({ removedSeries: e.series }));
  }
  if (lines.length) await append(lines.map((l) => l + "\n").join(""));
  const notes: string[] = [];
  const outputs = (n: number) => `${n} output${n === 1 ? "" : "s"}`;
  if (removed) notes.push(`removed ${outputs(removed)} an earlier run wrote that the plan no longer makes`);
  if (changed.length) {
    // Names made from original values (sort only) are not shown.
    const which = p.deidentify
      ? `: ${changed.slice(0, 5).join(", ")}${changed.length > 5 ? ", ..." : ""}`
      : "";
    notes.push(
      `${outputs(changed.length)} an earlier run wrote that the plan no longer makes ${
        changed.length === 1 ? "was" : "were"
      } changed since, so left in place${which}`,
    );
  }
  return notes;
}

/**
 * Names of a series' family that an earlier run wrote and this one did not (the series now splits
 * differently): removed, so the tree holds only what this run reports. The plan reserved the whole
 * family for this series, and the run checked it is dcmtidy's, so nothing else is touched.
 */
export async function removeStaleFamily(job: Pick<SeriesJob, "root" | "stem" | "frames">, o: SeriesOutcome) {
  const written = new Set(o.volumes.flatMap((v) => [v.nifti, v.sidecar]));
  for (const rel of niftiFamily(job.stem, job.frames)) {
    if (written.has(rel)) continue;
    await Deno.remove(join(job.root, rel)).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }
}

/** Whether any of `values` passes `test`. */
function some(values: Iterable<number>, test: (value: number) => boolean): boolean {
  for (const v of values) if (test(v)) return true;
  return false;
}
