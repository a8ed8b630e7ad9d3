/**
 * Decoding element values to JavaScript, and encoding JavaScript values for a VR.
 *
 * Encoding always yields a value that is valid for its VR: even length with the right padding byte,
 * multi-values joined with backslash, and the VR's length limit checked.
 */
import { convertBytes } from "dicom-character-set";
import { tags } from "../standard/tags.ts";
import { smallBytes } from "../util/bytes.ts";
import { DicomWriteError } from "./errors.ts";
import type { DataSet, Element, Encoding } from "./model.ts";
import { isSingleValueText, isStringVR, maxValueLength, NUMBER_VRS, paddingByte, usesCharset } from "./vr.ts";

/** A JavaScript value for an element: strings for text VRs, numbers for binary numbers, else bytes. */
export type ElementValue = string | string[] | number | number[] | bigint[] | Uint8Array;

/** The value bytes of an element as they are now, or undefined for bulk data left in the file. */
export function valueBytes(el: Element): Uint8Array | undefined {
  if (el.value) return el.value;
  if (el.external || !el.span || el.items) return undefined;
  return el.span.src.subarray(el.span.valueStart, el.span.end);
}

const SPECIFIC_CHARACTER_SET = tags.SpecificCharacterSet;
const latin1 = new TextDecoder("latin1");

/**
 * `latin1.decode`, without a call into the runtime for short ASCII values (most values are a few
 * bytes, and the call cost more than the decoding). Other bytes go to the decoder, which maps
 * 0x80 to 0x9F as windows-1252 does.
 */
function decodeLatin1(bytes: Uint8Array): string {
  if (bytes.length > 256) return latin1.decode(bytes);
  for (let i = 0; i < bytes.length; i++) if (bytes[i] >= 0x80) return latin1.decode(bytes);
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

/** The Specific Character Set in force in a data set: its own, else its parent's (PS3.5 6.1.2.5.2). */
export function charsetOf(ds: DataSet): string {
  for (let d: DataSet | undefined = ds; d; d = d.parent) {
    const el = d.elements.find((e) => e.tag === SPECIFIC_CHARACTER_SET);
    if (el) {
      const bytes = valueBytes(el);
      return bytes ? decodeLatin1(bytes).trim() : "";
    }
  }
  return "";
}

/**
 * ASCII with no escape sequence reads the same in every character set DICOM allows (all keep
 * ASCII in G0), so most values need no converter.
 */
function isPlainAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] >= 0x80 || bytes[i] === 0x1b) return false;
  return true;
}

/** Decode a text value with the data set's character set (for the VRs that use it). */
export function decodeText(bytes: Uint8Array, vr: string, charset: string): string {
  // JIS X 0201 (IR 13) is the exception: its 0x5C is a yen sign.
  if (
    !usesCharset(vr) || charset === "" || charset === "ISO_IR 6" ||
    (isPlainAscii(bytes) && !/IR 13\b/.test(charset))
  ) {
    return decodeLatin1(bytes);
  }
  try {
    return convertBytes(charset, bytes, { vr });
  } catch {
    // Writers often switch back to ASCII with ESC ( B without declaring ISO 2022 IR 6; dcmtk and
    // pydicom accept it, so do we.
    if (charset.includes("ISO 2022") && !/ISO 2022 IR 6\b/.test(charset)) {
      try {
        return convertBytes(`${charset}\\ISO 2022 IR 6`, bytes, { vr });
      } catch { /* fall through */ }
    }
    return latin1.decode(bytes); // an unknown character set: show the bytes rather than fail
  }
}

/** The strings of a text element, split on backslash (except single-value text VRs) and trimmed as PS3.5 allows. */
export function decodeStrings(el: Element, ds: DataSet): string[] {
  const bytes = valueBytes(el);
  if (!bytes || bytes.length === 0) return [];
  // ASCII without escape, backslash or tilde reads the same in every character set (JIS X 0201's
  // yen and overline are at 0x5C and 0x7E), so the data set's character set is not looked up.
  const text = usesCharset(el.vr) && !isInvariantAscii(bytes)
    ? decodeText(bytes, el.vr, charsetOf(ds))
    : decodeText(bytes, el.vr, "");
  // Leading spaces are significant only in the text VRs; trailing padding never is.
  if (isSingleValueText(el.vr)) return [trimPadding(text, false)];
  const parts = text.split("\\");
  for (let i = 0; i < parts.length; i++) parts[i] = trimPadding(parts[i], true);
  return parts;
}

