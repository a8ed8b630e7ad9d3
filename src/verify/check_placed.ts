/** Sort only: each output is its input's own bytes (a copy or a hard link) or a symlink to it. */
import { sha256File } from "../util/hash.ts";
import type { FindingKind } from "./findings.ts";

/**
 * Check that the output `dest` is the input `src`'s bytes (a copy or hardlink) or a symlink to it
 * (`not-identical` otherwise; `unverifiable` when the input is gone). `ref` names the input.
 */
export async function checkPlaced(
  dest: string,
  src: string,
  ref: string,
  find: (kind: FindingKind, detail: string) => void,
): Promise<void> {
  try {
    if ((await Deno.lstat(dest)).isSymlink) {
      if ((await Deno.realPath(dest)) !== (await Deno.realPath(src))) {
        find("not-identical", `a symlink that does not lead to its source ${ref}`);
      }
      return;
    }
    if ((await sha256File(dest)) !== (await sha256File(src))) {
      find("not-identical", `its bytes differ from its source ${ref}`);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    find("unverifiable", `its source ${ref} is gone`);
  }
}
