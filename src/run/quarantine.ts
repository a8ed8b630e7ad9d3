/**
 * Raw copies of quarantined files, in the protocol's quarantine folder (outside the output root).
 *
 * @module
 */
import { ensureDir } from "../util/atomic.ts";
import { dirname, join } from "node:path";
import { exists } from "../dicom/file_io.ts";
import type { Plan } from "../plan/mod.ts";
import { fsReason } from "../util/fs_errors.ts";
import type { FileOutcome } from "./process.ts";

/**
 * Raw copies of quarantined files go to the quarantine folder (outside the output root), if any. A
 * copy that fails (the input is gone, a permission) is told in the file's reason; the run goes on.
 */
export async function copyQuarantined(
  plan: Plan,
  mine: readonly number[],
  outcomes: { get(index: number): FileOutcome | undefined; set(index: number, o: FileOutcome): unknown },
): Promise<void> {
  const q = plan.protocol.quarantine;
  if (!q) return;
  for (const i of mine) {
    const f = plan.files.get(i);
    const o = outcomes.get(i);
    const quarantined = f.status === "quarantine" || o?.status === "quarantined";
    if (!quarantined) continue;
    const dest = join(q, f.input.rel);
    let why: string | undefined;
    try {
      await ensureDir(dirname(dest));
      if (await exists(dest)) continue;
      // What is not a regular file now (a FIFO put at the input's path, whose opening waits for a
      // writer for ever) is not copied.
      if ((await Deno.stat(f.input.path)).isFile) await Deno.copyFile(f.input.path, dest);
      else why = "not copied to quarantine: not a regular file (a FIFO, socket, device or folder)";
    } catch (e) {
      why = `not copied to quarantine: ${fsReason(e)}`;
    }
    if (why) {
      const reason = o?.status === "quarantined" ? o.reason : f.reason;
      outcomes.set(i, {
        ...(o ?? { index: i }),
        status: "quarantined",
        reason: reason ? `${reason}; ${why}` : why,
      });
    }
  }
}
