/**
 * The study protocol's shape, in zod: the TypeScript types and `schema/protocol.schema.json`
 * (for editors) both come from here, so they cannot drift apart.
 */
import { z } from "zod";
import { OPTION_NAMES, type OptionName } from "../standard/ps3_15.ts";

const relativePath = z.string().min(1, "must not be empty");

/** A per-tag action: the names, dcm2dir's one-letter codes, or an object form. */
export const actionSchema = z.union([
  z.enum(["keep", "remove", "empty", "dummy", "uid", "hash", "K", "X", "Z", "D", "U"]),
  z.string().regex(/^C:/, "a dcm2dir C: action needs a value after the colon, like C:ANONYMOUS"),
  z.strictObject({ replace: z.string().describe("a template: {pseudo_id}, {Keyword}, literal text") }),
  z.strictObject({ regexp: z.strictObject({ find: z.string(), replace: z.string() }) }),
  z.strictObject({ shift_date: z.literal(true) }),
  z.strictObject({ fn: z.string().min(1).describe("a hook defined in a TypeScript protocol") }),
]).describe(
  "keep, remove, empty, dummy, uid, hash, K X Z D U C:VALUE, {replace}, {regexp}, {shift_date}, {fn}",
);

/** One per-tag action as written in a protocol. */
export type Action = z.infer<typeof actionSchema>;

const saltSchema = z.union([
  z.strictObject({
    env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name"),
  }),
  z.strictObject({ file: relativePath }),
]).describe("where the secret salt comes from: { env: NAME } or { file: path }; never inline");

const patientIdSchema = z.union([
  z.literal("keep"),
  z.strictObject({
    hash: z.strictObject({
      prefix: z.string().regex(/^[A-Za-z0-9._-]*$/, "may only hold letters, digits, '.', '_' and '-'")
        .default(""),
      length: z.number().int().min(6).max(52).default(8),
    }),
  }),
  z.strictObject({
    lookup: z.strictObject({
      file: relativePath,
      missing: z.enum(["error", "hash", "keep", "quarantine"]).default("error"),
    }),
  }),
]);

const datesSchema = z.union([
  z.enum(["keep", "year-only", "remove"]),
  z.strictObject({
    shift: z.union([
      z.strictObject({ min_days: z.number().int(), max_days: z.number().int() }),
      z.strictObject({ days: z.number().int() }),
    ]),
  }),
]);

const privateTagsSchema = z.union([
  z.enum(["remove", "keep-safe", "keep"]),
  z.strictObject({ keep_creators: z.array(z.string().min(1)).min(1) }),
]);

/** A condition on one original header value of a pixel rule's `when`. */
const conditionSchema = z.union([
  z.union([z.string(), z.number()]).describe("equal (text compared without case, after trimming)"),
  z.array(z.union([z.string(), z.number()])).min(1).describe("equal to any of these"),
  z.strictObject({ contains: z.string().min(1).describe("holds this text (without case)") }),
  z.strictObject({ matches: z.string().min(1).describe("matches this regular expression (without case)") }),
  z.strictObject({ present: z.boolean().describe("the attribute is there (true) or not (false)") }),
], {
  error:
    "a condition is a value, a list of values, { contains: TEXT }, { matches: REGEX } or { present: true|false }",
});

/** A rectangle of a pixel rule: x, y, width, height; a negative x or y counts from the right or bottom. */
const whole = (what: string) =>
  z.number({ error: `${what} is a whole number of pixels` }).int(`${what} is a whole number of pixels`);
const rectSchema = z.tuple([
  whole("x"),
  whole("y"),
  whole("the width").min(1, "the width is at least 1 pixel"),
  whole("the height").min(1, "the height is at least 1 pixel"),
], { error: "a rectangle is [x, y, width, height]" })
  .describe("[x, y, width, height] in pixels; a negative x or y counts from the right or bottom edge");

/** One `deidentify.pixels` rule: which images, which regions to blank. */
export const pixelRuleSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "use letters, digits, '.', '_' and '-'"),
  when: z.record(z.string(), conditionSchema).refine((w) => Object.keys(w).length > 0, {
    message: "give at least one condition (Modality, Manufacturer, Rows, ...)",
  }).describe("original header values (top level), keyed by keyword; all must hold"),
  blank: z.union([z.literal("all"), z.array(rectSchema).min(1)], {
    error: "blank is all, or a list of rectangles: [[x, y, width, height], ...]",
  }).describe(
    "the regions filled with black in every frame: a list of [x, y, width, height], or all",
  ),
  keep: z.literal("ultrasound-regions").optional().describe(
    "the rectangles of SequenceOfUltrasoundRegions are never blanked",
  ),
});

/** A pixel rule as written. */
export type PixelRuleData = z.infer<typeof pixelRuleSchema>;