/** Bytes below 0x80 other than ESC, backslash and tilde: the same text in every character set. */
function isInvariantAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b >= 0x7e || b === 0x5c || b === 0x1b) return false;
  }
  return true;
}

/** `text` without trailing spaces and NULs, and without leading spaces when `leading`. */
function trimPadding(text: string, leading: boolean): string {
  let start = 0;
  let end = text.length;
  while (end > 0 && (text.charCodeAt(end - 1) === 0x20 || text.charCodeAt(end - 1) === 0)) end--;
  if (leading) { while (start < end && text.charCodeAt(start) === 0x20) start++; }
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** Decode the numbers of a binary element (US, SS, UL, SL, FL, FD, SV, UV, AT, O*). */
export function decodeNumbers(el: Element, ds: DataSet): number[] | bigint[] {
  const bytes = valueBytes(el);
  const spec = NUMBER_VRS[el.vr];
  if (!bytes || !spec) return [];
  const le = ds.encoding.littleEndian;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = Math.floor(bytes.length / spec.size);
  if (spec.size === 8 && spec.kind !== "f") {
    const out: bigint[] = [];
    for (let i = 0; i < count; i++) {
      out.push(spec.kind === "u" ? view.getBigUint64(i * 8, le) : view.getBigInt64(i * 8, le));
    }
    return out;
  }
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(readNumber(view, i * spec.size, spec, le));
  return out;
}

function readNumber(view: DataView, at: number, spec: { size: number; kind: string }, le: boolean): number {
  switch (`${spec.kind}${spec.size}`) {
    case "u2":
      return view.getUint16(at, le);
    case "i2":
      return view.getInt16(at, le);
    case "u4":
      return view.getUint32(at, le);
    case "i4":
      return view.getInt32(at, le);
    case "f4":
      return view.getFloat32(at, le);
    default:
      return view.getFloat64(at, le);
  }
}

/** Decode an element's value the natural way for its VR. Sequences and bulk data give undefined. */
export function decodeValue(
  el: Element,
  ds: DataSet,
): string[] | number[] | bigint[] | Uint8Array | undefined {
  if (el.items) return undefined;
  if (isStringVR(el.vr)) return decodeStrings(el, ds);
  if (el.vr === "AT") {
    const halves = decodeNumbers(el, ds) as number[];
    const tags: number[] = [];
    for (let i = 0; i + 1 < halves.length; i += 2) tags.push(((halves[i] << 16) | halves[i + 1]) >>> 0);
    return tags;
  }
  if (["US", "SS", "UL", "SL", "FL", "FD", "SV", "UV"].includes(el.vr)) return decodeNumbers(el, ds);
  return valueBytes(el);
}

const utf8 = new TextEncoder();

/** The bytes of an ASCII string (without a call into the runtime), or undefined for any other. */
function asciiBytes(text: string): Uint8Array | undefined {
  const out = smallBytes(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) return undefined;
    out[i] = c;
  }
  return out;
}

/**
 * One ASCII string, encoded and padded in one allocation, or undefined when it needs the general
 * path (a character beyond ASCII, a backslash, a value over the VR's limit: that path encodes it
 * or says why not). Most values set while de-identifying are this (UIDs, dates, codes, dummies),
 * and none of them needs the data set's character set, which ASCII reads the same in.
 */
function asciiValue(text: string, vr: string): Uint8Array | undefined {
  const n = text.length;
  const limit = maxValueLength(vr);
  if (limit !== undefined && n > limit) return undefined;
  const out = smallBytes(n + (n & 1));
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f || c === 0x5c) return undefined;
    out[i] = c;
  }
  if (n & 1) out[n] = paddingByte(vr);
  return out;
}

/** Encode text for a data set's character set; ASCII always fits, the rest needs a set that can hold it. */
function encodeText(text: string, vr: string, charset: string): Uint8Array {
  const ascii = asciiBytes(text);
  if (ascii) return ascii;
  if (!usesCharset(vr)) {
    throw new DicomWriteError("bad-value", `${vr} values must be ASCII: ${JSON.stringify(text)}`);
  }
  const terms = charset.split("\\").map((t) => t.trim());
  if (terms.length === 1 && terms[0] === "ISO_IR 192") return utf8.encode(text);
  if (terms.length === 1 && terms[0] === "ISO_IR 100" && [...text].every((c) => c.charCodeAt(0) <= 0xff)) {
    return Uint8Array.from(text, (c) => c.charCodeAt(0));
  }
  throw new DicomWriteError(
    "bad-value",
    `cannot encode ${JSON.stringify(text)} in Specific Character Set "${charset}"; ` +
      `set SpecificCharacterSet to ISO_IR 192 (UTF-8) first`,
  );
}

