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
import { isJournaled, type Journal, type JournalEntry } from "./journal.ts";
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
  if (journal.done.size === 0 && journal.series.size === 0) return [];
  // Of the journal's inputs and destinations, those the plan has and makes: sets no larger than the
  // journal (which is in memory already), made in one pass over the plan's files.
  const journalInputs = new Set<string>();
  for (const e of journal.done.values()) journalInputs.add(e.input);
  for (const e of journal.series.values()) for (const i of e.inputs) journalInputs.add(i);
  const inputs = new Set<string>();
  const dests = new Set<string>();
  for (const f of plan.files) {
    if (journalInputs.has(f.input.path)) inputs.add(f.input.path);
    if (p.output.format !== "nifti" && f.status === "write" && journal.done.has(f.dest!)) dests.add(f.dest!);
  }
  journalInputs.clear();
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
  for (const e of journal.done.values()) {
    if (dests.has(e.dest) || !inputs.has(e.input)) continue;
    await removeIfOurs(e.dest, e);
    lines.push(JSON.stringify({ removed: e.dest }));
  }
  for (const e of journal.series.values()) {
    if (stems.has(e.series) || !e.inputs.some((i) => inputs.has(i))) continue;
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
