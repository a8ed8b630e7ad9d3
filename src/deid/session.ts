/**
 * The de-identification session: applies PS3.15 Annex E (basic profile, options, the protocol's
 * per-tag rules) to every element at every depth of a file, including private blocks and the file
 * meta group, and adds the marks the standard asks for. `openSession` is how the rest of dcmtidy
 * opens one.
 *
 * Precedence for each element (see `decide`): protocol per-tag rule > PatientID policy >
 * private-tag policy (odd groups) > option column > basic column > unlisted standard elements
 * kept, unknown ones removed. Date values (DA, DT) that survive follow the protocol's date policy.
 *
 * @module
 */
import { Memo } from "../util/memo.ts";
import { setValue } from "../dicom/edit.ts";
import type { DicomFile } from "../dicom/model.ts";
import { decodeStrings } from "../dicom/values.ts";
import type { Hook } from "../protocol/typescript.ts";
import { tags } from "../standard/tags.ts";
import { burnedInReason } from "./burned_in.ts";
import { collectPHI, type FormsCache, formsCache } from "./clean.ts";
import { datePolicy, type DeidConfig } from "./config.ts";
import { Keys } from "./keys.ts";
import { addMarks } from "./marks.ts";
import { type Device, deviceOf, matchPixelRules, type PixelMatch } from "./pixel_rules.ts";
import { applyReplacements } from "./protocol_rules.ts";
import { Pseudonyms, subjectOf } from "./pseudonyms.ts";
import { isWellKnownUID } from "./uids.ts";
import type { FileContext, FileState } from "./_context.ts";
import { walkDataSet } from "./_walk.ts";

/** What happened to one file. */
export interface DeidResult {
  /** The subject's pseudonym (PatientID of the output). */
  readonly pseudoId: string;
  /** Days added to every date, when dates are shifted. */
  readonly dayOffset?: number;
  /** Originals for the key file (honest broker): never printed. */
  readonly original: {
    readonly patientId?: string;
    readonly studyUID?: string;
    /**
     * The pseudonyms given while de-identifying the file, each with the subject it names (issuer
     * and PatientID, or the study): what a caller that de-identifies in several sessions checks for
     * collisions with a `PseudonymRegistry` of its own. Never printed or journaled.
     */
    readonly pseudonyms: readonly (readonly [pseudonym: string, subject: string])[];
  };
  /** Why the file may carry burned-in text (the caller decides warn, quarantine or allow). */
  readonly burnedIn?: string;
  /** With `burned_in: blank`: the pixel rules that hold for the file and their regions. */
  readonly pixels?: PixelMatch;
  /** With `burned_in: blank` or `pixels_detect: ocr`: what pixel rules look at in this file. */
  readonly device?: Device;
  /** Set when the file must not be written (a lookup miss with `missing: quarantine`). */
  readonly quarantine?: string;
  /** Things to tell the user about this file that did not stop it (no PatientID, for one). */
  readonly warnings: readonly string[];
  /** How many elements each action touched. */
  readonly counts: Readonly<Record<string, number>>;
}

/** Options for a `DeidSession`. */
export interface SessionOptions {
  /**
   * Check pseudonyms for collisions within the session (default true). A caller that spreads one
   * plan over several sessions turns it off and checks every file's `original.pseudonyms` in input
   * order with one registry, so which file a collision quarantines does not depend on the split.
   */
  readonly checkPseudonyms?: boolean;
}

/**
 * One run's engine: configuration, keys, and the pseudonyms given so far (two patients must never
 * share one). Not thread-safe: one per worker. Open one with `openSession`.
 */
export class DeidSession {
  /** The settings every file of the session is de-identified with. */
  readonly config: DeidConfig;
  readonly #keys: Keys;
  readonly #pseudonyms: Pseudonyms;
  /** New UIDs by original: this file's, and the file's before it (see `uid`). */
  readonly #uids = new Memo<string, string>(0, UIDS_A_FILE);
  /**
   * New UIDs of the studies, series and frames of reference met first, kept for good (see `uid`):
   * a dump whose files go round its series finds them here, not in the file before.
   */
  readonly #sharedUids = new Memo<string, string>(SHARED_UIDS);
  /** The forms known values take in free text, by value (see `collectPHI`). */
  readonly #forms: FormsCache = formsCache();

  /** `keys` hold the salt: pseudonyms, UIDs and date offsets are keyed with it. */
  constructor(config: DeidConfig, keys: Keys, options: SessionOptions = {}) {
    this.config = config;
    this.#keys = keys;
    this.#pseudonyms = new Pseudonyms(config, keys, options.checkPseudonyms !== false);
  }

