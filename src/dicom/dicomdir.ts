/**
 * Encoding a DICOMDIR (PS3.10 and PS3.3 Annex F, the Basic Directory IOD) for a file set: one
 * PATIENT, STUDY and SERIES record per patient, study and series, and one record per instance
 * (IMAGE, or the type its SOP class asks for), with the keys copied from each file's header.
 *
 * The records are laid out depth first (a patient, its first study, that study's first series,
 * its instances, the next series...). Every offset is the byte position of a record's item from the
 * first byte of the file (preamble included): the data set is encoded once with zeros to measure
 * each record, the offsets are filled in and it is encoded again (they are fixed-size UL values, so
 * nothing moves). Type 1 study keys that de-identification emptied are invented as dcmmkdir `+I`
 * does (StudyDate 19000101, StudyTime 000000, StudyID `STUDYnnn`); Type 2 keys stay empty.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { tags } from "../standard/tags.ts";
import { concatBytes } from "../util/bytes.ts";
import {
  type DataSet,
  DICOMDIR_SOP_CLASS,
  type DicomFile,
  type Element,
  EXPLICIT_LE_ENCODING,
} from "./model.ts";
import { transferSyntax } from "./transfer_syntax.ts";
import { encodeValue, valueBytes } from "./values.ts";
import { buildMeta, encodeDataSet } from "./writer.ts";

/** Explicit VR little endian: a DICOMDIR's transfer syntax. */
const EXPLICIT_LE = "1.2.840.10008.1.2.1";
/** At most 8 components of at most 8 characters from A-Z, 0-9 and _ (PS3.10 8.2, PS3.11 STD-GEN). */
const FILE_ID_COMPONENT = /^[A-Z0-9_]{1,8}$/;
const MAX_FILE_ID_LEVELS = 8;

/**
 * Why a file ID (its path components below the file set's root) cannot be referenced from a
 * DICOMDIR, or undefined when it can.
 */
export function fileIdProblem(components: readonly string[]): string | undefined {
  if (components.length > MAX_FILE_ID_LEVELS) {
    return `${components.length} levels of folders and file (at most ${MAX_FILE_ID_LEVELS})`;
  }
  const bad = components.find((c) => !FILE_ID_COMPONENT.test(c));
  if (bad === undefined) return undefined;
  const why = bad.includes(".")
    ? "has an extension"
    : bad.length > 8
    ? "is longer than 8 characters"
    : /[a-z]/.test(bad)
    ? "has lowercase letters"
    : "holds characters other than A-Z, 0-9 and _";
  return `"${bad}" ${why} (a media file ID has names of 1 to 8 characters from A-Z, 0-9 and _)`;
}

/** One file of the file set: where it is and its header (read without Pixel Data is enough). */
export interface DirectoryFile {
  /** The file ID: path components below the DICOMDIR's folder, each media-friendly. */
  readonly fileId: readonly string[];
  /** The file as read (its meta group and data set). */
  readonly file: DicomFile;
}

/** SOP classes whose record type is not IMAGE (PS3.3 F.5, Table F.4-1); by UID prefix or UID. */
const RECORD_TYPES: readonly [string, string][] = [
  ["1.2.840.10008.5.1.4.1.1.88.59", "KEY OBJECT DOC"],
  ["1.2.840.10008.5.1.4.1.1.88.", "SR DOCUMENT"],
  ["1.2.840.10008.5.1.4.1.1.11.", "PRESENTATION"],
  ["1.2.840.10008.5.1.4.1.1.9.", "WAVEFORM"],
  ["1.2.840.10008.5.1.4.1.1.481.2", "RT DOSE"],
  ["1.2.840.10008.5.1.4.1.1.481.3", "RT STRUCTURE SET"],
  ["1.2.840.10008.5.1.4.1.1.481.5", "RT PLAN"],
  ["1.2.840.10008.5.1.4.1.1.481.4", "RT TREAT RECORD"],
  ["1.2.840.10008.5.1.4.1.1.104.", "ENCAP DOC"],
  ["1.2.840.10008.5.1.4.1.1.66.1", "REGISTRATION"],
  ["1.2.840.10008.5.1.4.1.1.66.3", "REGISTRATION"],
  ["1.2.840.10008.5.1.4.1.1.66.2", "FIDUCIAL"],
  ["1.2.840.10008.5.1.4.1.1.66.4", "IMAGE"],
  ["1.2.840.10008.5.1.4.1.1.66", "RAW DATA"],
  ["1.2.840.10008.5.1.4.1.1.4.2", "SPECTROSCOPY"],
];

/** The directory record type for a SOP class: IMAGE unless Table F.4-1 names another. */
export function recordTypeOf(sopClass: string): string {
  for (const [uid, type] of RECORD_TYPES) {
    if (uid.endsWith(".") ? sopClass.startsWith(uid) : sopClass === uid) return type;
  }
  return "IMAGE";
}

