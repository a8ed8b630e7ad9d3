/**
 * Human-readable listing of a data set (like dcmdump) and the DICOM JSON model (PS3.18 F.2).
 * Values that may identify a person are masked unless the caller asks to show them.
 */
import { Buffer } from "node:buffer";
import { formatTag, lookupTag } from "../standard/dictionary.ts";
import { privateCreatorOf } from "./walk.ts";
import { type DataSet, type DicomFile, type Element, isPrivateTag, UNDEFINED_LENGTH } from "./model.ts";
import { decodeStrings, decodeValue } from "./values.ts";
import { isStringVR } from "./vr.ts";
import { isSensitive, maskValue } from "./phi.ts";

/** Options shared by the text and JSON dumps. */
export interface DumpOptions {
  /** Show values that may identify a person. Default: masked. */
  showPHI?: boolean;
  /** Cut text values longer than this many characters in the text dump (default 64). */
  maxWidth?: number;
}

function renderValue(el: Element, ds: DataSet, opts: DumpOptions): string {
  if (el.external) {
    return `(${el.external.length < 0 ? "not read" : el.external.length + " bytes"} left in the file)`;
  }
  if (el.encapsulated) return `(encapsulated, ${el.span ? el.span.end - el.span.valueStart : 0} bytes)`;
  const value = decodeValue(el, ds);
  if (value === undefined) return "";
  const sensitive = !opts.showPHI && isSensitive(el.tag, el.vr);
  let text: string;
  if (value instanceof Uint8Array) {
    if (sensitive && value.length > 0) return "(binary, masked)";
    const head = Array.from(value.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("\\");
    text = value.length > 16 ? `${head}... (${value.length} bytes)` : head;
  } else if (el.vr === "AT") {
    text = (value as number[]).map(formatTag).join("\\");
  } else {
    const parts = (value as (string | number | bigint)[]).map(String); // numbers are masked like text
    text = (sensitive ? parts.map((p) => maskValue(p, el.vr)) : parts).join("\\");
  }
  const width = opts.maxWidth ?? 64;
  return `[${text.length > width ? text.slice(0, width) + "..." : text}]`;
}

function nameOf(el: Element, ds: DataSet): string {
  if (isPrivateTag(el.tag)) {
    const creator = privateCreatorOf(ds, el.tag);
    return creator === undefined ? "Private" : `Private "${creator}"`;
  }
  return lookupTag(el.tag)?.keyword ?? "Unknown";
}

function dumpDataSet(ds: DataSet, opts: DumpOptions, indent: string, lines: string[]): void {
  for (const el of ds.elements) {
    const len = el.length === UNDEFINED_LENGTH ? "u/l" : String(el.value?.length ?? el.length);
    if (el.items) {
      lines.push(
        `${indent}${formatTag(el.tag)} ${el.vr} ${len} (${el.items.length} items) ${nameOf(el, ds)}`,
      );
      el.items.forEach((item, i) => {
        const il = item.length === UNDEFINED_LENGTH ? "u/l" : String(item.length);
        lines.push(`${indent}  > item ${i + 1} (${il})`);
        dumpDataSet(item.dataset, opts, indent + "    ", lines);
      });
      continue;
    }
    lines.push(
      `${indent}${formatTag(el.tag)} ${el.vr} ${len} ${renderValue(el, ds, opts)} ${nameOf(el, ds)}`,
    );
  }
}

/** A text listing: one line per element, items indented under their sequence. */
export function dumpText(file: DicomFile, opts: DumpOptions = {}): string {
  const lines = [
    `# ${file.path ?? "(bytes)"}`,
    `# transfer syntax ${file.transferSyntax.uid} (${file.transferSyntax.name})`,
    ...file.warnings.map((w) => `# note: ${w}`),
  ];
  if (file.meta) {
    lines.push("# file meta");
    dumpDataSet(file.meta, opts, "", lines);
  }
  lines.push("# data set");
  dumpDataSet(file.dataset, opts, "", lines);
  return lines.join("\n") + "\n";
}

/** A DICOM JSON model attribute (PS3.18 F.2.2). */
export interface JsonAttribute {
  /** The VR, e.g. "PN": present on every attribute, even an empty one. */
  vr: string;
  /** The values (data sets for SQ, `{ Alphabetic, ... }` for PN, null for an empty one); absent when none. */
  Value?: unknown[];
  /** A binary value in base64; "" when masked as PHI. */
  InlineBinary?: string;
  /** For bulk data and encapsulated Pixel Data, which are not inlined: `#offset=N`, its byte offset. */
  BulkDataURI?: string;
}

/** A DICOM JSON model data set: attributes keyed by 8 upper-case hex digits. */
export type JsonDataSet = Record<string, JsonAttribute>;

const NUMERIC_STRING = new Set(["DS", "IS"]);

function jsonValue(el: Element, ds: DataSet, opts: DumpOptions): JsonAttribute {
  const attr: JsonAttribute = { vr: el.vr };
  if (el.items) {
    if (el.items.length) attr.Value = el.items.map((it) => toJsonDataSet(it.dataset, opts));
    return attr;
  }
  const sensitive = !opts.showPHI && isSensitive(el.tag, el.vr);
  if (el.external || el.encapsulated) {
    attr.BulkDataURI = `#offset=${el.external?.offset ?? el.span?.valueStart}`;
    return attr;
  }
  if (isStringVR(el.vr)) {
    const parts = decodeStrings(el, ds);
    if (parts.length === 0) return attr;
    const shown = sensitive ? parts.map((p) => maskValue(p, el.vr)) : parts;
    if (el.vr === "PN") {
      attr.Value = shown.map((p) => {
        const [Alphabetic, Ideographic, Phonetic] = p.split("=");
        return Object.fromEntries(
          Object.entries({ Alphabetic, Ideographic, Phonetic }).filter(([, v]) =>
            v !== undefined && v !== ""
          ),
        );
      });
    } else if (NUMERIC_STRING.has(el.vr) && !sensitive) {
      attr.Value = shown.map((p) => (p === "" ? null : Number.isFinite(Number(p)) ? Number(p) : p));
    } else {
      attr.Value = shown.map((p) => (p === "" ? null : p));
    }
    return attr;
  }
  const value = decodeValue(el, ds);
  if (value instanceof Uint8Array) {
    if (value.length) {
      attr.InlineBinary = sensitive
        ? ""
        : Buffer.from(value.buffer, value.byteOffset, value.length).toString("base64");
    }
    return attr;
  }
  if (!value || value.length === 0) return attr;
  if (sensitive) {
    attr.Value = value.map(() => "***"); // a private number can be a date in disguise (Unix time)
  } else if (el.vr === "AT") {
    attr.Value = (value as number[]).map((t) => t.toString(16).toUpperCase().padStart(8, "0"));
  } else {
    attr.Value = (value as (number | bigint)[]).map((n) =>
      typeof n === "bigint" ? (Number.isSafeInteger(Number(n)) ? Number(n) : n.toString()) : n
    );
  }
  return attr;
}

/** The DICOM JSON model of a data set (the file meta group is not part of it). */
export function toJsonDataSet(ds: DataSet, opts: DumpOptions = {}): JsonDataSet {
  const out: JsonDataSet = {};
  for (const el of ds.elements) {
    out[el.tag.toString(16).toUpperCase().padStart(8, "0")] = jsonValue(el, ds, opts);
  }
  return out;
}
