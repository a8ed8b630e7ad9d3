/**
 * The stored bytes of each frame of a file's Pixel Data, one frame at a time: native frames as
 * little-endian bytes, encapsulated frames as their codestream. Pixel Data the reader left in the
 * source file is read from there by range, so a 1 GB multi-frame file never sits in memory whole.
 *
 * @module
 */
import type { DicomFile, Element } from "../dicom/model.ts";
import { valueBytes } from "../dicom/values.ts";
import { tags } from "../standard/tags.ts";
import { concatBytes, swapBytes } from "../util/bytes.ts";
import { PixelError } from "./errors.ts";
import { frameBytes, type PixelFormat, readPixelFormat } from "./format.ts";
import { type Fragment, groupFrames, listFragments, type ReadAt } from "./fragments.ts";
import { type Coding, syntaxInfo, syntaxLabel } from "./syntaxes.ts";

/** A file's frames as stored. Close it when done (it may hold the source file open). */
export interface PixelSource {
  readonly fmt: PixelFormat;
  /** The transfer syntax of the stored frames. */
  readonly syntax: string;
  readonly coding: Coding;
  /** Bytes of the Pixel Data value as stored (for compression ratios). */
  readonly storedBytes: number;
  /** Frame `i` (0-based): native little-endian bytes, or the frame's codestream. */
  frame(i: number): Uint8Array;
  close(): void;
}

function pixelElement(file: DicomFile): Element {
  const el = file.dataset.elements.find((e) => e.tag === tags.PixelData);
  if (el) return el;
  const float = file.dataset.elements.some((e) =>
    e.tag === tags.FloatPixelData || e.tag === tags.DoubleFloatPixelData
  );
  throw new PixelError(float ? "Float Pixel Data is not decoded" : "no Pixel Data");
}

/** A range reader over the value: in memory, or from the source file. */
function rangeReader(file: DicomFile, el: Element): { read: ReadAt; total: number; close(): void } {
  const inMemory = valueBytes(el);
  if (inMemory) return { read: (o, n) => inMemory.subarray(o, o + n), total: inMemory.length, close() {} };
  if (!el.external || el.external.length < 0 || !file.path) {
    throw new PixelError("Pixel Data is not available (header-only read)");
  }
  const { offset, length } = el.external;
  const f = Deno.openSync(file.path, { read: true });
  return {
    total: length,
    read(o, n) {
      const buf = new Uint8Array(Math.max(0, Math.min(n, length - o)));
      f.seekSync(offset + o, Deno.SeekMode.Start);
      let got = 0;
      while (got < buf.length) {
        const r = f.readSync(buf.subarray(got));
        if (r === null) throw new PixelError("Pixel Data is truncated in the file (it changed while read?)");
        got += r;
      }
      return buf;
    },
    close: () => f.close(),
  };
}

/**
 * Open a file's frames. Native data: each frame's bytes, little endian (big-endian files are
 * swapped; Bits Allocated 1 gives all frames' packed bits as frame 0). Encapsulated data: each
 * frame's codestream, its fragments joined. Throws `PixelError` with the reason.
 */
export function openPixelSource(
  file: DicomFile,
  fmt: PixelFormat = readPixelFormat(file.dataset),
): PixelSource {
  const el = pixelElement(file);
  const ts = file.transferSyntax;
  const info = syntaxInfo(ts.uid);
  const coding: Coding = ts.encapsulated || el.encapsulated ? info?.coding ?? "native" : "native";
  if ((ts.encapsulated || el.encapsulated) && (!info || coding === "native")) {
    throw new PixelError(`transfer syntax ${syntaxLabel(ts.uid)} has no decoder here`);
  }
  if (coding === "video") {
    throw new PixelError(`transfer syntax ${syntaxLabel(ts.uid)} is video: dcmtidy does not decode video`);
  }
  const r = rangeReader(file, el);
  const base = { fmt, syntax: ts.uid, coding, storedBytes: r.total, close: r.close };
  if (coding === "native") {
    if (fmt.bitsAllocated === 1) {
      const need = Math.ceil((fmt.rows * fmt.columns * fmt.frames) / 8);
      if (r.total < need) throw new PixelError(`Pixel Data holds ${r.total} bytes, ${need} needed`);
      return { ...base, frame: () => r.read(0, need) };
    }
    const size = frameBytes(fmt);
    if (r.total < size * fmt.frames) {
      r.close();
      throw new PixelError(
        `Pixel Data holds ${r.total} bytes, ${size * fmt.frames} needed for ${fmt.frames} frame(s)`,
      );
    }
    const swap = !ts.littleEndian && (fmt.bitsAllocated > 8 || el.vr === "OW");
    return {
      ...base,
      frame(i) {
        if (!swap) return r.read(i * size, size);
        // 8-bit samples in an OW value were swapped word by word with the rest of big-endian data:
        // read whole words (a frame may start or end inside one, and the value's pad byte ends the last).
        const width = fmt.bitsAllocated === 32 ? 4 : 2;
        const start = i * size - ((i * size) % width);
        const end = Math.min(r.total, Math.ceil((i * size + size) / width) * width);
        const words = swapBytes(r.read(start, end - start), width);
        return words.subarray(i * size - start, i * size - start + size);
      },
    };
  }
  let frames: Fragment[][];
  try {
    const { offsets, fragments } = listFragments(r.read, r.total);
    const extended = extendedOffsets(file);
    frames = groupFrames(extended ?? offsets, fragments, fmt.frames, coding, r.read);
  } catch (e) {
    r.close();
    throw e;
  }
  return { ...base, frame: (i) => concatBytes(frames[i].map((f) => r.read(f.offset, f.length))) };
}

/** The Extended Offset Table (7FE0,0001), when present and readable. */
function extendedOffsets(file: DicomFile): number[] | undefined {
  const el = file.dataset.elements.find((e) => e.tag === tags.ExtendedOffsetTable);
  const bytes = el ? valueBytes(el) : undefined;
  if (!bytes || bytes.length % 8) return undefined;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i += 8) out.push(Number(v.getBigUint64(i, true)));
  return out;
}
