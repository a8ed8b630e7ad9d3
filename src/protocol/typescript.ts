/**
 * TypeScript protocols: the same fields as YAML, plus hooks, functions that `{ fn: NAME }` actions
 * call to rewrite a value. `defineProtocol` gives such a file its types; `loadProtocol` imports it.
 *
 * @module
 */
import type { z } from "zod";
import type { protocolSchema } from "./schema.ts";

/** A hook of a TypeScript protocol: gets the current value, returns the new one (undefined removes). */
export type Hook = (value: string | undefined, ctx: HookContext) => string | undefined;

/** What a hook knows about the element it rewrites. */
export interface HookContext {
  /** The keyword (or `(gggg,eeee)`) of the element. */
  readonly keyword: string;
  /** The element's VR, e.g. "LO". */
  readonly vr: string;
  /** The subject's pseudonym. */
  readonly pseudoId: string;
}

/** A TypeScript protocol: the YAML fields plus `hooks` for `{ fn: NAME }` actions. */
export type ProtocolDefinition = z.input<typeof protocolSchema> & { hooks?: Record<string, Hook> };

/**
 * Type-check a TypeScript protocol: `export default defineProtocol({ ... })`. It returns the
 * definition unchanged; `loadProtocol` validates it like a YAML protocol (positions aside) and
 * checks that every `{ fn: NAME }` action names one of its hooks.
 *
 * @example A protocol with a hook
 * ```ts
 * // study.ts: `dcmtidy run study.ts` imports it (a protocol is code: only run protocols you trust).
 * import { defineProtocol } from "./mod.ts";
 *
 * export default defineProtocol({
 *   version: 1,
 *   name: "study-2026",
 *   input: { root: "./raw" },
 *   output: { root: "./tidy" },
 *   deidentify: {
 *     salt: { env: "STUDY_SALT" },
 *     tags: { StudyDescription: { fn: "site" } },
 *   },
 *   hooks: {
 *     // "SITE12 brain MRI" -> "SITE12": keep the site code, drop the rest.
 *     site: (value) => value?.split(" ")[0],
 *   },
 * });
 * ```
 */
export function defineProtocol(definition: ProtocolDefinition): ProtocolDefinition {
  return definition;
}
