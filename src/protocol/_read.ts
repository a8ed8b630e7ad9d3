/**
 * Reading a protocol file into a {@link ProtocolSource}: YAML (or JSON) with positions, or a
 * TypeScript module's default export with its hooks. A missing, binary or unloadable file is a
 * {@link ProtocolError} at once: there is nothing to validate.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { dirname, extname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ProtocolError } from "./errors.ts";
import { objectSource, type ProtocolSource, yamlSource } from "./source.ts";
import type { Hook, ProtocolDefinition } from "./typescript.ts";
import type { FromProtocolWorker } from "./_ts_protocol_worker.ts";
import { codeRoot, moduleCache } from "../util/code_paths.ts";

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
    const loaded = inWorker() ? await importHere(file) : await importInWorker(file);
    if ("error" in loaded) throw new ProtocolError([{ file: path, message: loaded.error }]);
    hooks = loaded.hooks;
    source = objectSource(path, loaded.data);
  } else {
    const parsed = yamlSource(path, new TextDecoder().decode(bytes));
    if (!parsed.source) throw new ProtocolError(parsed.issues);
    source = parsed.source;
  }
  return { file, sha256, source, hooks };
}

/** Whether this code runs in a worker (a run's sandboxed worker loads the protocol itself). */
function inWorker(): boolean {
  return "WorkerGlobalScope" in globalThis;
}

type Loaded = { data: Record<string, unknown>; hooks: Record<string, Hook> } | { error: string };

/** Import the module in this thread (already a sandboxed worker): its hooks are functions. */
async function importHere(file: string): Promise<Loaded> {
  let mod: { default?: ProtocolDefinition };
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (e) {
    return { error: `cannot load: ${(e as Error).message.split("\n")[0]}` };
  }
  if (!mod.default || typeof mod.default !== "object") {
    return { error: "needs `export default defineProtocol({ ... })`" };
  }
  const { hooks, ...data } = mod.default;
  return { data: data as Record<string, unknown>, hooks: hooks ?? {} };
}

/**
 * Import the module in a worker that may read only the protocol's folder, the code and the module
 * cache (nothing else: no environment, network, subprocess, FFI, writing). Its hooks come back as
 * names; called in this process, they refuse (they run in the run's sandboxed workers).
 */
async function importInWorker(file: string): Promise<Loaded> {
  const worker = new Worker(new URL("./_ts_protocol_worker.ts", import.meta.url), {
    type: "module",
    deno: {
      permissions: {
        read: [dirname(file), codeRoot(), ...(moduleCache() ? [moduleCache()!] : [])],
        write: false,
        env: false,
        net: false,
        run: false,
        ffi: false,
        sys: false,
        import: false,
      },
    },
  });
  try {
    const answer = await new Promise<FromProtocolWorker>((ok, fail) => {
      worker.onmessage = (e: MessageEvent<FromProtocolWorker>) => ok(e.data);
      worker.onerror = (e) => {
        e.preventDefault();
        fail(new Error(e.message));
      };
      worker.postMessage({ url: pathToFileURL(file).href });
    });
    if (!answer.ok) {
      const outside = /Requires (read|env|net|write|run) access/.test(answer.error);
      return {
        error: outside
          ? `${
            answer.error.replace(/, run again with the --allow-\w+ flag/, "")
          }: a TypeScript protocol may read only ` +
            "its own folder, and may not use the environment, the network or programs when it loads"
          : answer.error,
      };
    }
    const hooks: Record<string, Hook> = {};
    for (const name of answer.hooks) {
      hooks[name] = () => {
        throw new Error(`hook ${name} runs only in the run's sandboxed workers`);
      };
    }
    return { data: answer.data, hooks };
  } catch (e) {
    return { error: `cannot load: ${(e as Error).message.split("\n")[0]}` };
  } finally {
    worker.terminate();
  }
}
