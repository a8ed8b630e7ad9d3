/**
 * Pseudonyms: what names the subject of a file (its issuer and PatientID, or its study when it has
 * no PatientID), the pseudonym the PatientID policy gives (kept, keyed hash, or lookup table), the
 * check that two subjects never share one, and the PatientID elements rewritten with them.
 *
 * @module
 */
import { setValue } from "../dicom/edit.ts";
import type { DataSet, DicomFile, Element } from "../dicom/model.ts";
import { decodeStrings, valueBytes } from "../dicom/values.ts";
import { createHash } from "node:crypto";
import { tags } from "../standard/tags.ts";
import { empty, keep } from "./code_actions.ts";
import type { DeidConfig } from "./config.ts";
import { DeidError } from "./errors.ts";
import type { Keys } from "./keys.ts";
import { count, type FileContext, topValue } from "./_context.ts";

/** The pseudonyms given so far, each with its subject: two subjects must never share one. */
export class PseudonymRegistry {
  readonly #subjects = new Map<string, string>();

  /** Record that `pseudonym` names `subject`; throws `DeidError` when it already names another. */
  register(pseudonym: string, subject: string): void {
    const prior = this.#subjects.get(pseudonym);
    if (prior !== undefined && prior !== subject) {
      throw new DeidError(
        `two different patients map to the pseudonym ${pseudonym}: use a longer hash length`,
      );
    }
    this.#subjects.set(pseudonym, subject);
  }
}

/** The PatientID policy of a session: the pseudonym of each patient, and the ones given per file. */
export class Pseudonyms {
  readonly #config: DeidConfig;
  readonly #keys: Keys;
  readonly #registry?: PseudonymRegistry;
  /** The pseudonyms given for the file being de-identified. */
  #given: [string, string][] = [];

  /** `check`: register every pseudonym given, throwing `DeidError` on a collision. */
  constructor(config: DeidConfig, keys: Keys, check: boolean) {
    this.#config = config;
    this.#keys = keys;
    if (check) this.#registry = new PseudonymRegistry();
  }

  /** Start a file: the list its pseudonyms are recorded in from now on, with their subjects. */
  startFile(): [string, string][] {
    return this.#given = [];
  }

  /** The pseudonym for a patient (issuer + ID), checking for collisions. */
  of(issuer: string, id: string): string {
    const p = this.#config.patientId;
    let pseudo: string;
    if (p === "keep") pseudo = id;
    else if ("hash" in p) pseudo = this.#keys.pseudonym(issuer, id, p.hash.prefix, p.hash.length);
    else {
      const mapped = this.#config.lookup?.get(id);
      if (mapped !== undefined) pseudo = mapped;
      else if (p.lookup.missing === "hash") pseudo = this.#keys.pseudonym(issuer, id, "", 8);
      else if (p.lookup.missing === "keep") pseudo = id;
      else throw new DeidError(`patient ID not in the lookup table (missing: ${p.lookup.missing})`);
    }
    const key = `${issuer}\0${id}`;
    this.#registry?.register(pseudo, key);
    this.#given.push([pseudo, key]);
    return pseudo;
  }
}

/** Who a file is about, and the pseudonym it gets. */
export interface Subject {
  /** PatientID of the top level as read. */
  readonly patientId?: string;
  /** StudyInstanceUID of the top level as read. */
  readonly studyUID?: string;
  /** IssuerOfPatientID of the top level as read ("" when absent). */
  readonly issuer: string;
  /** What keys the subject's date offset: issuer and PatientID, or the study. */
  readonly subjectKey: string;
  /** The subject's pseudonym ("" when the PatientID is kept absent, or the file is quarantined). */
  readonly pseudoId: string;
  /** Set when the file must not be written (a lookup miss with `missing: quarantine`). */
  readonly quarantine?: string;
  /** What to tell the user (no PatientID). */
  readonly warnings: string[];
}

