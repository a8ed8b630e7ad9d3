/**
 * PHI values of a source in an output's raw bytes: the preamble, the file meta group and every
 * element but top-level Pixel Data, read in overlapping chunks.
 */
import { DEFAULT_WHOLE_FILE_LIMIT } from "../dicom/read_plan.ts";
import { readAt } from "../dicom/file_io.ts";
import { BULK_TAGS, type DataSet, type DicomFile, isPrivateTag } from "../dicom/model.ts";
import { formatTag, lookupTag } from "../standard/dictionary.ts";
import type { PhiValue } from "./phi.ts";
import { findToken, type Needle, needleOf } from "./_tokens.ts";

const latin1 = new TextDecoder("latin1");
const utf8Text = new TextDecoder("utf-8");
const utf8 = new TextEncoder();

/** Where a PHI value was found in an output's bytes. */
export interface ByteHit {
  readonly phi: PhiValue;
  /** Offset in the file, or in the inflated data set of a deflated file. */
  readonly offset: number;
  /** Preamble, file meta group, the element it lies in, or "inflated data set at ...". */
  readonly where: string;
  /** The rule it matched by (`_tokens.ts`). */
  readonly rule: string;
}

/** A match in the bytes: where, how many bytes, by which rule. */
interface Found {
  readonly offset: number;
  readonly length: number;
  readonly rule: string;
}

const CHUNK = 1024 * 1024;

/** Describe a data set offset: the innermost element whose bytes hold it. */
function elementAt(ds: DataSet, offset: number, prefix = ""): string | undefined {
  for (const el of ds.elements) {
    const s = el.span;
    if (!s || offset < s.start || offset >= s.end) continue;
    const name = `${prefix}${
      isPrivateTag(el.tag) ? formatTag(el.tag) : lookupTag(el.tag)?.keyword ?? formatTag(el.tag)
    }`;
    for (const [i, item] of (el.items ?? []).entries()) {
      const inner = elementAt(item.dataset, offset, `${name}[${i}].`);
      if (inner) return inner;
    }
    return name;
  }
  return undefined;
}

/**
 * Search a buffer (already in memory) for the needles not found yet, by the token rules, in its
 * text read as Latin-1 (one character per byte) and, for values beyond ASCII, as UTF-8.
 */
function searchBuffer(
  bytes: Uint8Array,
  base: number,
  todo: readonly Needle[],
  found: Map<PhiValue, Found>,
  /** Bytes before this index are context (the end of the previous chunk). */
  from = 0,
  /** Whether more bytes follow: then a match that ends with the buffer is left to the next chunk. */
  more = false,
): void {
  const hay = latin1.decode(bytes);
  const lower = hay.toLowerCase();
  let hayUtf8: string | undefined;
  let lowerUtf8: string | undefined;
  for (const n of todo) {
    if (found.has(n.phi)) continue;
    const hit = findToken(n, hay, from, lower);
    if (hit && !(more && hit.index + hit.text.length >= hay.length)) {
      found.set(n.phi, { offset: base + hit.index, length: hit.text.length, rule: hit.rule });
      continue;
    }
    if (![...n.phi.value].some((c) => c.charCodeAt(0) > 0x7f)) continue; // ASCII: read the same
    hayUtf8 ??= utf8Text.decode(bytes);
    lowerUtf8 ??= hayUtf8.toLowerCase();
    const u = findToken(n, hayUtf8, from, lowerUtf8); // context: at most `from` characters
    if (!u || (more && u.index + u.text.length >= hayUtf8.length)) continue;
    // The matched text's own bytes give its offset.
    const at = hay.indexOf(latin1.decode(utf8.encode(u.text)));
    found.set(n.phi, { offset: base + Math.max(0, at), length: utf8.encode(u.text).length, rule: u.rule });
  }
}

/**
 * Look for PHI values in an output's raw bytes by the token rules of `_tokens.ts` (any case): the
 * preamble, the file meta group and every element, read as Latin-1 and as UTF-8. Top-level Pixel Data is skipped:
 * it holds image samples, where a short name matches by chance; burned-in text is a matter for
 * `burned_in`. A deflated data set is searched inflated. Files are read in chunks that overlap.
 */
export async function findInBytes(
  path: string,
  file: DicomFile,
  phi: readonly PhiValue[],
): Promise<ByteHit[]> {
  if (phi.length === 0) return [];
  const todo = phi.map(needleOf).filter((n) => n !== undefined);
  if (todo.length === 0) return [];
  // Overlap of chunks: the longest value in UTF-8, and room for separators of a name.
  const longest = Math.max(...todo.map((n) => 2 * utf8.encode(n.phi.value).length + 16));
  const found = new Map<PhiValue, Found>();
  const ranges: [number, number][] = [];
  let inflated: Uint8Array | undefined;
  if (file.transferSyntax.deflated) {
    ranges.push([0, file.datasetOffset]);
    inflated = file.dataset.elements.find((e) => e.span)?.span?.src;
  } else {
    const skip = file.dataset.elements.filter((e) => BULK_TAGS.has(e.tag)).map((e): [number, number] =>
      e.external
        ? [e.external.offset, e.external.offset + e.external.length]
        : e.span
        ? [e.span.valueStart, e.span.end]
        : [0, 0]
    ).filter(([a, b]) => b > a).sort((a, b) => a[0] - b[0]);
    let at = 0;
    for (const [a, b] of skip) {
      if (a > at) ranges.push([at, a]);
      at = Math.max(at, b);
    }
    ranges.push([at, file.size]);
  }
  const f = await Deno.open(path, { read: true });
  try {
    for (const [start, end] of ranges) {
      for (let pos = start; pos < end; pos += CHUNK) {
        const n = Math.min(end, pos + CHUNK + longest - 1) - pos;
        const back = Math.min(8, pos - start); // what precedes the chunk decides a token's start
        const last = pos + n >= end;
        searchBuffer(await readAt(f, pos - back, n + back), pos - back, todo, found, back, !last);
        if (found.size === todo.length) break;
      }
    }
  } finally {
    f.close();
  }
  const fileHits = new Map(found);
  if (inflated) {
    const rest = todo.filter((n) => !found.has(n.phi));
    searchBuffer(inflated, 0, rest, found);
  }
  // Offsets name their element only when every span points into one buffer of the whole file.
  const whole = !file.transferSyntax.deflated && file.size <= DEFAULT_WHOLE_FILE_LIMIT;
  // A surname found inside the whole name, at the same place, is the same finding.
  const within = (p: PhiValue, offset: number) =>
    [...found].some(([o, at]) =>
      o !== p && o.value.length > p.value.length && o.value.toLowerCase().includes(p.value.toLowerCase()) &&
      offset >= at.offset && offset < at.offset + at.length
    );
  return [...found].filter(([p, f]) => !within(p, f.offset)).map(([p, { offset, rule }]) => {
    let where: string;
    if (!fileHits.has(p)) where = `inflated data set, ${elementAt(file.dataset, offset) ?? `byte ${offset}`}`;
    else if (file.preamble && offset < 128) where = "preamble";
    else if (offset < file.datasetOffset) where = "file meta group";
    else where = (whole ? elementAt(file.dataset, offset) : undefined) ?? `byte ${offset}`;
    return { phi: p, offset, where, rule };
  });
}