const deidentifySchema = z.strictObject({
  profile: z.literal("basic").default("basic").describe(
    "PS3.15 Annex E Basic Application Level Confidentiality Profile",
  ),
  options: z.array(z.enum(OPTION_NAMES as unknown as [OptionName, ...OptionName[]])).default([]),
  salt: saltSchema,
  patient_id: patientIdSchema.default({ hash: { prefix: "", length: 8 } }),
  dates: datesSchema.optional(),
  uids: z.enum(["remap", "keep"]).default("remap"),
  private_tags: privateTagsSchema.default("remove"),
  burned_in: z.enum(["warn", "quarantine", "allow", "blank"]).default("warn").describe(
    "images that may carry text in their pixels: warn (written), quarantine, allow, or blank (the regions of " +
      "the matching `pixels` rules are filled with black; a suspect no rule matches is quarantined)",
  ),
  pixels_detect: z.enum(["none", "ocr"]).default("none").describe(
    "ocr: search the pixels of burned-in suspects for text (Tesseract, offline): plan lists the boxes found and " +
      "proposes a rule for each device no rule matches; verify reports text left in written images (phi-pixels)",
  ),
  pixels: z.array(pixelRuleSchema).default([]).describe(
    "pixel rules: every rule whose `when` holds adds its regions (used with burned_in: blank)",
  ),
  compound: z.enum(["conformant", "minimal"]).default("conformant"),
  scrub_free_text: z.boolean().default(false),
  tags: z.record(z.string(), actionSchema).default({}),
  tags_file: relativePath.optional().describe("a dcm2dir custom config JSON used as `tags`"),
});

const oneOrMany = z.union([relativePath, z.array(relativePath).min(1)]);

/** The protocol as written (YAML or TypeScript), before paths are resolved. */
export const protocolSchema = z.strictObject({
  version: z.literal(1),
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "use letters, digits, '.', '_' and '-'"),
  input: z.strictObject({
    root: oneOrMany,
    include: z.array(z.string().min(1)).default(["**/*"]),
    exclude: z.array(z.string().min(1)).default([]),
    follow_symlinks: z.boolean().default(false),
  }),
  output: z.strictObject({
    root: relativePath,
    path: z.string().min(1).default("%i/%x_%t/%s_%d"),
    file: z.string().min(1).default("{InstanceNumber:04}.dcm"),
    mode: z.enum(["copy", "hardlink", "symlink"]).default("copy"),
    on_collision: z.enum(["suffix", "error"]).default("suffix"),
    format: z.enum(["dicom", "nifti", "both"]).default("dicom").describe(
      "dicom: the (de-identified) files; nifti: one .nii.gz per series (the file template's extension " +
        "replaced) with a JSON sidecar of acquisition parameters; both: the two side by side",
    ),
    transfer_syntax: z.string().min(1).default("keep").describe(
      "the transfer syntax of written DICOM files: keep (each file's own, the default), explicit-le, " +
        "implicit-le, rle-lossless, jpeg-ls-lossless, htj2k-lossless, or one of their UIDs. Lossless " +
        "only: a lossy source keeps its lossy history (LossyImageCompression 01, ratio and method)",
    ),
    dicomdir: z.boolean().default(false).describe(
      "write a DICOMDIR at the output root listing every written DICOM file (media exports: CD, USB); " +
        "the path and file templates must then make media file IDs: at most 8 levels of names of 1 to 8 " +
        "characters from A-Z, 0-9 and _, no extension",
    ),
  }),
  nifti: z.strictObject({
    philips_scaling: z.enum(["precise", "display"]).default("precise").describe(
      "Philips images with a private MR Scale Slope (2005,xx0E): precise stores the floating point " +
        "values (PV * RS + RI) / (RS * SS), as dcm2niix does by default; display the displayed values " +
        "PV * RS + RI. The sidecar says which (UsePhilipsFloatNotDisplayScaling).",
    ),
  }).default({ philips_scaling: "precise" }).describe("NIfTI output (output.format nifti or both)"),
  report: relativePath.default("report.csv"),
  key: relativePath.optional(),
  quarantine: relativePath.optional(),
  deidentify: deidentifySchema.optional(),
});

/** What a run writes: DICOM files, NIfTI volumes per series, or both. */
export type OutputFormat = ProtocolData["output"]["format"];

/** A protocol as written. */
export type ProtocolInput = z.input<typeof protocolSchema>;
/** A protocol with defaults filled in (paths not yet resolved). */
export type ProtocolData = z.output<typeof protocolSchema>;
/** The de-identification part, defaults filled in. */
export type DeidentifyData = NonNullable<ProtocolData["deidentify"]>;

/** The JSON Schema for editors (committed as schema/protocol.schema.json; a test keeps it fresh). */
export function protocolJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(protocolSchema, { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return {
    ...schema,
    $id: "https://dcmtidy.invalid/schema/protocol.schema.json",
    title: "dcmtidy study protocol",
  };
}