/**
 * What a file with no ID at all (no PatientID, StudyInstanceUID or SOPInstanceUID) is known by: a
 * hash of its header's top-level elements before the Pixel Data (tag and length, and the bytes of
 * values up to 4 KB: larger ones may be left in the file by one read and not by another). Not its path: shards mount the inputs at other places, and a plan made from one mount
 * must name the subject as the run on another does. The same header reads the same whether the
 * read stopped at the Pixel Data (the plan's) or not (the run's).
 */
function headerAnchor(ds: DataSet): string {
  const h = createHash("sha256");
  const tag = new DataView(new ArrayBuffer(8));
  for (const el of ds.elements) {
    if (el.tag >= tags.PixelData) break;
    const bytes = el.items || el.length > 4096 ? undefined : valueBytes(el);
    tag.setUint32(0, el.tag);
    tag.setUint32(4, el.items ? el.items.length : el.length);
    h.update(new Uint8Array(tag.buffer));
    if (bytes) h.update(bytes);
  }
  return `header:${h.digest("hex")}`;
}

/**
 * The subject of a file and its pseudonym. Without a PatientID the study is its own subject (its
 * StudyInstanceUID, else the SOPInstanceUID, else its header's hash: `headerAnchor`), so its
 * files stay together and apart from others.
 */
export function subjectOf(file: DicomFile, config: DeidConfig, pseudonyms: Pseudonyms): Subject {
  const ds = file.dataset;
  const warnings: string[] = [];
  const patientId = topValue(ds, tags.PatientID);
  const studyUID = topValue(ds, tags.StudyInstanceUID);
  let quarantine: string | undefined;
  let pseudoId: string;
  const p = config.patientId;
  const lookupMiss = typeof p === "object" && "lookup" in p ? p.lookup.missing : undefined;
  const anchor = patientId ? undefined : studyUID ?? topValue(ds, tags.SOPInstanceUID) ?? headerAnchor(ds);
  const subjectKey = patientId
    ? `${topValue(ds, tags.IssuerOfPatientID) ?? ""}\0${patientId}`
    : `study\0${anchor}`;
  if (!patientId) warnings.push("no PatientID: the study is its own subject");
  try {
    if (patientId) pseudoId = pseudonyms.of(topValue(ds, tags.IssuerOfPatientID) ?? "", patientId);
    // "Keep the PatientID" keeps an absent one absent: the study's UID is no patient ID to show.
    else if (p === "keep" || lookupMiss === "keep") pseudoId = "";
    else pseudoId = pseudonyms.of("study", anchor!);
  } catch (e) {
    if (!(e instanceof DeidError) || lookupMiss !== "quarantine") throw e;
    quarantine = patientId ? "patient ID not in the lookup table" : "no PatientID to look up";
    pseudoId = "";
  }
  const issuer = topValue(ds, tags.IssuerOfPatientID) ?? "";
  return { patientId, studyUID, issuer, subjectKey, pseudoId, quarantine, warnings };
}

/**
 * A PatientID element: at the top level the subject's pseudonym; nested ones (other patients) get
 * their own, with the issuer beside them. Empty stays empty; `patient_id: keep` keeps it.
 */
export function replacePatientId(cx: FileContext, el: Element, ds: DataSet): boolean {
  // The issuer beside it, else the top level's as read (it may already be removed from there).
  const own = ds.elements.find((e) => e.tag === tags.IssuerOfPatientID);
  const issuer = own ? decodeStrings(own, ds)[0] ?? "" : cx.state.topIssuer;
  const id = decodeStrings(el, ds)[0];
  if (!id) return empty(cx, el, "Z");
  if (cx.config.patientId === "keep") return keep(cx, el, ds);
  setValue(ds, el.tag, ds.parent === undefined ? cx.state.pseudoId : cx.pseudonymFor(issuer, id), el.vr);
  count(cx.state, "pseudonym");
  return true;
}
