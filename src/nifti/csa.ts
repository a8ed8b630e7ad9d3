/**
 * The Siemens CSA header: the private elements (0029,xx10) CSA Image Header Info and (0029,xx20)
 * CSA Series Header Info of the block "SIEMENS CSA HEADER". Two layouts: "SV10" (CSA2, a 4-byte
 * magic and 4 unused bytes first) and the older unmarked one (CSA1). Both are: tag count, a check
 * word (77), then per tag a 64-byte name, VM, VR, SyngoDT, item count and a check word (77 or
 * 205), and per item four int32 (the length is the second in CSA2, the first minus the first tag's
 * item count in CSA1) and the value padded to 4 bytes. Every length is checked against the buffer.
 *
 * @module
 */
import type { DataSet } from "../dicom/model.ts";
import { valueBytes } from "../dicom/values.ts";
import { privateCreatorOf } from "../dicom/walk.ts";
import { NotConvertible } from "./errors.ts";

/** The private creator of the block that holds the CSA headers. */
export const CSA_CREATOR = "SIEMENS CSA HEADER";

/** More tags or items than this is a corrupt header, not a real one (real ones hold about 100). */
const MAX_TAGS = 1000;
const MAX_ITEMS = 1000;
const TAG_BYTES = 84;
const ITEM_HEADER_BYTES = 16;

/** A parsed CSA header: element name to its values (text, trimmed; empty items kept as ""). */
export type CsaHeader = Map<string, string[]>;

const latin1 = new TextDecoder("latin1");

/** Text up to the first NUL, trimmed. */
function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return latin1.decode(end < 0 ? bytes : bytes.subarray(0, end)).trim();
}

/**
 * Parse a CSA header. Throws `NotConvertible` with the reason when it is not one or is corrupt
 * (a count out of range, a length past the end): nothing half-read is returned.
 */
export function parseCsa(bytes: Uint8Array): CsaHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sv10 = bytes.length >= 4 && latin1.decode(bytes.subarray(0, 4)) === "SV10";
  let pos = sv10 ? 8 : 0;
  const need = (n: number, what: string) => {
    if (n < 0 || pos + n > bytes.length) {
      throw new NotConvertible(`CSA header is corrupt: ${what} runs past its ${bytes.length} bytes`);
    }
  };
  need(8, "the tag count");
  const nTags = view.getUint32(pos, true);
  const check = view.getUint32(pos + 4, true);
  pos += 8;
  if (nTags < 1 || nTags > MAX_TAGS) throw new NotConvertible(`CSA header is corrupt: ${nTags} tags`);
  if (check !== 77) throw new NotConvertible(`CSA header is corrupt: check word ${check}, 77 expected`);
  const out: CsaHeader = new Map();
  let firstItems = 0;
  for (let t = 0; t < nTags; t++) {
    need(TAG_BYTES, `tag ${t + 1}`);
    const name = cString(bytes.subarray(pos, pos + 64));
    const vm = view.getInt32(pos + 64, true);
    const nItems = view.getInt32(pos + 76, true);
    const tail = view.getInt32(pos + 80, true);
    pos += TAG_BYTES;
    if (tail !== 77 && tail !== 205) {
      throw new NotConvertible(`CSA header is corrupt: tag ${t + 1} (${name}) check word ${tail}`);
    }
    if (nItems < 0 || nItems > MAX_ITEMS) {
      throw new NotConvertible(`CSA header is corrupt: tag ${name} has ${nItems} items`);
    }
    if (t === 0) firstItems = nItems;
    const values: string[] = [];
    const keep = vm > 0 ? vm : nItems;
    for (let i = 0; i < nItems; i++) {
      need(ITEM_HEADER_BYTES, `item ${i + 1} of ${name}`);
      const len = sv10 ? view.getInt32(pos + 4, true) : view.getInt32(pos, true) - firstItems;
      pos += ITEM_HEADER_BYTES;
      need(len, `item ${i + 1} of ${name} (${len} bytes)`);
      if (i < keep) values.push(cString(bytes.subarray(pos, pos + len)));
      pos += Math.ceil(len / 4) * 4;
    }
    while (values.length && values[values.length - 1] === "") values.pop();
    if (name) out.set(name, values);
  }
  return out;
}

/** The value bytes of a private element (gggg,xxee) whose block belongs to `creator`, if any. */
export function privateValue(
  ds: DataSet,
  group: number,
  creator: string,
  element: number,
): Uint8Array | undefined {
  for (const el of ds.elements) {
    if (el.tag >>> 16 !== group || (el.tag & 0xff) !== element || (el.tag & 0xff00) < 0x1000) continue;
    if (privateCreatorOf(ds, el.tag) === creator) return valueBytes(el);
  }
  return undefined;
}

/**
 * The CSA Image Header Info (0029,xx10) of a data set, parsed; undefined when there is none.
 * Throws `NotConvertible` when it is there but corrupt.
 */
export function csaImageHeader(ds: DataSet): CsaHeader | undefined {
  const bytes = privateValue(ds, 0x0029, CSA_CREATOR, 0x10);
  return bytes && bytes.length ? parseCsa(bytes) : undefined;
}

/** The CSA Series Header Info (0029,xx20), parsed; undefined when there is none. */
export function csaSeriesHeader(ds: DataSet): CsaHeader | undefined {
  const bytes = privateValue(ds, 0x0029, CSA_CREATOR, 0x20);
  return bytes && bytes.length ? parseCsa(bytes) : undefined;
}

/** The numbers of a CSA element ([] when absent or any value is not a number). */
export function csaNumbers(csa: CsaHeader | undefined, name: string): number[] {
  const v = csa?.get(name) ?? [];
  const out = v.map((s) => (s === "" ? NaN : Number(s)));
  return out.every(Number.isFinite) ? out : [];
}
