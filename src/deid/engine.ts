/**
 * The de-identification engine: applies PS3.15 Annex E (basic profile, options, our protocol's
 * per-tag rules) to every element at every depth of a file, including private blocks and the
 * file meta group, and adds the marks the standard asks for.
 *
 * Precedence for each element: protocol per-tag rule > PatientID policy > private-tag policy (odd
 * groups) > option column > basic column > unlisted standard elements kept, unknown ones removed.
 * Date values (DA, DT) that survive follow the protocol's date policy.
 */
import { lookupTag, tagForKeyword } from "../standard/dictionary.ts";
import { emptyValue, insertElement, setValue } from "../dicom/edit.ts";
import { DicomError } from "../dicom/errors.ts";
import {
  type DataSet,
  type DicomFile,
  type Element,
  isPrivateCreator,
  isPrivateTag,
  type Item,
  UNDEFINED_LENGTH,
} from "../dicom/model.ts";
import { decodeStrings, type ElementValue } from "../dicom/values.ts";
import type { TagRule } from "../protocol/load.ts";
import type { Action } from "../protocol/schema.ts";
import { selects } from "../protocol/selector.ts";
import { cleanText, collectPHI, removeKnownPHI } from "./clean.ts";
import type { DeidConfig } from "./config.ts";
import { shiftDA, shiftDT, yearOnly } from "./dates.ts";
import { dummyValue } from "./dummy.ts";
import type { Keys } from "./keys.ts";
import {
  type ActionCode,
  cid7050,
  effectiveAction,
  isSafePrivate,
  privateRule,
  ruleForTag,
} from "../standard/ps3_15.ts";
import { isWellKnownUID } from "./uids.ts";

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
  /** Set when the file must not be written (a lookup miss with `missing: quarantine`). */
  readonly quarantine?: string;
  /** Things to tell the user about this file that did not stop it (no PatientID, for one). */
  readonly warnings: readonly string[];
  /** How many elements each action touched. */
  readonly counts: Readonly<Record<string, number>>;
}

/** A de-identification problem that stops the file (a lookup miss with `missing: error`, a hook that throws). */
export class DeidError extends Error {
  /** `message` is what the plan and the reports give as the file's reason. */
  constructor(message: string) {
    super(message);
    this.name = "DeidError";
  }
}

const PATIENT_ID = 0x00100020;
const ISSUER_OF_PATIENT_ID = 0x00100021;
const STUDY_UID = 0x0020000d;
const DATE_VRS = new Set(["DA", "DT"]);
/** X/Z sequences that are Type 2 in the modules that hold them (Acquisition Context). */
const TYPE2_SEQUENCES = new Set([0x00400555]);
/** UIDs that name kinds of things (classes, syntaxes, schemes), never an instance: never remapped. */
const NOT_INSTANCE_UID =
  /Class|Syntax|Scheme|Template|ContextGroup|Implementation|Mapping|Registry|Algorithm/;
const BULK_VRS = new Set(["OB", "OW", "OF", "OD", "OL", "OV", "UN"]);
const FREE_TEXT_VRS = new Set(["LO", "SH", "LT", "ST", "UT", "UC", "PN"]);

/** What one element's treatment resolved to. */
type Decision =
  | { readonly kind: "code"; readonly code: "X" | "Z" | "D" | "K" | "C" | "U" }
  | { readonly kind: "protocol"; readonly action: Action; readonly rule: TagRule }
  | { readonly kind: "patient-id" }
  /** Free text the table does not list: kept, minus the identifying values known for the file. */
  | { readonly kind: "unlisted-text" };

/** Per-file state while walking. */
interface FileState {
  readonly pseudoId: string;
  readonly dayOffset?: number;
  readonly phi: readonly string[];
  readonly counts: Record<string, number>;
  readonly warnings: string[];
  /** `{replace}` rules, applied after the walk so their placeholders see de-identified values. */
  readonly replacements: { ds: DataSet; el: Element; template: string }[];
  /** Inside the items of a sequence whose row is D: unlisted free text there is not trusted. */
  untrusted: number;
  /** IssuerOfPatientID of the top level as read, for PatientIDs nested below it. */
  readonly topIssuer: string;
}

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
 * share one). Not thread-safe: one per worker.
 */