function pad(bytes: Uint8Array, vr: string): Uint8Array {
  if (bytes.length % 2 === 0) return bytes;
  const out = smallBytes(bytes.length + 1);
  out.set(bytes);
  out[bytes.length] = paddingByte(vr);
  return out;
}

/**
 * Encode a JavaScript value for an element of `vr` in data set `ds` (its byte order and character set).
 * Strings for text VRs (arrays are joined with backslash), numbers for binary number VRs,
 * bytes for anything else. Throws `DicomWriteError` when the value does not fit the VR. A short
 * result may be a view of a buffer shared with other arrays (see `smallBytes`): read it as the
 * view it is, never through its `buffer` alone.
 */
export function encodeValue(vr: string, value: ElementValue, ds: DataSet): Uint8Array {
  if (value instanceof Uint8Array) return pad(value, vr);
  // One value, as a string or a list of one (what most edits set: a UID, a date, a code).
  const single = Array.isArray(value) && value.length === 1 ? value[0] : value;
  if (typeof single === "string" && isStringVR(vr)) {
    const ascii = asciiValue(single, vr);
    if (ascii) return ascii;
  }
  if (isStringVR(vr)) {
    const parts = (Array.isArray(value) ? value : [value]).map((v) => String(v));
    if (isSingleValueText(vr) && parts.length > 1) {
      throw new DicomWriteError("bad-value", `${vr} holds a single value, got ${parts.length}`);
    }
    const limit = maxValueLength(vr);
    const charset = usesCharset(vr) ? charsetOf(ds) : "";
    const encoded = parts.map((p) => {
      if (!isSingleValueText(vr) && p.includes("\\")) {
        throw new DicomWriteError(
          "bad-value",
          `a ${vr} value may not contain a backslash: ${JSON.stringify(p)}`,
        );
      }
      const bytes = encodeText(p, vr, charset);
      if (limit !== undefined && bytes.length > limit) {
        throw new DicomWriteError(
          "bad-value",
          `${vr} values are at most ${limit} bytes; ${JSON.stringify(p)} has ${bytes.length}`,
        );
      }
      return bytes;
    });
    const total = encoded.reduce((n, b) => n + b.length, 0) + Math.max(0, encoded.length - 1);
    const out = smallBytes(total);
    let at = 0;
    encoded.forEach((b, i) => {
      if (i > 0) out[at++] = 0x5c; // backslash
      out.set(b, at);
      at += b.length;
    });
    return pad(out, vr);
  }
  const spec = NUMBER_VRS[vr];
  if (!spec) throw new DicomWriteError("bad-value", `give ${vr} values as bytes`);
  const numbers = (Array.isArray(value) ? value : [value]) as (number | bigint)[];
  return encodeNumbers(vr, numbers, ds.encoding);
}

function encodeNumbers(vr: string, numbers: (number | bigint)[], enc: Encoding): Uint8Array {
  const spec = NUMBER_VRS[vr];
  const le = enc.littleEndian;
  // AT values are tags: two uint16 per value.
  const perValue = vr === "AT" ? 4 : spec.size;
  const out = smallBytes(numbers.length * perValue);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  numbers.forEach((n, i) => {
    const at = i * perValue;
    if (vr === "AT") {
      view.setUint16(at, Number(n) >>> 16, le);
      view.setUint16(at + 2, Number(n) & 0xffff, le);
      return;
    }
    switch (`${spec.kind}${spec.size}`) {
      case "u2":
        return view.setUint16(at, checkRange(vr, Number(n), 0, 0xffff), le);
      case "i2":
        return view.setInt16(at, checkRange(vr, Number(n), -0x8000, 0x7fff), le);
      case "u4":
        return view.setUint32(at, checkRange(vr, Number(n), 0, 0xffffffff), le);
      case "i4":
        return view.setInt32(at, checkRange(vr, Number(n), -0x80000000, 0x7fffffff), le);
      case "f4":
        return view.setFloat32(at, Number(n), le);
      case "f8":
        return view.setFloat64(at, Number(n), le);
      case "u8":
        return view.setBigUint64(at, BigInt(n), le);
      default:
        return view.setBigInt64(at, BigInt(n), le);
    }
  });
  return out;
}

function checkRange(vr: string, n: number, min: number, max: number): number {
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new DicomWriteError("bad-value", `${n} is not a valid ${vr} value (${min} to ${max})`);
  }
  return n;
}
