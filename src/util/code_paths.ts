/**
 * Where dcmtidy's code and Deno's module cache are, for permission sets: a process or worker that
 * may read only what it needs must still read the code it runs.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** The folder of dcmtidy's code (cli.ts and src/). */
export function codeRoot(): string {
  return fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");
}

/** Deno's module cache, where the npm packages (and the codecs' WebAssembly) are; undefined if unknown. */
export function moduleCache(): string | undefined {
  const resolved = import.meta.resolve("yaml");
  if (!resolved.startsWith("file:")) return undefined;
  const path = fileURLToPath(resolved);
  const at = path.indexOf("/npm/");
  return at > 0 ? path.slice(0, at) : undefined;
}