export class DeidSession {
  /** The settings every file of the session is de-identified with. */
  readonly config: DeidConfig;
  readonly #keys: Keys;
  readonly #registry?: PseudonymRegistry;
  readonly #uids = new Map<string, string>();
  /** The pseudonyms given for the file being de-identified. */
  #given: [string, string][] = [];

  /** `keys` hold the salt: pseudonyms, UIDs and date offsets are keyed with it. */
  constructor(config: DeidConfig, keys: Keys, options: SessionOptions = {}) {
    this.config = config;
    this.#keys = keys;
    if (options.checkPseudonyms !== false) this.#registry = new PseudonymRegistry();
  }

  /** The subject key and pseudonym for a patient (issuer + ID), checking for collisions. */
  pseudonymFor(issuer: string, id: string): string {
    const p = this.config.patientId;
    let pseudo: string;
    if (p === "keep") pseudo = id;
    else if ("hash" in p) pseudo = this.#keys.pseudonym(issuer, id, p.hash.prefix, p.hash.length);
    else {
      const mapped = this.config.lookup?.get(id);
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

  /** The new UID for an original (cached: the same original always maps the same way). */
  uid(original: string): string {
    if (this.config.uids === "keep" || isWellKnownUID(original)) return original;
    let mapped = this.#uids.get(original);
    if (!mapped) {
      mapped = this.#keys.uid(original);
      this.#uids.set(original, mapped);
    }
    return mapped;
  }

  /** De-identify a file in place. The caller writes it with `zeroPreamble: true`. */
  deidentify(file: DicomFile): DeidResult {
    const ds = file.dataset;
    const pseudonyms = this.#given = [];
    const top = (tag: number) => {
      const el = ds.elements.find((e) => e.tag === tag);
      return el ? decodeStrings(el, ds)[0] : undefined;
    };
    const warnings: string[] = [];
    const patientId = top(PATIENT_ID);
    const studyUID = top(STUDY_UID);
    let quarantine: string | undefined;
    let pseudoId: string;
    const p = this.config.patientId;
    const lookupMiss = typeof p === "object" && "lookup" in p ? p.lookup.missing : undefined;
    // No PatientID: the study is its own subject, so its files stay together and apart from others.
    const anchor = patientId ? undefined : studyUID ?? top(0x00080018) ?? file.path ?? "";
    const subjectKey = patientId ? `${top(ISSUER_OF_PATIENT_ID) ?? ""}\0${patientId}` : `study\0${anchor}`;
    if (!patientId) warnings.push("no PatientID: the study is its own subject");
    try {
      if (patientId) pseudoId = this.pseudonymFor(top(ISSUER_OF_PATIENT_ID) ?? "", patientId);
      // "Keep the PatientID" keeps an absent one absent: the study's UID is no patient ID to show.
      else if (p === "keep" || lookupMiss === "keep") pseudoId = "";
      else pseudoId = this.pseudonymFor("study", anchor!);
    } catch (e) {
      if (!(e instanceof DeidError) || lookupMiss !== "quarantine") throw e;
      quarantine = patientId ? "patient ID not in the lookup table" : "no PatientID to look up";
      pseudoId = "";
    }
    const dates = this.#datePolicy();
    const dayOffset = dates && typeof dates === "object"
      ? ("days" in dates.shift
        ? dates.shift.days
        : this.#keys.dayOffset(subjectKey, dates.shift.min_days, dates.shift.max_days))
      : undefined;
    const state: FileState = {
      pseudoId,
      dayOffset,
      phi: collectPHI(ds),
      counts: {},
      warnings,
      replacements: [],
      untrusted: 0,
      topIssuer: top(ISSUER_OF_PATIENT_ID) ?? "",
    };
    const burnedIn = burnedInReason(top);

    this.#walk(ds, state);
    if (!patientId && !quarantine) setValue(ds, PATIENT_ID, pseudoId, "LO"); // the subject must be named
    this.#applyReplacements(ds, state);
    if (file.meta) {
      // Meta elements other than the ones the writer rebuilds name the sending system: drop them.
      file.meta.elements = file.meta.elements.filter((e) => e.tag <= 0x00020013);
      // The writer takes the instance UID from the data set; without one it falls back to this.
      const mediaUID = file.meta.elements.find((e) => e.tag === 0x00020003);
      const value = mediaUID && decodeStrings(mediaUID, file.meta)[0];
      if (value) setValue(file.meta, 0x00020003, this.uid(value), "UI");
    }
    file.preamble = undefined; // PS3.15 asks for the preamble to be replaced: the writer writes zeros
    this.#addMarks(ds, dates);
    return {
      pseudoId,
      dayOffset,
      original: { patientId, studyUID, pseudonyms },
      burnedIn,
      quarantine,
      warnings,
      counts: state.counts,
    };
  }

  #datePolicy(): DeidConfig["dates"] {
    if (this.config.dates !== undefined) return this.config.dates;
    if (this.config.options.includes("retain-longitudinal-full-dates")) return "keep";
    return undefined;
  }

  #walk(ds: DataSet, state: FileState): void {
    this.#dropOverlayPlanes(ds, state);
    const creators = creatorMap(ds);
    const keptBlocks = new Set<number>();
    for (let i = 0; i < ds.elements.length; i++) {
      const el = ds.elements[i];
      if (isPrivateCreator(el.tag)) continue; // decided once its block's elements are
      const creator = isPrivateTag(el.tag) ? creators.get(blockKey(el.tag)) : undefined;
      const decision = this.#decide(el, creator, state);
      const keep = this.#apply(el, ds, decision, creator, state);
      if (!keep) {
        ds.elements.splice(i--, 1);
        ds.modified = true;
        count(state, "X");
      } else if (isPrivateTag(el.tag)) {
        keptBlocks.add(blockKey(el.tag));
      }
    }
    // A creator stays only while its block has elements (or everything private is kept).
    const keepAll = this.config.privateTags === "keep";
    const before = ds.elements.length;
    ds.elements = ds.elements.filter((e) =>
      !isPrivateCreator(e.tag) || keepAll || keptBlocks.has(creatorKey(e.tag))
    );
    if (ds.elements.length !== before) ds.modified = true;
  }

  /**
   * An overlay plane whose Overlay Data (60xx,3000) goes is removed whole: its other elements
   * (description, label, geometry) alone break the Overlay Plane module and may hold free text.
   */
  #dropOverlayPlanes(ds: DataSet, state: FileState): void {
    const doomed = new Set<number>();
    for (const el of ds.elements) {
      const g = el.tag >>> 16;
      if ((el.tag & 0xffff) !== 0x3000 || g < 0x6000 || g > 0x601e || g % 2 !== 0) continue;
      const d = this.#decide(el, undefined, state);
      if (
        (d.kind === "code" && (d.code === "X" || d.code === "C")) || // C: we cannot clean overlay bits
        (d.kind === "protocol" && ["remove", "X"].includes(String(d.action)))
      ) {
        doomed.add(g);
      }
    }
    if (doomed.size === 0) return;
    const before = ds.elements.length;
    ds.elements = ds.elements.filter((e) => !doomed.has(e.tag >>> 16));
    ds.modified = true;
    state.counts["X"] = (state.counts["X"] ?? 0) + before - ds.elements.length;
  }

