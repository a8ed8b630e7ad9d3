/** The command line's check of a protocol's input roots before any long work. */
import type { Protocol } from "../protocol/protocol.ts";
import { fsReason } from "../util/fs_errors.ts";
import { UsageError } from "./errors.ts";

/** Each input root must be there, be a folder and be readable: else a usage error naming it. */
export async function checkInputRoots(protocol: Protocol): Promise<void> {
  for (const root of protocol.input.roots) {
    const st = await Deno.stat(root).catch((e) => {
      if (e instanceof Deno.errors.NotCapable) {
        throw new UsageError(`the input root ${root} cannot be read: ${fsReason(e)}`);
      }
      return undefined;
    });
    if (!st) throw new UsageError(`the input root ${root} does not exist`);
    if (!st.isDirectory) throw new UsageError(`the input root ${root} is not a folder`);
  }
}
