/**
 * What loading gives: a {@link Protocol}, validated, with defaults filled in, paths absolute,
 * templates compiled and tag rules parsed, ready to plan with.
 *
 * @module
 */
import type { PixelRule } from "./pixel_rules.ts";
import type { Action, DeidentifyData, ProtocolData } from "./schema.ts";
import type { Selector } from "./selector.ts";
import type { CompiledTemplate } from "./template.ts";
import type { Hook } from "./typescript.ts";

/** One per-tag rule after parsing: what it selects, what it does, where it came from. */
export interface TagRule {
  /** Which elements the rule applies to: a keyword, a tag, a tag pattern or a private element. */
  readonly selector: Selector;
  /** What it does to them, as written. */
  readonly action: Action;
  /** Whether it came from the protocol's `tags` or its `tags_file` (shown by `dcmtidy rules`). */
  readonly origin: "protocol" | "tags_file";
}

/** A protocol ready to plan with: validated, defaults filled in, paths absolute. */
export interface Protocol {
  /** Absolute path of the protocol file. */
  readonly file: string;
  /** sha256 of the protocol file's bytes (recorded in the audit and the de-identification method). */
  readonly sha256: string;
  /** The protocol's `name`, recorded in the audit and in DeidentificationMethod. */
  readonly name: string;
  /** The protocol as validated, defaults filled in, paths as written (relative to the protocol file). */
  readonly data: ProtocolData;
  /** What to read: `input`, with the roots absolute (`--input` replaces them). */
  readonly input: {
    readonly roots: readonly string[];
    readonly include: readonly string[];
    readonly exclude: readonly string[];
    readonly followSymlinks: boolean;
  };
  /** Where and how to write: `output`, root absolute (`--output` replaces it), templates compiled. */
  readonly output: {
    readonly root: string;
    readonly folder: CompiledTemplate;
    readonly file: CompiledTemplate;
    readonly mode: ProtocolData["output"]["mode"];
    readonly onCollision: ProtocolData["output"]["on_collision"];
    /** dicom (default), nifti, or both. */
    readonly format: ProtocolData["output"]["format"];
    /** The transfer syntax UID written DICOM files get, or "keep" (each file's own). */
    readonly transferSyntax: string;
    /** `output.dicomdir`: write a DICOMDIR for the written DICOM files. */
    readonly dicomdir: boolean;
  };
  /** `nifti`: how volumes are made. */
  readonly nifti: {
    /** Philips private scaling: precise (floating point values, the default) or display. */
    readonly philipsScaling: ProtocolData["nifti"]["philips_scaling"];
  };
  /** Absolute path of report.csv (a relative `report` is under the output root). */
  readonly report: string;
  /** Absolute path of the key file (pseudonym to original identity); absent when none is kept. */
  readonly key?: string;
  /** Absolute folder for raw copies of quarantined inputs; absent: they are listed, not copied. */
  readonly quarantine?: string;
  /** `deidentify` with its tag rules parsed and salt, lookup table and hooks located; absent: sort only. */
  readonly deidentify?: DeidentifyData & {
    readonly rules: readonly TagRule[];
    /** `pixels`, resolved: which regions to blank in which images (with burned_in: blank). */
    readonly pixelRules: readonly PixelRule[];
    /** Where the salt is; the value itself is read only when a run needs it. */
    readonly saltSource: { readonly env: string } | { readonly file: string };
    readonly lookupFile?: string;
    readonly hooks: Readonly<Record<string, Hook>>;
  };
}
