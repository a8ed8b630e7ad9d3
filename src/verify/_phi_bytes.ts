/**
 * PHI values of a source in an output's raw bytes: the preamble, the file meta group and every
 * element but top-level Pixel Data, read in overlapping chunks.
 */
import { DEFAULT_WHOLE_FILE_LIMIT } from "../dicom/read_plan.ts";
import { readAt } from "../dicom/file_io.ts";
import { BULK_TAGS, type DataSet, type DicomFile, isPrivateTag } from "../dicom/model.ts";
import { formatTag, lookupTag } from "../standard/dictionary.ts";
import type { PhiValue } from "./phi.ts";

const latin1 = new TextDecoder("latin1");
const utf8 = new TextEncoder();

/** Where a PHI value was found in an output's bytes. */
export interface ByteHit {
  readonly phi: PhiValue;
  /** Offset in the file, or in the inflated data set of a deflated file. */
  readonly offset: number;
  /** Preamble, file meta group, the element it lies in, or "inflated data set at ...". */
  readonly where: string;
}

const CHUNK = 1024 * 1024;

/** Each value as the lower-cased "latin1" strings its UTF-8 and Latin-1 encodings decode to. */
function needles(phi: readonly PhiValue[]): { phi: PhiValue; text: string[] }[] {
  return phi.map((p) => {
    const forms = new Set([latin1.decode(utf8.encode(p.value)).toLowerCase()]);
    if ([...p.value].every((c) => c.charCodeAt(0) <= 0xff)) {
      forms.add(latin1.decode(Uint8Array.from(p.value, (c) => c.charCodeAt(0))).toLowerCase());
    }
    return { phi: p, text: [...forms] };
  });
}

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

/** Search a buffer (already in memory) for the needles not found yet. */
function searchBuffer(
  bytes: Uint8Array,
  base: number,
  todo: { phi: PhiValue; text: string[] }[],
  found: Map<PhiValue, number>,
): void {
  const hay = latin1.decode(bytes).toLowerCase(); // one char per byte, so indexes are offsets
  for (const n of todo) {
    if (found.has(n.phi)) continue;
    for (const t of n.text) {
      const i = hay.indexOf(t);
      if (i >= 0) {
        found.set(n.phi, base + i);
        break;
      }
    }
  }
}

/**
 * Look for PHI values in an output's raw bytes (ignoring ASCII and Latin-1 case): the preamble,
 * the file meta group and every element, in UTF-8 and Latin-1. Top-level Pixel Data is skipped:
 * it holds image samples, where a short name matches by chance; burned-in text is a matter for
 * `burned_in`. A deflated data set is searched inflated. Files are read in chunks that overlap.
 */
export async function findInBytes(
  path: string,
  file: DicomFile,
  phi: readonly PhiValue[],
): Promise<ByteHit[]> {
  if (phi.length === 0) return [];
  const todo = needles(phi);
  const longest = Math.max(...todo.flatMap((n) => n.text.map((t) => t.length)));
  const found = new Map<PhiValue, number>();
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
        searchBuffer(await readAt(f, pos, n), pos, todo, found);
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
      offset >= at && offset < at + utf8.encode(o.value).length
    );
  return [...found].filter(([p, offset]) => !within(p, offset)).map(([p, offset]) => {
    let where: string;
    if (!fileHits.has(p)) where = `inflated data set, ${elementAt(file.dataset, offset) ?? `byte ${offset}`}`;
    else if (file.preamble && offset < 128) where = "preamble";
    else if (offset < file.datasetOffset) where = "file meta group";
    else where = (whole ? elementAt(file.dataset, offset) : undefined) ?? `byte ${offset}`;
    return { phi: p, offset, where };
  });
}
