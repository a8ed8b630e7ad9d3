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
import type { SpillCodec } from "../util/spill_map.ts";
import type { PlannedFile } from "./types.ts";

/** Every field of a scanned file is written: one added to `ScannedFile` must be added here too. */
type Written = "root" | "rel" | "path" | "size" | "kind" | "reason" | "header";
const _everyField: Record<Exclude<keyof ScannedFile, Written>, never> = {};
void _everyField;

/** What files share, held once. */
interface Shared {
  readonly root: string;
  readonly header: PlannedFile["input"]["header"];
  readonly rest: Partial<PlannedFile>;
}

/** A planned file as written: the number of what it shares, and its own facts. */
interface Stored {
  readonly s: number;
  readonly rel: string;
  /** Its path, when it is not the root and the relative path joined (never, as walked). */
  readonly p?: string;
  readonly size: number;
  readonly kind: PlannedFile["input"]["kind"];
  readonly why?: string;
  readonly own: Partial<PlannedFile>;
}

/** A codec for one plan's files (its table of shared parts lives as long as the plan). */
export function plannedFileCodec(): SpillCodec<PlannedFile> {
  const ids = new Map<string, number>();
  const parts: Shared[] = [];
  return {
    encode(f: PlannedFile): Stored {
      const { input, status, reason, dest, series, text, blank, suspect, ...rest } = f;
      const { root, rel, path, size, kind, reason: why, header } = input;
      const key = JSON.stringify([root, header, rest]);
      let s = ids.get(key);
      if (s === undefined) {
        s = parts.length;
        parts.push({ root, header, rest });
        ids.set(key, s);
      }
      return {
        s,
        rel,
        ...(path === `${root}/${rel}` ? {} : { p: path }),
        size,
        kind,
        ...(why === undefined ? {} : { why }),
        own: { status, reason, dest, series, text, blank, suspect },
      };
    },
    decode(stored: unknown): PlannedFile {
      const { s, rel, p, size, kind, why, own } = stored as Stored;
      const { root, header, rest } = parts[s];
      return {
        ...rest,
        ...own,
        input: {
          root,
          rel,
          path: p ?? `${root}/${rel}`,
          size,
          kind,
          ...(why === undefined ? {} : { reason: why }),
          ...(header === undefined ? {} : { header }),
        },
      } as PlannedFile;
    },
  };
}
