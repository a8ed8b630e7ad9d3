/** Hashing whole files without holding them in memory. */
import { createHash } from "node:crypto";

/** The sha256 of a file's bytes, read in the stream's chunks. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  const f = await Deno.open(path);
  for await (const chunk of f.readable) h.update(chunk); // the stream closes the file
  return h.digest("hex");
}
