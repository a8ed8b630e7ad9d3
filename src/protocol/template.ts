/**
 * Output path templates of the study protocol: `output.path` (the folders, default
 * {@link DEFAULT_FOLDER_TEMPLATE}) and `output.file` (the file name, default {@link DEFAULT_FILE_TEMPLATE}).
 *
 * A template is literal text with placeholders:
 *
 * - the 21 dcm2dir placeholders `%a` ... `%z` (see {@link PLACEHOLDERS}), and `%%` for a literal `%`;
 * - `{Keyword}` or `{(gggg,eeee)}`: the first value of an element, e.g. `{SeriesNumber}`;
 * - `{pseudo_id}`: the subject pseudonym the caller gives;
 * - after the name, `:0N` zero-pads a number to width N (`{InstanceNumber:04}` -> `0012`; a
 *   non-numeric value is left as is) and `|text` gives a default for a missing or empty value
 *   (`{StudyID|nostudy}`; the default is taken literally, up to the closing brace).
 *
 * `/` separates folders in `output.path`; the file name template holds no `/`. Every rendered
 * segment is sanitised ({@link sanitizeSegment}), so a value can never add a folder, climb out of
 * the output root, or produce a name that a file system refuses or treats specially. Literal text
 * is sanitised too: `%%` renders `%`, which then becomes `_`.
 *
 * Values come from the data set after de-identification (the caller passes that one): this module
 * only renders.
 *
 * @module
 */
import * as path from "node:path";
import {
  formatTag,
  lookupKeyword,
  parseTag,
  suggestKeywords,
  tagForKeyword,
} from "../standard/dictionary.ts";
import type { DataSet } from "../dicom/model.ts";
import { decodeNumbers, decodeStrings, valueBytes } from "../dicom/values.ts";
import { isStringVR } from "../dicom/vr.ts";
import { tags } from "../standard/tags.ts";
import { TemplateError } from "./errors.ts";
import { MAX_SEGMENT_LENGTH, MISSING, sanitizeSegment } from "./segments.ts";

/** The dcm2dir folder layout: PatientID / StudyID_StudyDate / SeriesNumber_SeriesDescription. */
export const DEFAULT_FOLDER_TEMPLATE = "%i/%x_%t/%s_%d";
/** One file per instance, named by its zero-padded instance number. */
export const DEFAULT_FILE_TEMPLATE = "{InstanceNumber:04}.dcm";

/** What a template reads its values from. */
export interface TemplateValues {
  /** The value of a tag in the DE-IDENTIFIED data set, undefined when absent or empty. */
  value(tag: number): string | undefined;
  /** The input path relative to its root, for %b and %f. */
  inputPath: string;
  /** The subject pseudonym, for `{pseudo_id}`. */
  pseudoId?: string;
}

/** A compiled template, ready to render. */
export interface CompiledTemplate {
  /** The template as written in the protocol. */
  readonly source: string;
  /** "folder" for `output.path` (any number of segments), "file" for `output.file` (exactly one). */
  readonly kind: "folder" | "file";
  /** Tags the template reads, in order of first use (for the plan's warning when the profile removes one). */
  readonly tags: readonly number[];
  /** Whether the template uses `{pseudo_id}`, so the caller knows it must give one. */
  readonly usesPseudoId: boolean;
  /** Whether it copies parts of the input path (`%b`, `%f`), which may name the patient. */
  readonly usesInputPath: boolean;
  /** Sanitised path segments: any number for a folder template (none for ""), exactly one for a file name. */
  render(values: TemplateValues): string[];
}

/** One dcm2dir placeholder: an element of the data set, or a part of the input path. */
export interface Placeholder {
  /** What it shows, in dcm2dir's words. */
  readonly description: string;
  /** The element it reads. */
  readonly tag?: number;
  /** That element's keyword. */
  readonly keyword?: string;
  /** Or the part of the input path it shows. */
  readonly input?: "basename" | "folder";
}

