/**
 * How a plan's records are written past the bound of its `FileRecords`: what the files of a series
 * share (their input root and original header, the output's pseudonym, UIDs, modality, description,
 * action counts and report columns) is held once in memory, by number, and each file's line carries
 * only its own facts. Every pass over a large plan decrypts and parses each line again: a planned
 * file of the bench's small files is 651 bytes as it is, about 200 this way. A survey (what the plan
 * is assembled from, read twice) goes the same way (`surveyCodec`).
 *
 * @module
 */
import type { HeaderInfo, ScannedFile } from "../scan/scan.ts";
import { sharingCodec, type SpillCodec } from "../util/spill_codec.ts";
import type { FileFacts, Survey } from "./survey.ts";
import type { PlannedFile } from "./types.ts";

/**
 * Every field of a scanned file is written, by both codecs here (`surveyCodec` names them one by one
 * too): one added to `ScannedFile` must be added to both.
 */
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

/**
 * A scanned file with its header's fields beside its own (`syntax`, which every header has: it has
 * one). Not the header without its SOP Instance UID as one object, which would be a new object for
 * every record, looked up by content each time.
 */
type FlatScanned = Omit<ScannedFile, "path" | "header"> & {
  readonly path?: string;
  readonly study?: string;
  readonly series?: string;
  readonly patient?: string;
  readonly modality?: string;
  readonly syntax?: string;
  readonly sop?: string;
};

/** What the surveys of a series share: held once, by number (see `sharingCodec`). */
const SHARED_SCANNED = ["root", "kind", "study", "series", "patient", "modality", "syntax"];
const SHARED_FACTS = [
  "pseudoId",
  "studyUID",
  "seriesUID",
  "description",
  "modality",
  "frames",
  "counts",
  "note",
  "suspect",
  "na",
  "pseudonyms",
  "fields",
];

/**
 * A codec for one plan's surveys (what a plan is assembled from): a line is the scanned file's own
 * values, and its facts' when it has them, each beside the number of what its series shares.
 */
export function surveyCodec(): SpillCodec<Survey> {
  const scannedCodec = sharingCodec<FlatScanned>(SHARED_SCANNED);
  const factsCodec = sharingCodec<FileFacts>(SHARED_FACTS);
  return {
    encode({ scanned, facts }: Survey): unknown {
      const { path, header: h, ...own } = scanned;
      const flat: FlatScanned = {
        ...own,
        // As walked, the path is the root and the relative path joined: not written.
        ...(path === `${scanned.root}/${scanned.rel}` ? {} : { path }),
        ...(h
          ? {
            study: h.studyUID,
            series: h.seriesUID,
            patient: h.patientId,
            modality: h.modality,
            syntax: h.transferSyntax,
            sop: h.sopInstanceUID,
          }
          : {}),
      };
      const s = scannedCodec.encode(flat);
      return facts ? [s, factsCodec.encode(facts)] : [s];
    },
    decode(stored: unknown): Survey {
      const [s, f] = stored as [unknown, unknown?];
      const { root, rel, path, size, kind, reason, study, series, patient, modality, syntax, sop } =
        scannedCodec.decode(s);
      // In the order `compactScanned` makes them.
      const header: HeaderInfo | undefined = syntax !== undefined
        ? {
          studyUID: study,
          seriesUID: series,
          patientId: patient,
          modality,
          transferSyntax: syntax,
          ...(sop === undefined ? {} : { sopInstanceUID: sop }),
        }
        : undefined;
      const scanned: ScannedFile = {
        root,
        rel,
        path: path ?? `${root}/${rel}`,
        size,
        kind,
        ...(reason === undefined ? {} : { reason }),
        ...(header === undefined ? {} : { header }),
      } as ScannedFile;
      return f === undefined ? { scanned } : { scanned, facts: factsCodec.decode(f) };
    },
  };
}
