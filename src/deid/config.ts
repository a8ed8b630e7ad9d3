/** What the de-identification engine needs to know, taken from a protocol or given directly. */
import type { Hook } from "../protocol/typescript.ts";
import type { PixelRule } from "../protocol/pixel_rules.ts";
import type { Protocol, TagRule } from "../protocol/protocol.ts";
import { readLookupTable } from "../protocol/lookup.ts";
import type { DeidentifyData } from "../protocol/schema.ts";
import { VERSION } from "../version.ts";
import { type OptionName, RULES_EDITION } from "../standard/ps3_15.ts";

/** The engine's settings: a protocol's `deidentify` section, resolved. */
export interface DeidConfig {
  /** PS3.15 Annex E options (the table's option columns) applied on top of the basic profile. */
  readonly options: readonly OptionName[];
  /** Compound codes (X/Z/D, ...): "conformant" keeps required attributes valid, "minimal" takes the first. */
  readonly compound: "conformant" | "minimal";
  /** PatientID policy: "keep", a keyed hash (prefix + length), or a lookup table (see `lookup`). */
  readonly patientId: DeidentifyData["patient_id"];
  /** The lookup table when `patientId` is a lookup (original ID to new ID). */
  readonly lookup?: ReadonlyMap<string, string>;
  /** How the dates the profile keeps look (shifted, year only, removed, kept); absent: left as they are. */
  readonly dates?: DeidentifyData["dates"];
  /** "remap": instance UIDs become keyed `2.25.` UIDs; "keep": unchanged. Registry UIDs never change. */
  readonly uids: "remap" | "keep";
  /** Private elements: remove, keep-safe (Table E.3.10-1), keep, or keep only the listed creators' blocks. */
  readonly privateTags: DeidentifyData["private_tags"];
  /** Also clean kept free text (LO, SH, LT, ST, UT, UC, PN, AE), as the profile's C action cleans. */
  readonly scrubFreeText: boolean;
  /** Per-tag rules, the protocol's `tags` before `tags_file` entries: the first whose selector matches decides. */
  readonly rules: readonly TagRule[];
  /** Functions of a TypeScript protocol, by name, for `{ fn: NAME }` actions. */
  readonly hooks: Readonly<Record<string, Hook>>;
  /** Values of DeidentificationMethod (0012,0063): each at most 64 characters (LO). */
  readonly method: readonly string[];
  /** `burned_in: blank`: the regions of the matching `pixelRules` are blanked (by the run). */
  readonly blankPixels?: boolean;
  /** `deidentify.pixels`, resolved. */
  readonly pixelRules?: readonly PixelRule[];
  /** `pixels_detect: ocr`: the pixels of burned-in suspects are searched for text (plan, verify). */
  readonly detectText?: boolean;
}

/** The DeidentificationMethod values for a configuration. */
export function methodValues(
  options: readonly OptionName[],
  protocol?: { name: string; sha256: string },
): string[] {
  const edition = RULES_EDITION.match(/PS3\.15 \d{4}[a-z]/)?.[0] ?? "PS3.15";
  return [
    `dcmtidy ${VERSION}`,
    `${edition} basic profile`,
    ...options.map((o) => `option ${o}`),
    ...(protocol ? [`protocol ${protocol.name}`.slice(0, 64), `sha256:${protocol.sha256.slice(0, 12)}`] : []),
  ];
}

/** Settings with the protocol schema's defaults, for library use and tests. */
export function deidConfig(partial: Partial<DeidConfig> = {}): DeidConfig {
  const options = partial.options ?? [];
  return {
    options,
    compound: "conformant",
    patientId: { hash: { prefix: "", length: 8 } },
    uids: "remap",
    privateTags: "remove",
    scrubFreeText: false,
    rules: [],
    hooks: {},
    method: methodValues(options),
    ...partial,
  };
}

/** The engine settings of a loaded protocol (which must have a `deidentify` section). */
export function configFromProtocol(p: Protocol, lookup?: ReadonlyMap<string, string>): DeidConfig {
  const d = p.deidentify;
  if (!d) throw new Error("this protocol does not de-identify");
  return {
    options: d.options,
    compound: d.compound,
    patientId: d.patient_id,
    lookup,
    dates: d.dates,
    uids: d.uids,
    privateTags: d.private_tags,
    scrubFreeText: d.scrub_free_text,
    rules: d.rules,
    hooks: d.hooks,
    blankPixels: d.burned_in === "blank",
    detectText: d.pixels_detect === "ocr",
    pixelRules: d.pixelRules,
    method: methodValues(d.options, p),
  };
}

/** `configFromProtocol`, with the lookup table the protocol names read from its file. */
export async function loadDeidConfig(p: Protocol): Promise<DeidConfig> {
  const file = p.deidentify?.lookupFile;
  return configFromProtocol(p, file ? await readLookupTable(file) : undefined);
}

/**
 * The date policy in force: the protocol's `dates`, else "keep" under the
 * retain-longitudinal-full-dates option, else none (dates follow the table's codes alone).
 */
export function datePolicy(config: DeidConfig): DeidConfig["dates"] {
  if (config.dates !== undefined) return config.dates;
  if (config.options.includes("retain-longitudinal-full-dates")) return "keep";
  return undefined;
}