  #decide(el: Element, creator: string | undefined, state: FileState): Decision {
    for (const rule of this.config.rules) {
      if (selects(rule.selector, el.tag, creator)) return { kind: "protocol", action: rule.action, rule };
    }
    if (el.tag === PATIENT_ID) return { kind: "patient-id" };
    if (el.tag >>> 16 === 0x0002) return { kind: "code", code: "X" }; // meta elements inside a data set
    if (isPrivateTag(el.tag)) return { kind: "code", code: this.#privateCode(el, creator) };
    if ((el.tag & 0xffff) === 0) return { kind: "code", code: "K" }; // group lengths are recomputed
    const rule = ruleForTag(el.tag);
    if (!rule) {
      if (!lookupTag(el.tag)) return { kind: "code", code: "X" }; // a value we do not understand goes
      // The table is not exhaustive (its own notes say so): names and instance UIDs it does not
      // list still identify, so they get the treatment of their listed kin.
      if (el.vr === "PN") return { kind: "code", code: "Z" };
      if (el.vr === "UI" && !NOT_INSTANCE_UID.test(lookupTag(el.tag)!.keyword)) {
        return { kind: "code", code: "U" };
      }
      // Free text the table does not list, inside a sequence the profile dummies: dummy it too.
      // Elsewhere it is kept, but never with a name or ID of this file in it ("DOE window").
      if (FREE_TEXT_VRS.has(el.vr)) {
        return state.untrusted > 0 ? { kind: "code", code: "D" } : { kind: "unlisted-text" };
      }
      return { kind: "code", code: "K" };
    }
    return {
      kind: "code",
      code: this.#resolveCompound(effectiveAction(rule, this.config.options), el.vr, el.tag),
    };
  }

