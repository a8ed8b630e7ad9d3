/**
 * Reading a protocol file into a {@link ProtocolSource}: YAML (or JSON) with positions, or a
 * TypeScript module's default export with its hooks. A missing, binary or unloadable file is a
 * {@link ProtocolError} at once: there is nothing to validate.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { extname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ProtocolError } from "./errors.ts";
import { objectSource, type ProtocolSource, yamlSource } from "./source.ts";
import type { Hook, ProtocolDefinition } from "./typescript.ts";

/** A protocol file as read: where it is, its bytes' sha256, its data and (TypeScript) its hooks. */
export interface ReadProtocol {
  /** Absolute path of the protocol file. */
  readonly file: string;
  /** sha256 of the file's bytes. */
  readonly sha256: string;
  readonly source: ProtocolSource;
  readonly hooks: Record<string, Hook>;
}

/** Read `path` (as the user gave it: messages name it so). */
export async function readProtocol(path: string): Promise<ReadProtocol> {
  const file = resolve(path);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
    throw new ProtocolError([{ file: path, message: why }]);
  }
  if (bytes.subarray(0, 4096).includes(0)) {
    // Do not parse (and echo) a DICOM or other binary file given by mistake.
    throw new ProtocolError([{
      file: path,
      message: "this is a binary file, not a protocol (.yaml, .yml, .json or .ts)",
    }]);
  }
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  let source: ProtocolSource;
  let hooks: Record<string, Hook> = {};
  if (extname(file) === ".ts") {
    let mod: { default?: ProtocolDefinition };
    try {
      mod = await import(pathToFileURL(file).href);
    } catch (e) {
      throw new ProtocolError([{
        file: path,
        message: `cannot load: ${(e as Error).message.split("\n")[0]}`,
      }]);
    }
    if (!mod.default || typeof mod.default !== "object") {
      throw new ProtocolError([{ file: path, message: "needs `export default defineProtocol({ ... })`" }]);
    }
    const { hooks: h, ...data } = mod.default;
    hooks = h ?? {};
    source = objectSource(path, data);
  } else {
    const parsed = yamlSource(path, new TextDecoder().decode(bytes));
    if (!parsed.source) throw new ProtocolError(parsed.issues);
    source = parsed.source;
  }
  return { file, sha256, source, hooks };
}