/** The 21 dcm2dir placeholders, by letter, with dcm2dir's meanings. */
export const PLACEHOLDERS: Readonly<Record<string, Placeholder>> = Object.freeze({
  a: { description: "antenna (coil) name", tag: tags.ReceiveCoilName, keyword: "ReceiveCoilName" },
  b: { description: "basename of the input file", input: "basename" },
  c: { description: "image comments", tag: tags.ImageComments, keyword: "ImageComments" },
  d: { description: "series description", tag: tags.SeriesDescription, keyword: "SeriesDescription" },
  e: { description: "echo number", tag: tags.EchoNumbers, keyword: "EchoNumbers" },
  f: { description: "name of the folder holding the input file", input: "folder" },
  g: { description: "accession number", tag: tags.AccessionNumber, keyword: "AccessionNumber" },
  i: { description: "patient ID", tag: tags.PatientID, keyword: "PatientID" },
  j: { description: "series instance UID", tag: tags.SeriesInstanceUID, keyword: "SeriesInstanceUID" },
  k: { description: "study instance UID", tag: tags.StudyInstanceUID, keyword: "StudyInstanceUID" },
  m: { description: "manufacturer", tag: tags.Manufacturer, keyword: "Manufacturer" },
  n: { description: "patient name", tag: tags.PatientName, keyword: "PatientName" },
  // MediaStorageSOPInstanceUID (0002,0003) copies the data set's SOPInstanceUID, which is the one
  // de-identification changes; the meta group follows it when the file is written.
  o: { description: "media storage SOP instance UID", tag: tags.SOPInstanceUID, keyword: "SOPInstanceUID" },
  p: { description: "protocol name", tag: tags.ProtocolName, keyword: "ProtocolName" },
  r: { description: "instance number", tag: tags.InstanceNumber, keyword: "InstanceNumber" },
  s: { description: "series number", tag: tags.SeriesNumber, keyword: "SeriesNumber" },
  t: { description: "study (exam) date", tag: tags.StudyDate, keyword: "StudyDate" },
  u: { description: "acquisition number", tag: tags.AcquisitionNumber, keyword: "AcquisitionNumber" },
  v: {
    description: "vendor (manufacturer's model name)",
    tag: tags.ManufacturerModelName,
    keyword: "ManufacturerModelName",
  },
  x: { description: "study ID", tag: tags.StudyID, keyword: "StudyID" },
  z: { description: "sequence name", tag: tags.SequenceName, keyword: "SequenceName" },
});

const KNOWN_PLACEHOLDERS = Object.keys(PLACEHOLDERS).map((l) => `%${l}`).join(" ");

/** File meta elements that copy a data set element: templates read the data set's. */
const META_TO_DATASET: ReadonlyMap<number, number> = new Map([
  [tags.MediaStorageSOPClassUID, tags.SOPClassUID],
  [tags.MediaStorageSOPInstanceUID, tags.SOPInstanceUID],
]);

type Token =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "input"; readonly which: "basename" | "folder" }
  | {
    readonly type: "value";
    /** undefined for the pseudonym. */
    readonly tag?: number;
    readonly width?: number;
    readonly fallback?: string;
  };

type Segment = readonly Token[];

/**
 * Compile a template. Throws {@link TemplateError} with the 1-based column for an unknown
 * placeholder or keyword (with "did you mean"), a bad tag or format, an unclosed brace, an empty
 * folder name, a literal `.` or `..` folder, a backslash, or a `/` in a file name template.
 */
