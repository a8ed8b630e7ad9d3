/// <reference lib="deno.worker" />
/**
 * Loads a TypeScript protocol in a worker that may read only the protocol's folder, the code and
 * the module cache: no environment, network, subprocesses, FFI or writing. What the module's top
 * level does runs here, under those permissions; its data comes back as plain values, and its
 * hooks as names (they run in the run's sandboxed workers, which load the protocol themselves).
 *
 * @module
 */
import type { ProtocolDefinition } from "./typescript.ts";

/** What the worker answers: the protocol's data and hook names, or why it could not load. */
export type FromProtocolWorker =
  | { ok: true; data: Record<string, unknown>; hooks: string[] }
  | { ok: false; error: string };

self.onmessage = async (e: MessageEvent<{ url: string }>) => {
  let answer: FromProtocolWorker;
  try {
    const mod: { default?: ProtocolDefinition } = await import(e.data.url);
    if (!mod.default || typeof mod.default !== "object") {
      answer = { ok: false, error: "needs `export default defineProtocol({ ... })`" };
    } else {
      const { hooks, ...data } = mod.default;
      answer = {
        ok: true,
        data: structuredClone(data) as Record<string, unknown>,
        hooks: Object.keys(hooks ?? {}),
      };
    }
  } catch (err) {
    answer = { ok: false, error: `cannot load: ${(err as Error).message.split("\n")[0]}` };
  }
  self.postMessage(answer);
};
