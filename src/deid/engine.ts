/**
 * Where the de-identification engine's names used to live, kept so that existing imports still
 * resolve; new code imports them from `./mod.ts` (or the file that owns each name): the session
 * (`session.ts`), its error (`errors.ts`) and the pseudonym registry (`pseudonyms.ts`).
 *
 * @module
 */
export { DeidError } from "./errors.ts";
export { PseudonymRegistry } from "./pseudonyms.ts";
export { type DeidResult, DeidSession, type SessionOptions } from "./session.ts";