  #privateCode(el: Element, creator: string | undefined): "X" | "K" {
    const policy = this.config.privateTags;
    if (policy === "keep") return "K";
    if (creator === undefined) return "X"; // no creator: nobody can say what it is
    if (policy === "remove") {
      const code = effectiveAction(privateRule(), this.config.options);
      return code === "X" ? "X" : isSafePrivate(el.tag >>> 16, el.tag & 0xff, creator) ? "K" : "X";
    }
    if (policy === "keep-safe") return isSafePrivate(el.tag >>> 16, el.tag & 0xff, creator) ? "K" : "X";
    return policy.keep_creators.includes(creator.trim()) ? "K" : "X";
  }

  #resolveCompound(code: ActionCode, vr: string, tag: number): "X" | "Z" | "D" | "K" | "C" | "U" {
    if (code.length === 1) return code as "X" | "Z" | "D" | "K" | "C" | "U";
    if (this.config.compound === "minimal") return code[0] as "X" | "Z";
    // Conformant: the least destructive code that keeps a required attribute present and valid.
    if (code === "X/Z/U*") return vr === "UI" || vr === "SQ" ? "U" : "Z";
    // X/Z means X for Type 3, Z for Type 2. An emptied Type 3 sequence breaks its IOD (dciodvfy:
    // "0 items, 1-n required"), so sequences go unless they are Type 2 where they occur.
    if (code === "X/Z") return vr === "SQ" && !TYPE2_SEQUENCES.has(tag) ? "X" : "Z";
    return "D"; // Z/D, X/D, X/Z/D
  }

  /** Apply a decision; returns false when the element is to be removed. */
  #apply(el: Element, ds: DataSet, d: Decision, creator: string | undefined, state: FileState): boolean {
    if (d.kind === "patient-id") {
      // The issuer beside it, else the top level's as read (it may already be removed from there).
      const own = ds.elements.find((e) => e.tag === ISSUER_OF_PATIENT_ID);
      const issuer = own ? decodeStrings(own, ds)[0] ?? "" : state.topIssuer;
      const id = decodeStrings(el, ds)[0];
      if (!id) return this.#empty(el, state, "Z");
      if (this.config.patientId === "keep") return this.#keep(el, ds, state, creator);
      // At the top level the subject's pseudonym is known; nested IDs (other patients) get their own.
      setValue(ds, el.tag, ds.parent === undefined ? state.pseudoId : this.pseudonymFor(issuer, id), el.vr);
      count(state, "pseudonym");
      return true;
    }
    if (d.kind === "protocol") return this.#applyProtocol(el, ds, d.action, state, creator);
    if (d.kind === "unlisted-text") {
      if (el.items) return this.#keep(el, ds, state, creator);
      const values = decodeStrings(el, ds);
      const scrubbed = values.map((v) => removeKnownPHI(v, state.phi));
      if (scrubbed.every((v, i) => v === values[i])) return this.#keep(el, ds, state, creator);
      safeSet(ds, el, scrubbed);
      count(state, "C");
      return true;
    }
    // Dates the profile keeps (K) or modifies (C) follow the date policy; Z and D still apply
    // (a birth date is a patient characteristic, not longitudinal information).
    const dates = this.#datePolicy();
    if (DATE_VRS.has(el.vr) && (d.code === "K" || d.code === "C") && !el.items && dates !== undefined) {
      return this.#applyDatePolicy(el, ds, dates, state);
    }
    switch (d.code) {
      case "X":
        return false;
      case "Z":
        return this.#empty(el, state, "Z");
      case "D":
        if (el.items) {
          // Keep the structure (it may be Type 1), but nothing unlisted inside is trusted.
          state.untrusted++;
          try {
            return this.#keep(el, ds, state, creator);
          } finally {
            state.untrusted--;
          }
        }
        return this.#dummy(el, ds, state);
      case "K":
        return this.#keep(el, ds, state, creator);
      case "C":
        return this.#clean(el, ds, state, creator);
      case "U":
        if (el.items || el.vr !== "UI") return this.#keep(el, ds, state, creator);
        return this.#remapUIDs(el, ds, state);
    }
  }

  #applyProtocol(el: Element, ds: DataSet, action: Action, state: FileState, creator?: string): boolean {
    const set = (v: ElementValue, label: string) => {
      if (el.items) throw new DeidError(`${label} cannot set a sequence`);
      safeSet(ds, el, v);
      count(state, label);
      return true;
    };
    if (typeof action === "string") {
      if (action.startsWith("C:")) return set(action.slice(2), "C:");
      switch (action) {
        case "keep":
        case "K":
          return this.#keep(el, ds, state, creator);
        case "remove":
        case "X":
          return false;
        case "empty":
        case "Z":
          return this.#empty(el, state, "Z");
        case "dummy":
        case "D":
          return el.items ? this.#empty(el, state, "Z") : this.#dummy(el, ds, state);
        case "uid":
        case "U":
          return this.#remapUIDs(el, ds, state);
        case "hash":
          return set(decodeStrings(el, ds).map((v) => this.#keys.hashValue(v)), "hash");
      }
      throw new DeidError(`unknown action "${action}"`);
    }
    if ("replace" in action) {
      if (el.items) throw new DeidError("replace cannot set a sequence");
      state.replacements.push({ ds, el, template: action.replace });
      count(state, "replace");
      return true;
    }
    if ("regexp" in action) {
      let re: RegExp;
      try {
        re = new RegExp(action.regexp.find, "g");
      } catch (e) {
        throw new DeidError(`regexp ${JSON.stringify(action.regexp.find)}: ${(e as Error).message}`);
      }
      return set(decodeStrings(el, ds).map((v) => v.replace(re, action.regexp.replace)), "regexp");
    }
    if ("shift_date" in action) {
      return this.#applyDatePolicy(el, ds, this.#datePolicy() ?? "remove", state);
    }
    const hook = this.config.hooks[action.fn];
    let out: string | undefined;
    try {
      out = hook(decodeStrings(el, ds).join("\\") || undefined, {
        keyword: lookupTag(el.tag)?.keyword ?? "",
        vr: el.vr,
        pseudoId: state.pseudoId,
      });
    } catch (e) {
      throw new DeidError(`hook "${action.fn}" failed: ${(e as Error).message}`);
    }
    if (out !== undefined && typeof out !== "string") {
      // A promise (fetch, async file reads) would settle after the file is written: refused.
      if (out && typeof (out as Promise<unknown>).catch === "function") {
        (out as Promise<unknown>).catch(() => {});
      }
      throw new DeidError(`hook "${action.fn}" must return a string or undefined, synchronously`);
    }
    if (out === undefined) return false;
    return set(out, "fn");
  }

  /** Fill `{replace}` templates from the de-identified top level, once the walk is done. */
  #applyReplacements(top: DataSet, state: FileState): void {
    for (const r of state.replacements) {
      const text = r.template.replace(/\{([A-Za-z_]+)\}/g, (_: string, k: string) => {
        if (k === "pseudo_id") return state.pseudoId;
        const tag = tagForKeyword(k);
        const el = tag === undefined ? undefined : top.elements.find((e) => e.tag === tag);
        return el && !el.items ? decodeStrings(el, top).join("\\") : "";
      });
      safeSet(r.ds, r.el, text);
    }
  }

  #keep(el: Element, ds: DataSet, state: FileState, _creator?: string): boolean {
    if (el.items) {
      for (const item of el.items) this.#walk(item.dataset, state);
      // Items changed inside: the writer recomputes the lengths it must.
    } else if (DATE_VRS.has(el.vr) && this.#datePolicy() !== undefined && this.#datePolicy() !== "keep") {
      return this.#applyDatePolicy(el, ds, this.#datePolicy()!, state);
    } else if (this.config.scrubFreeText && (FREE_TEXT_VRS.has(el.vr) || el.vr === "AE")) {
      // Only what #clean cleans: it hands every other VR back to #keep.
      return this.#clean(el, ds, state);
    }
    count(state, "K");
    return true;
  }

  #empty(el: Element, state: FileState, label: string): boolean {
    emptyValue(el);
    count(state, label);
    return true;
  }

  #dummy(el: Element, ds: DataSet, state: FileState): boolean {
    const original = decodeStrings(el, ds)[0] ?? "";
    const value = dummyValue(
      el.tag,
      el.vr,
      () => this.#keys.uid(`dummy\0${original}\0${el.tag}`),
      elementLength(el),
    );
    safeSet(ds, el, value);
    count(state, "D");
    return true;
  }

  #clean(el: Element, ds: DataSet, state: FileState, creator?: string): boolean {
    if (el.items) return this.#keep(el, ds, state, creator);
    if (DATE_VRS.has(el.vr)) return this.#applyDatePolicy(el, ds, this.#datePolicy() ?? "remove", state);
    // Bulk binary values (overlay and curve data, maker notes, UN) cannot be cleaned by us: they go.
    if (BULK_VRS.has(el.vr)) return false;
    // Numbers, ages, times and UIDs hold no text to clean; names, codes and descriptions may.
    if (!FREE_TEXT_VRS.has(el.vr) && el.vr !== "AE" && el.vr !== "CS") {
      return this.#keep(el, ds, state, creator);
    }
    const values = decodeStrings(el, ds).map((v) => cleanText(v, state.phi));
    safeSet(ds, el, values.length ? values : "");
    count(state, "C");
    return true;
  }

  #remapUIDs(el: Element, ds: DataSet, state: FileState): boolean {
    if (el.items) return this.#keep(el, ds, state);
    if (el.vr !== "UI") return this.#empty(el, state, "Z");
    const values = decodeStrings(el, ds);
    if (values.length === 0) return this.#keep(el, ds, state);
    safeSet(ds, el, values.map((v) => (v ? this.uid(v) : v)));
    count(state, "U");
    return true;
  }

  #applyDatePolicy(
    el: Element,
    ds: DataSet,
    policy: NonNullable<DeidConfig["dates"]>,
    state: FileState,
  ): boolean {
    if (policy === "keep") {
      count(state, "K");
      return true;
    }
    if (policy === "remove") return this.#empty(el, state, "Z");
    const values = decodeStrings(el, ds);
    const out = values.map((v) => {
      if (v === "") return v;
      if (policy === "year-only") return yearOnly(v);
      return el.vr === "DT" ? shiftDT(v, state.dayOffset!) : shiftDA(v, state.dayOffset!);
    });
    // A value that is not a date we can read is not kept: nobody can say what it reveals.
    if (out.some((v) => v === undefined)) return this.#empty(el, state, "Z");
    safeSet(ds, el, out as string[]);
    count(state, policy === "year-only" ? "year-only" : "shift");
    return true;
  }

  #addMarks(ds: DataSet, dates: DeidConfig["dates"]): void {
    setValue(ds, 0x00120062, "YES", "CS");
    setValue(ds, 0x00120063, [...this.config.method], "LO");
    const codes = [cid7050("basic"), ...this.config.options.map((o) => cid7050(o))];
    const items: Item[] = codes.map((c) => {
      const item: DataSet = { elements: [], encoding: ds.encoding, parent: ds };
      setValue(item, 0x00080100, c.codeValue, "SH");
      setValue(item, 0x00080102, c.codingSchemeDesignator, "SH");
      setValue(item, 0x00080104, c.codeMeaning, "LO");
      return { length: UNDEFINED_LENGTH, dataset: item };
    });
    insertElement(ds, { tag: 0x00120064, vr: "SQ", length: UNDEFINED_LENGTH, items });
    const ltim = dates === undefined || dates === "remove"
      ? "REMOVED"
      : dates === "keep"
      ? "UNMODIFIED"
      : "MODIFIED";
    setValue(ds, 0x00280303, ltim, "CS");
  }
}