/** Keys copied into each record after its SpecificCharacterSet: [tag, vr, invented value of a Type 1 key]. */
type Key = readonly [number, string, ((n: number) => string)?];
const PATIENT_KEYS: readonly Key[] = [[tags.PatientName, "PN"], [tags.PatientID, "LO"]];
const STUDY_KEYS: readonly Key[] = [
  [tags.StudyDate, "DA", () => "19000101"],
  [tags.StudyTime, "TM", () => "000000"],
  [tags.AccessionNumber, "SH"],
  [tags.StudyDescription, "LO"],
  [tags.StudyInstanceUID, "UI"],
  [tags.StudyID, "SH", (n) => `STUDY${String(n).padStart(3, "0")}`],
];
const SERIES_KEYS: readonly Key[] = [[tags.Modality, "CS"], [tags.SeriesInstanceUID, "UI"], [
  tags.SeriesNumber,
  "IS",
  () => "0",
]];
const INSTANCE_KEYS: readonly Key[] = [[tags.InstanceNumber, "IS", () => "0"]];

interface Rec {
  ds: DataSet;
  children: Rec[];
}

const dirDataSet = (): DataSet => ({ elements: [], encoding: EXPLICIT_LE_ENCODING });

function text(ds: DataSet, tag: number): string {
  const bytes = valueBytes(ds.elements.find((e) => e.tag === tag) ?? { tag, vr: "UN", length: 0 });
  return bytes ? new TextDecoder("latin1").decode(bytes).replace(/[\0 ]+$/, "").trim() : "";
}

function stringElement(tag: number, vr: string, value: string | string[], ds: DataSet): Element {
  return { tag, vr, length: 0, value: encodeValue(vr, value, ds), dirty: true };
}

function ulElement(tag: number, value = 0): Element {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, value, true);
  return { tag, vr: "UL", length: 4, value: b, dirty: true };
}

function usElement(tag: number, value: number): Element {
  return { tag, vr: "US", length: 2, value: new Uint8Array([value & 0xff, value >> 8]), dirty: true };
}

/** A record: the four record elements, then `refs`, SpecificCharacterSet and the keys from `src`. */
function record(type: string, src: DataSet, keys: readonly Key[], n: number, refs: Element[] = []): Rec {
  const ds = dirDataSet();
  const els: Element[] = [
    ulElement(tags.OffsetOfTheNextDirectoryRecord),
    usElement(tags.RecordInUseFlag, 0xffff),
    ulElement(tags.OffsetOfReferencedLowerLevelDirectoryEntity),
    stringElement(tags.DirectoryRecordType, "CS", type, ds),
    ...refs,
  ];
  const charset = src.elements.find((e) => e.tag === tags.SpecificCharacterSet);
  const copies: [number, string, Uint8Array][] = [];
  for (const [tag, vr, invent] of keys) {
    const el = src.elements.find((e) => e.tag === tag);
    const bytes = el && !el.items ? valueBytes(el) : undefined;
    if (bytes && text(src, tag) !== "") copies.push([tag, vr, bytes]);
    else if (invent) copies.push([tag, vr, encodeValue(vr, invent(n), ds)]);
    else copies.push([tag, vr, new Uint8Array(0)]);
  }
  // Text keys other than UIDs and dates may hold non-ASCII characters: the character set goes along.
  const needsCharset = type !== "SERIES" && type !== "IMAGE";
  if (charset && needsCharset && text(src, tags.SpecificCharacterSet) !== "") {
    copies.unshift([tags.SpecificCharacterSet, "CS", valueBytes(charset)!]);
  }
  for (const [tag, vr, value] of copies) els.push({ tag, vr, length: value.length, value, dirty: true });
  ds.elements = els;
  return { ds, children: [] };
}

/** The instance record of one file: its file ID, SOP class and instance, transfer syntax, keys. */
function instanceRecord(f: DirectoryFile): Rec {
  const ds = dirDataSet();
  const meta = f.file.meta ?? dirDataSet();
  const sopClass = text(f.file.dataset, tags.SOPClassUID) || text(meta, tags.MediaStorageSOPClassUID);
  const sopInstance = text(f.file.dataset, tags.SOPInstanceUID) ||
    text(meta, tags.MediaStorageSOPInstanceUID);
  const refs = [
    stringElement(tags.ReferencedFileID, "CS", [...f.fileId], ds),
    stringElement(tags.ReferencedSOPClassUIDInFile, "UI", sopClass, ds),
    stringElement(tags.ReferencedSOPInstanceUIDInFile, "UI", sopInstance, ds),
    stringElement(tags.ReferencedTransferSyntaxUIDInFile, "UI", f.file.transferSyntax.uid, ds),
  ];
  return record(recordTypeOf(sopClass), f.file.dataset, INSTANCE_KEYS, 0, refs);
}