  /** The subject key and pseudonym for a patient (issuer + ID), checking for collisions. */
  pseudonymFor(issuer: string, id: string): string {
    return this.#pseudonyms.of(issuer, id);
  }

  /**
   * The new UID for an original (the same original always maps the same way). Remembered for this
   * file and the next: a series' files repeat their study's, series' and frame of reference's UIDs
   * one after the other, and each file's SOP Instance UID is its own (twice in it, with the meta's).
   * A cache that kept UIDs for thousands of files (8,192 before) held each instance's for longer
   * than the young generation keeps anything, so every one was promoted to the old generation and
   * collected there: 300,000 files made a worker collect its whole heap again and again. `tag`: the
   * element the UID is the value of (a study's, series' or frame of reference's is also kept longer).
   */
  uid(original: string, tag?: number): string {
    if (this.config.uids === "keep" || isWellKnownUID(original)) return original;
    let mapped = this.#uids.get(original);
    if (mapped !== undefined) return mapped;
    // A study's, a series' or a frame of reference's UID comes again in other files, which need not
    // follow each other: 30,000 files listed round their 600 patients' 1,800 studies and series made
    // 3.00 MACs a file instead of 1.06 (de-identifying one took 45 us instead of 40). Kept for good
    // up to a bound, as `Keys` keeps pseudonyms: the first met stay, so no old entry becomes garbage.
    const shared = tag !== undefined && SHARED_UID_TAGS.has(tag);
    if (shared) mapped = this.#sharedUids.get(original);
    if (mapped === undefined) {
      mapped = this.#keys.uid(original);
      if (shared) this.#sharedUids.set(original, mapped);
    }
    this.#uids.set(original, mapped);
    return mapped;
  }

