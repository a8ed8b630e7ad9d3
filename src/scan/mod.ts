/**
 * Scanning the input: walking the roots through the protocol's globs (`walkInputs`), reading each
 * file's header and classifying it (`scan`), duplicates, and references to input files in text.
 *
 * @module
 */

export { Interner } from "./intern.ts";
export { type Listed, type ListedFiles, listFiles, Listing, walkInputs, type WalkOptions } from "./inputs.ts";
export {
  classifyHeader,
  compactScanned,
  type FileKind,
  type HeaderInfo,
  type HeaderRead,
  inputRef,
  InstanceKeys,
  markDuplicates,
  readHeaderSync,
  readInLanes,
  renderRefs,
  scan,
  type ScannedFile,
  type ScanOptions,
  sharedInstances,
} from "./scan.ts";
