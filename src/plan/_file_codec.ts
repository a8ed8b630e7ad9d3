/**
 * How a planned file is written past the bound of the plan's `FileRecords`: what the files of a
 * series share (their input root and original header, the output's pseudonym, UIDs, modality,
 * description, action counts and report columns) is held once in memory, by number, and each file's
 * line carries only its own facts. Every pass over a large plan decrypts and parses each line again:
 * a planned file of the bench's small files is 651 bytes as it is, about 200 this way.
 *
 * @module
 */
import type { ScannedFile } from "../scan/scan.ts";
import { sharingCodec, type SpillCodec } from "../util/spill_map.ts";
import type { PlannedFile } from "./types.ts";

/** Every field of a scanned file is written: one added to `ScannedFile` must be added here too. */
type Written = "root" | "rel" | "path" | "size" | "kind" | "reason" | "header";
const _everyField: Record<Exclude<keyof ScannedFile, Written>, never> = {};
void _everyField;

/** A planned file with its input's fields beside its own (`why`: the input's reason). */
type Flat = Omit<PlannedFile, "input"> & Omit<ScannedFile, "reason" | "path"> & {
  readonly path?: string;
  readonly why?: string;
};

/** What the files of a series share: held once, by number (see `sharingCodec`). */
const SHARED = [
  "root",
  "header",
  "pseudoId",
  "studyUID",
  "seriesUID",
  "seriesDescription",
  "modality",
  "counts",
  "fields",
];

/** A codec for one plan's files (its table of shared parts lives as long as the plan). */
export function plannedFileCodec(): SpillCodec<PlannedFile> {
  const flat = sharingCodec<Flat>(SHARED);
  return {
    encode({ input, ...own }: PlannedFile): unknown {
      const { reason: why, path, ...scanned } = input;
      // The path is written only when it is not the root and the relative path joined (never, as walked).
      return flat.encode({
        ...own,
        ...scanned,
        ...(path === `${input.root}/${input.rel}` ? {} : { path }),
        why,
      });
    },
    decode(stored: unknown): PlannedFile {
      const { root, rel, path, size, kind, why, header, ...own } = flat.decode(stored);
      return {
        ...own,
        input: {
          root,
          rel,
          path: path ?? `${root}/${rel}`,
          size,
          kind,
          ...(why === undefined ? {} : { reason: why }),
          ...(header === undefined ? {} : { header }),
        },
      };
    },
  };
}
