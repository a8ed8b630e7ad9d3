/**
 * Recording a file's outcome as a run's DICOM phase gets it (`write_files.ts`): in the run (its
 * outcomes, the key file's rows, progress, notes) and, for a file written, the journal line that says
 * it is finished.
 *
 * @module
 */
import { join } from "node:path";
import type { PlannedFile } from "../plan/mod.ts";
import { identityOf } from "../util/file_identity.ts";
import { type JournalEntry, withoutOriginals } from "./journal.ts";
import { compactOutcome, type FileOutcome } from "./process.ts";
import type { RunContext } from "./types.ts";

/**
 * Record one file's outcome: in the run's outcomes and, when written, in the journal. `f`: its
 * planned file when the caller has it (else it is read).
 */
export async function recordFile(
  ctx: RunContext,
  result: FileOutcome,
  inputMtime: number | undefined,
  f?: PlannedFile,
): Promise<void> {
  const line = recordOutcome(ctx, result, inputMtime, f);
  if (line !== undefined) await ctx.append(line);
}

/**
 * `recordFile` but for the journal: the outcome recorded in the run (progress, notes), and the
 * journal line to append when the file was written (the caller appends it). `staged`: the outcome
 * of an output written ahead, whose shared values are the run's already (the staging holds them
 * through the run's `Interner`) and which has no original identity: recorded as it is.
 */
export function recordOutcome(
  ctx: RunContext,
  result: FileOutcome,
  inputMtime: number | undefined,
  planned?: PlannedFile,
  staged = false,
): string | undefined {
  const p = ctx.plan.protocol;
  const outcome = staged ? result : compactOutcome(withoutOriginals(result), ctx.shared);
  const f = planned ?? ctx.plan.files.get(outcome.index);
  ctx.record(outcome, f.input.header);
  if (outcome.linkFellBack && !ctx.notes.some((n) => n.startsWith("hardlink"))) {
    ctx.notes.push(
      "hardlink: some files could not be linked (output on another device than the input, or links " +
        "to files of other users refused), so they were copied",
    );
  }
  if (outcome.status === "written") {
    const linked = !p.deidentify && p.output.mode !== "copy" && !outcome.linkFellBack;
    const { output, ...rest } = outcome;
    const entry: JournalEntry = {
      input: f.input.path,
      dest: f.dest!,
      // A hard link also keeps its own identity: once its input is replaced, the link is still
      // the file this run made, which removeStaleOutputs may remove.
      ...(linked
        ? p.output.mode === "symlink"
          ? { link: "symbolic" }
          : { link: "hard", output: identityOf(join(ctx.root, f.dest!)) }
        : { output }),
      inputMtime,
      outcome: rest,
    };
    ctx.kept(false);
    ctx.progress(f.input.size);
    return JSON.stringify(entry) + "\n";
  }
  ctx.progress(f.input.size);
  return undefined;
}