  /**
   * De-identify a file in place. The caller writes it with `zeroPreamble: true`. Throws
   * `DeidError` when the file cannot be de-identified (the caller quarantines it).
   *
   * @example De-identify a file read from disk, then write it
   * ```ts
   * import { readDicomFile } from "../dicom/read_file.ts";
   * import { writeDicomFile } from "../dicom/write_file.ts";
   * import { deidConfig } from "./config.ts";
   * import { Keys } from "./keys.ts";
   * import { openSession } from "./session.ts";
   *
   * async function deidentifyOne(input: string, output: string, salt: Uint8Array): Promise<string> {
   *   const session = openSession(deidConfig(), new Keys(salt), { hooks: "run" });
   *   const file = await readDicomFile(input);
   *   const result = session.deidentify(file);
   *   if (result.quarantine) throw new Error(result.quarantine);
   *   await writeDicomFile(file, output, { zeroPreamble: true });
   *   return result.pseudoId;
   * }
   * ```
   */
  deidentify(file: DicomFile): DeidResult {
    this.#uids.turn(); // a new file: its UIDs from here, the last file's still found
    const ds = file.dataset;
    const pseudonyms = this.#pseudonyms.startFile();
    const subject = subjectOf(file, this.config, this.#pseudonyms);
    const { patientId, studyUID, pseudoId, quarantine, warnings } = subject;
    const dates = datePolicy(this.config);
    const dayOffset = dates && typeof dates === "object"
      ? ("days" in dates.shift
        ? dates.shift.days
        : this.#keys.dayOffset(subject.subjectKey, dates.shift.min_days, dates.shift.max_days))
      : undefined;
    const state: FileState = {
      pseudoId,
      dayOffset,
      phi: collectPHI(ds, this.#forms),
      counts: {},
      warnings,
      replacements: [],
      untrusted: 0,
      topIssuer: subject.issuer,
    };
    const burnedIn = burnedInReason(ds);
    // Rules match the original header: read before the walk changes it.
    const blank = this.config.blankPixels;
    const pixels = blank ? matchPixelRules(ds, this.config.pixelRules ?? []) : undefined;
    const device = blank || this.config.detectText ? deviceOf(ds) : undefined;

    const cx: FileContext = {
      config: this.config,
      keys: this.#keys,
      dates,
      state,
      uid: (original, tag) => this.uid(original, tag),
      pseudonymFor: (issuer, id) => this.pseudonymFor(issuer, id),
      walk: (nested) => walkDataSet(cx, nested),
    };
    walkDataSet(cx, ds);
    if (!patientId && !quarantine) setValue(ds, tags.PatientID, pseudoId, "LO"); // the subject must be named
    applyReplacements(ds, state);
    if (file.meta) {
      // Meta elements other than the ones the writer rebuilds name the sending system: drop them.
      file.meta.elements = file.meta.elements.filter((e) => e.tag <= tags.ImplementationVersionName);
      // The writer takes the instance UID from the data set; without one it falls back to this.
      const mediaUID = file.meta.elements.find((e) => e.tag === tags.MediaStorageSOPInstanceUID);
      const value = mediaUID && decodeStrings(mediaUID, file.meta)[0];
      if (value) setValue(file.meta, tags.MediaStorageSOPInstanceUID, this.uid(value), "UI");
    }
    file.preamble = undefined; // PS3.15 asks for the preamble to be replaced: the writer writes zeros
    addMarks(ds, this.config, dates);
    return {
      pseudoId,
      dayOffset,
      original: { patientId, studyUID, pseudonyms },
      burnedIn,
      pixels,
      device,
      quarantine,
      warnings,
      counts: state.counts,
    };
  }
}

/**
 * UIDs a file's generation holds before the next starts anyway (a file has tens, a few thousand at
 * most; a caller that never starts a file, asking for UIDs only, keeps two such).
 */
const UIDS_A_FILE = 4096;

/**
 * Studies', series' and frames of reference's UIDs kept for good (about 200 bytes each: 0.8 MB):
 * every one of a dump of 30,000 files of 600 patients, and the first 4,096 of a larger one.
 */
const SHARED_UIDS = 4096;

/** Elements whose UIDs files share (see `DeidSession.uid`). */
const SHARED_UID_TAGS: ReadonlySet<number> = new Set([
  tags.StudyInstanceUID,
  tags.SeriesInstanceUID,
  tags.FrameOfReferenceUID,
]);

/** How `openSession` sets a session up. */
export interface OpenOptions {
  /**
   * What the configuration's TypeScript hooks do. `"run"`: they run (the run's sandboxed workers,
   * library use). `"stub"`: every hook the configuration names (its `hooks` and every `{ fn }`
   * rule, so hooks given by name only, as to a plan's worker, count too) returns undefined, so
   * the elements they handle come out removed; `plan` and `verify` never run protocol code.
   */
  readonly hooks: "run" | "stub";
  /** See `SessionOptions.checkPseudonyms` (default true). */
  readonly checkPseudonyms?: boolean;
}

/**
 * Open a de-identification session: the one way dcmtidy sets one up. `keys` are the salt's keys,
 * or the salt's bytes themselves (as a worker receives them).
 *
 * @example The sessions of plan, verify and run
 * ```ts
 * import type { Protocol } from "../protocol/protocol.ts";
 * import { loadDeidConfig } from "./config.ts";
 * import type { Keys } from "./keys.ts";
 * import { openSession } from "./session.ts";
 *
 * async function sessions(protocol: Protocol, keys: Keys) {
 *   const config = await loadDeidConfig(protocol);
 *   return {
 *     // The plan: hooks count as removing their elements; collisions are checked by the plan,
 *     // in input order, over the files of all its workers.
 *     plan: openSession(config, keys, { hooks: "stub", checkPseudonyms: false }),
 *     // verify: hooks stubbed too, pseudonyms checked within the session.
 *     verify: openSession(config, keys, { hooks: "stub" }),
 *     // The run: hooks run (in the sandboxed workers).
 *     run: openSession(config, keys, { hooks: "run" }),
 *   };
 * }
 * ```
 *
 * @example A worker given the settings as data and the salt as bytes
 * ```ts
 * import type { DeidConfig } from "./config.ts";
 * import { openSession } from "./session.ts";
 *
 * function planWorkerSession(config: DeidConfig, salt: Uint8Array) {
 *   // The settings crossed to the worker without their hook functions: the stubs take the
 *   // names from the `{ fn }` rules.
 *   return openSession(config, salt, { hooks: "stub", checkPseudonyms: false });
 * }
 * ```
 */
export function openSession(config: DeidConfig, keys: Keys | Uint8Array, options: OpenOptions): DeidSession {
  const k = keys instanceof Keys ? keys : new Keys(keys);
  const settings = options.hooks === "stub" ? { ...config, hooks: stubHooks(config) } : config;
  return new DeidSession(settings, k, { checkPseudonyms: options.checkPseudonyms });
}

/** A hook that returns nothing for every name the configuration's hooks and `{ fn }` rules use. */
function stubHooks(config: DeidConfig): Record<string, Hook> {
  const names = new Set(Object.keys(config.hooks));
  for (const rule of config.rules) {
    if (typeof rule.action === "object" && "fn" in rule.action) names.add(rule.action.fn);
  }
  return Object.fromEntries([...names].map((name) => [name, () => undefined]));
}