/** Patients (by PatientID), their studies (by StudyInstanceUID) and series, in order of first file. */
function buildTree(files: readonly DirectoryFile[]): Rec[] {
  const patients = new Map<string, Rec>();
  const studies = new Map<string, Rec>();
  const series = new Map<string, Rec>();
  for (const f of files) {
    const ds = f.file.dataset;
    const pid = text(ds, tags.PatientID);
    let patient = patients.get(pid);
    if (!patient) patients.set(pid, patient = record("PATIENT", ds, PATIENT_KEYS, 0));
    const studyKey = `${pid}\0${text(ds, tags.StudyInstanceUID)}`;
    let study = studies.get(studyKey);
    if (!study) {
      studies.set(studyKey, study = record("STUDY", ds, STUDY_KEYS, studies.size + 1));
      patient.children.push(study);
    }
    const seriesKey = `${studyKey}\0${text(ds, tags.SeriesInstanceUID)}`;
    let s = series.get(seriesKey);
    if (!s) {
      series.set(seriesKey, s = record("SERIES", ds, SERIES_KEYS, 0));
      study.children.push(s);
    }
    s.children.push(instanceRecord(f));
  }
  return [...patients.values()];
}

function flatten(level: Rec[], out: Rec[]): void {
  for (const r of level) {
    out.push(r);
    flatten(r.children, out);
  }
}

function setUL(ds: DataSet, tag: number, value: number): void {
  const el = ds.elements.find((e) => e.tag === tag)!;
  const bytes = el.value!;
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(0, value, true);
}

/** A SOP Instance UID that depends only on what the directory lists: a re-run writes the same bytes. */
function directoryUid(files: readonly DirectoryFile[]): string {
  const h = createHash("sha256").update("dcmtidy/dicomdir");
  for (const f of files) {
    h.update("\0").update(f.fileId.join("\\")).update("\0").update(text(f.file.dataset, tags.SOPInstanceUID));
  }
  let n = 0n;
  for (const b of new Uint8Array(h.digest()).subarray(0, 16)) n = (n << 8n) | BigInt(b);
  return `2.25.${n}`;
}

/**
 * Encode the DICOMDIR of `files` (give them in a stable order, e.g. by file ID: records follow it).
 * Returns the whole Part 10 file: zero preamble, file meta (Media Storage Directory Storage,
 * explicit VR little endian) and the Basic Directory data set with every offset filled in.
 */
export function encodeDicomDir(
  files: readonly DirectoryFile[],
  opts: { fileSetId?: string } = {},
): Uint8Array {
  const roots = buildTree(files);
  const all: Rec[] = [];
  flatten(roots, all);
  const ds = dirDataSet();
  const sequence: Element = {
    tag: tags.DirectoryRecordSequence,
    vr: "SQ",
    length: 0,
    items: all.map((r) => ({ length: 0, dataset: r.ds })),
    dirty: true,
  };
  ds.elements = [
    stringElement(tags.FileSetID, "CS", opts.fileSetId ?? "", ds),
    ulElement(tags.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity),
    ulElement(tags.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity),
    usElement(tags.FileSetConsistencyFlag, 0),
    sequence,
  ];
  const metaIn = dirDataSet();
  metaIn.elements = [
    stringElement(tags.MediaStorageSOPClassUID, "UI", DICOMDIR_SOP_CLASS, metaIn),
    stringElement(tags.MediaStorageSOPInstanceUID, "UI", directoryUid(files), metaIn),
  ];
  const file: DicomFile = {
    meta: metaIn,
    dataset: ds,
    transferSyntax: transferSyntax(EXPLICIT_LE),
    datasetOffset: 0,
    size: 0,
    headerOnly: false,
    isDicomDir: false,
    warnings: [],
  };
  const meta = concatBytes(encodeDataSet(buildMeta(file)).chunks as Uint8Array[]);
  // Where each record's item starts: after the preamble, the meta group, the elements before the
  // sequence and the sequence's 12-byte header; each item is an 8-byte header and its data set.
  const head = encodeDataSet({ ...ds, elements: ds.elements.slice(0, -1) }).length;
  let at = 132 + meta.length + head + 12;
  const offsetOf = new Map<Rec, number>();
  for (const r of all) {
    offsetOf.set(r, at);
    at += 8 + encodeDataSet(r.ds).length;
  }
  const link = (level: Rec[]) => {
    for (const [i, r] of level.entries()) {
      setUL(
        r.ds,
        tags.OffsetOfTheNextDirectoryRecord,
        i + 1 < level.length ? offsetOf.get(level[i + 1])! : 0,
      );
      setUL(
        r.ds,
        tags.OffsetOfReferencedLowerLevelDirectoryEntity,
        r.children.length ? offsetOf.get(r.children[0])! : 0,
      );
      link(r.children);
    }
  };
  link(roots);
  setUL(
    ds,
    tags.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity,
    roots.length ? offsetOf.get(roots[0])! : 0,
  );
  setUL(
    ds,
    tags.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity,
    roots.length ? offsetOf.get(roots.at(-1)!)! : 0,
  );
  const body = concatBytes(encodeDataSet(ds).chunks as Uint8Array[]);
  const preamble = new Uint8Array(132);
  preamble.set([0x44, 0x49, 0x43, 0x4d], 128); // "DICM"
  return concatBytes([preamble, meta, body]);
}
