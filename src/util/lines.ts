/**
 * A text file's lines, one at a time: files of a line a record (a scan part, a shard part) are as
 * large as the share of files they cover, and are never read whole.
 *
 * @example
 * ```ts ignore
 * import { readLines } from "./lines.ts";
 *
 * for await (const line of readLines("part.jsonl")) console.log(JSON.parse(line));
 * ```
 *
 * @module
 */

/** The lines of the file at `path` (without their newlines; a last line without one too). */
export async function* readLines(path: string): AsyncGenerator<string> {
  using file = await Deno.open(path);
  let rest = "";
  for await (const text of file.readable.pipeThrough(new TextDecoderStream())) {
    rest += text;
    let nl: number;
    while ((nl = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, nl);
      rest = rest.slice(nl + 1);
    }
  }
  if (rest) yield rest;
}