export function compileTemplate(source: string, kind: "folder" | "file"): CompiledTemplate {
  const cs = Array.from(source); // columns count characters, not UTF-16 code units
  const segments: Segment[] = [];
  const tags: number[] = [];
  let usesPseudoId = false;
  let tokens: Token[] = [];
  let text = "";
  let segmentStart = 0;

  const flushText = () => {
    if (text !== "") tokens.push({ type: "text", text });
    text = "";
  };
  const endSegment = (at: number) => {
    flushText();
    if (tokens.length === 0) {
      throw new TemplateError(
        kind === "file"
          ? `empty file name template at column ${at + 1}`
          : `empty folder name at column ${at + 1} (check for "//" or a leading or trailing "/")`,
        at + 1,
      );
    }
    if (tokens.every((t) => t.type === "text")) {
      const literal = tokens.map((t) => (t as { text: string }).text).join("");
      if (literal === "." || literal === "..") {
        throw new TemplateError(
          `"${literal}" at column ${segmentStart + 1} is not allowed as a ${kind} name`,
          segmentStart + 1,
        );
      }
    }
    segments.push(tokens);
    tokens = [];
  };

  if (kind === "folder" && source === "") {
    return makeTemplate(source, kind, [], [], false);
  }
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i];
    const column = i + 1;
    if (c === "/") {
      if (kind === "file") {
        throw new TemplateError(
          `"/" at column ${column}: a file name template cannot contain folders (put them in output.path)`,
          column,
        );
      }
      endSegment(i);
      segmentStart = i + 1;
    } else if (c === "\\") {
      throw new TemplateError(`backslash at column ${column}: separate folders with "/"`, column);
    } else if (c === "%") {
      const next = cs[i + 1];
      if (next === "%") {
        text += "%";
      } else if (next === undefined) {
        throw new TemplateError(`lone "%" at column ${column} (write %% for a percent sign)`, column);
      } else if (Object.hasOwn(PLACEHOLDERS, next)) {
        const p = PLACEHOLDERS[next];
        flushText();
        if (p.input) tokens.push({ type: "input", which: p.input });
        else {
          tokens.push({ type: "value", tag: p.tag! });
          addTag(tags, p.tag!);
        }
      } else {
        throw new TemplateError(
          `unknown placeholder "%${next}" at column ${column} (known: ${KNOWN_PLACEHOLDERS})`,
          column,
        );
      }
      i++;
    } else if (c === "{") {
      const close = cs.indexOf("}", i + 1);
      if (close < 0) throw new TemplateError(`unclosed "{" at column ${column}`, column);
      const token = parseBraces(cs.slice(i + 1, close), column + 1);
      flushText();
      tokens.push(token);
      if (token.type === "value") {
        if (token.tag === undefined) usesPseudoId = true;
        else addTag(tags, token.tag);
      }
      i = close;
    } else if (c === "}") {
      throw new TemplateError(`unmatched "}" at column ${column}`, column);
    } else {
      text += c;
    }
  }
  endSegment(cs.length);
  return makeTemplate(source, kind, segments, tags, usesPseudoId);
}

function addTag(tags: number[], tag: number): void {
  if (!tags.includes(tag)) tags.push(tag);
}

/** The inside of `{...}`; `column` is that of its first character. */
function parseBraces(chars: string[], column: number): Token {
  if (chars.length === 0) {
    throw new TemplateError(`empty placeholder "{}" at column ${column - 1}`, column - 1);
  }
  const bar = chars.indexOf("|");
  const head = bar < 0 ? chars : chars.slice(0, bar);
  const fallback = bar < 0 ? undefined : chars.slice(bar + 1).join("");
  const colon = head.indexOf(":");
  const name = (colon < 0 ? head : head.slice(0, colon)).join("");
  let width: number | undefined;
  if (colon >= 0) {
    const format = head.slice(colon).join("");
    const m = /^:0([0-9]{1,2})$/.exec(format);
    width = m ? Number(m[1]) : 0;
    if (width < 1 || width > MAX_SEGMENT_LENGTH) {
      throw new TemplateError(
        `bad format "${format}" at column ${column + colon} (only zero padding such as ":04" is supported)`,
        column + colon,
      );
    }
  }
  if (name === "") throw new TemplateError(`missing keyword at column ${column}`, column);
  if (name === "pseudo_id") return { type: "value", width, fallback };
  let tag: number | undefined;
  if (name.startsWith("(")) {
    tag = parseTag(name);
    if (tag === undefined || !name.endsWith(")")) {
      throw new TemplateError(
        `bad tag "${name}" at column ${column} (write a tag as (gggg,eeee) in hex)`,
        column,
      );
    }
  } else {
    tag = tagForKeyword(name);
    if (tag === undefined) {
      const hints = suggestKeywords(name, 3);
      throw new TemplateError(
        `unknown keyword "${name}" at column ${column}` +
          (hints.length ? ` (did you mean ${hints.map((h) => `"${h}"`).join(", ")}?)` : ""),
        column,
      );
    }
    const vrs = lookupKeyword(name)?.vrs ?? [];
    if (vrs.length === 0 || vrs.includes("SQ")) {
      throw new TemplateError(
        `"${name}" at column ${column} is a sequence or item and has no value to show`,
        column,
      );
    }
  }
  const mapped = META_TO_DATASET.get(tag);
  if (mapped !== undefined) tag = mapped;
  else if (tag >>> 16 === 0x0002) {
    throw new TemplateError(
      `"${name}" at column ${column} is in the file meta group, which templates cannot read`,
      column,
    );
  }
  return { type: "value", tag, width, fallback };
}

