/**
 * De-identification of one data set (PS3.15 Annex E): the session and how to open one, its
 * settings, the salt's keyed functions, pseudonyms, and the pieces other layers and the tests use
 * (dummy values, date arithmetic, text cleaning, registry UIDs, before/after diffs).
 *
 * @module
 */

// The session: open one, de-identify files with it.
export { type OpenOptions, openSession } from "./session.ts";
export { type DeidResult, DeidSession, type SessionOptions } from "./session.ts";
export { DeidError } from "./errors.ts";
export { PseudonymRegistry } from "./pseudonyms.ts";

// Its settings and keys.
export { configFromProtocol, type DeidConfig, deidConfig, loadDeidConfig } from "./config.ts";
export { Keys } from "./keys.ts";
export { keysFor, readSalt } from "./salt.ts";

// What de-identification did, element by element (plan's dry-run diff, verify's PHI search).
export { diffFlat, type FlatElement, flattenDataSet, type TagChange } from "./diff.ts";

// Pieces used on their own.
export { dummyValue } from "./dummy.ts";
export { shiftDA, shiftDT, yearOnly } from "./dates.ts";
export { cleanText, removeKnownPHI } from "./clean.ts";
export { isWellKnownUID } from "./uids.ts";