function count(state: FileState, label: string): void {
  state.counts[label] = (state.counts[label] ?? 0) + 1;
}

function elementLength(el: Element): number {
  if (el.value) return el.value.length;
  if (el.span && !el.external) return el.span.end - el.span.valueStart;
  return 0;
}

/** Set a value; one that cannot be encoded (a character set we cannot write) is emptied instead. */
function safeSet(ds: DataSet, el: Element, value: ElementValue): void {
  try {
    // A UN element takes the dictionary's VR when there is one; otherwise it cannot hold text.
    setValue(ds, el.tag, value, el.vr === "UN" ? lookupTag(el.tag)?.vrs[0] ?? "UN" : el.vr);
  } catch (e) {
    if (!(e instanceof DicomError)) throw e;
    emptyValue(el);
  }
}

function blockKey(tag: number): number {
  return ((tag >>> 16) << 8) | ((tag >>> 8) & 0xff);
}

function creatorKey(tag: number): number {
  return ((tag >>> 16) << 8) | (tag & 0xff);
}

/** Private creators of a data set by (group, block), read once per data set. */
function creatorMap(ds: DataSet): Map<number, string> {
  const map = new Map<number, string>();
  for (const el of ds.elements) {
    if (isPrivateCreator(el.tag)) map.set(creatorKey(el.tag), decodeStrings(el, ds)[0] ?? "");
  }
  return map;
}

const BURNED_IN_MODALITIES = new Set(["US", "SC", "OT", "XA", "ES"]);

/** Why a file may have text burned into its pixels, or undefined. */
function burnedInReason(top: (tag: number) => string | undefined): string | undefined {
  const flag = top(0x00280301);
  if (flag === "YES") return "BurnedInAnnotation is YES";
  // The attribute is often wrong on these modalities (ultrasound measurements, screen captures).
  const modality = top(0x00080060);
  if (modality && BURNED_IN_MODALITIES.has(modality)) {
    return `modality ${modality} often carries burned-in text${
      flag === "NO" ? " (BurnedInAnnotation says NO)" : ""
    }`;
  }
  const sop = top(0x00080016) ?? "";
  if (flag === undefined && sop.startsWith("1.2.840.10008.5.1.4.1.1.7")) {
    return "secondary capture without BurnedInAnnotation";
  }
  return undefined;
}
