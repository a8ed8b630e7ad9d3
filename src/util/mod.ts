/**
 * What every layer needs and none owns: errors raised on purpose and exit codes, CSV, hashes,
 * file identities and input stamps, temporary names, atomic private files, file system reasons
 * without paths, "did you mean" suggestions, a file read a line at a time.
 *
 * @module
 */
export { DcmtidyError, EXIT } from "./errors.ts";
export { parseCsv, toCsv } from "./csv.ts";
export { sha256File } from "./hash.ts";
export { concatBytes, swapBytes } from "./bytes.ts";
export {
  hasIdentity,
  identityOf,
  type InputStamp,
  lstatOrUndefined,
  type OutputIdentity,
  sameStamp,
  stampOf,
  statOrUndefined,
} from "./file_identity.ts";
export { readLines } from "./lines.ts";
export { partialTarget, tempNameFor } from "./temp.ts";
export { ensurePrivateDir, PRIVATE_DIR, PRIVATE_FILE, setMode, writeAtomically } from "./atomic.ts";
export { fsReason, withoutPaths } from "./fs_errors.ts";
export { editDistance, suggestClosest } from "./suggest.ts";