function makeTemplate(
  source: string,
  kind: "folder" | "file",
  segments: readonly Segment[],
  tags: number[],
  usesPseudoId: boolean,
): CompiledTemplate {
  const keepExtension = kind === "file";
  return Object.freeze({
    source,
    kind,
    tags: Object.freeze(tags),
    usesPseudoId,
    usesInputPath: segments.some((tokens) => tokens.some((t) => t.type === "input")),
    render(values: TemplateValues): string[] {
      return segments.map((tokens) =>
        sanitizeSegment(tokens.map((t) => renderToken(t, values)).join(""), { keepExtension })
      );
    },
  });
}

function renderToken(token: Token, values: TemplateValues): string {
  if (token.type === "text") return token.text;
  if (token.type === "input") {
    const name = token.which === "basename"
      ? path.basename(values.inputPath)
      : path.basename(path.dirname(values.inputPath));
    return name === "" || name === "." ? MISSING : name;
  }
  const raw = token.tag === undefined ? values.pseudoId : values.value(token.tag);
  const value = raw === undefined || raw === "" ? token.fallback : raw;
  if (value === undefined) return MISSING;
  return token.width === undefined ? value : zeroPad(value, token.width);
}

/** `12` -> `0012`, `-5` -> `-005`, `1.5` -> `01.5`; anything that is not a plain number is left as is. */
function zeroPad(value: string, width: number): string {
  const m = /^([+-]?)([0-9]+(?:\.[0-9]+)?)$/.exec(value);
  if (!m) return value;
  const sign = m[1] === "-" ? "-" : "";
  return sign + m[2].padStart(width - sign.length, "0");
}

const BINARY_NUMBER_VRS = new Set(["US", "SS", "UL", "SL", "FL", "FD", "SV", "UV"]);
const latin1 = new TextDecoder("latin1");

/**
 * Template values from a (de-identified) data set: the first value of a multi-valued element,
 * text decoded with the Specific Character Set, trimmed; PN as stored (`Doe^John`); binary
 * numbers in decimal; AT as `(gggg,eeee)`; UN only when its bytes are printable ASCII. Sequences,
 * bulk data and empty values are undefined. Only top-level elements are read.
 */
export function valuesFromDataSet(ds: DataSet, inputPath: string, pseudoId?: string): TemplateValues {
  // Each tag read once: the plan asks which are missing, then renders the folder and file names.
  // The values are read as the data set is now; make new ones after changing it.
  const read = new Map<number, string | undefined>();
  const value = (tag: number) => {
    if (read.has(tag)) return read.get(tag);
    const v = firstValue(ds, tag);
    read.set(tag, v);
    return v;
  };
  return { value, inputPath, pseudoId };
}

function firstValue(ds: DataSet, tag: number): string | undefined {
  const el = ds.elements.find((e) => e.tag === tag);
  if (!el || el.items) return undefined;
  let value: string | undefined;
  if (isStringVR(el.vr)) {
    value = decodeStrings(el, ds)[0];
  } else if (el.vr === "AT") {
    const halves = decodeNumbers(el, ds) as number[];
    if (halves.length >= 2) value = formatTag(((halves[0] << 16) | halves[1]) >>> 0);
  } else if (BINARY_NUMBER_VRS.has(el.vr)) {
    const numbers = decodeNumbers(el, ds);
    if (numbers.length > 0) value = String(numbers[0]);
  } else if (el.vr === "UN") {
    const bytes = valueBytes(el);
    const text = bytes ? latin1.decode(bytes).replace(/[\0 ]+$/, "") : "";
    if (/^[\x20-\x7e]*$/.test(text)) value = text.split("\\")[0];
  }
  value = value?.replace(/^[\s\0]+|[\s\0]+$/g, "");
  return value ? value : undefined;
}
