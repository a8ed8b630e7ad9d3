/**
 * Blanking regions of every frame with the value that displays black: the lowest value for
 * MONOCHROME2 (the most negative for signed samples), the highest for MONOCHROME1, 0 0 0 for RGB,
 * Y 0 with Cb Cr 128 for YBR_FULL, and the darkest entry of a palette. Frames are decoded, filled
 * and encoded again: uncompressed stays uncompressed, lossless stays lossless (the same transfer
 * syntax when dcmtidy has its encoder, else JPEG-LS lossless), lossy is written JPEG-LS lossless
 * and keeps its lossy history.
 *
 * @module
 */
import type { DicomFile } from "../dicom/model.ts";
import { DEFLATED_LE, EXPLICIT_BE, EXPLICIT_LE } from "../dicom/transfer_syntax.ts";
import { readPalette } from "./color.ts";
import { PixelError } from "./errors.ts";
import type { PixelFormat } from "./format.ts";
import { syntaxInfo } from "./syntaxes.ts";
import { type Transcoded, transcodeSync } from "./transcode.ts";

/** A rectangle in pixels (x to the right, y down), inside the image. */
export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

const JPEG_LS_LOSSLESS = "1.2.840.10008.1.2.4.80";

/**
 * The transfer syntax a blanked file is written in: `output` when the protocol asks for one, else
 * the source's own when dcmtidy writes it, else a lossless one of the same family.
 */
export function blankedSyntax(source: string, output: string | "keep" = "keep"): string {
  if (output !== "keep") return output;
  if (source === DEFLATED_LE || source === EXPLICIT_BE) return EXPLICIT_LE;
  const info = syntaxInfo(source);
  if (info?.alias) return source; // explicit-le, implicit-le, rle-lossless, jpeg-ls-lossless, htj2k-lossless
  // JPEG-LS lossless for the rest: compact, and read by dcmtk, gdcm and most archives (HTJ2K is not yet).
  if (info && info.coding !== "video") return JPEG_LS_LOSSLESS;
  throw new PixelError(`${info?.name ?? source}: frames cannot be blanked`);
}

/** The samples of a pixel that display black, per sample (1 or 3 values). */
export function blackSamples(fmt: PixelFormat, photometric: string, file?: DicomFile): number[] {
  const bs = fmt.bitsStored;
  if (photometric === "RGB") return [0, 0, 0];
  if (photometric === "YBR_FULL" || photometric === "YBR_FULL_422") {
    return [0, 1 << (bs - 1), 1 << (bs - 1)];
  }
  if (photometric === "PALETTE COLOR") {
    if (!file) throw new PixelError("PALETTE COLOR needs its palette to find black");
    const p = readPalette(file.dataset);
    let best = 0;
    for (let i = 1; i < p.red.length; i++) {
      if (p.red[i] + p.green[i] + p.blue[i] < p.red[best] + p.green[best] + p.blue[best]) best = i;
    }
    return [best + p.first];
  }
  const min = fmt.signed ? -(2 ** (bs - 1)) : 0;
  const max = fmt.signed ? 2 ** (bs - 1) - 1 : 2 ** bs - 1;
  if (photometric === "MONOCHROME1") return [max];
  if (photometric === "MONOCHROME2") return [min];
  throw new PixelError(
    `photometric interpretation ${photometric}: the value that displays black is not known`,
  );
}

/**
 * Fill `regions` (minus `keep`) of one decoded frame in place: little-endian samples in the
 * container of Bits Allocated, pixel-interleaved.
 */
export function blankFrame(
  bytes: Uint8Array,
  fmt: PixelFormat,
  black: readonly number[],
  regions: readonly Rect[],
  keep: readonly Rect[] = [],
): void {
  const spp = fmt.samplesPerPixel;
  const width = fmt.bitsAllocated / 8;
  const shift = fmt.highBit + 1 - fmt.bitsStored;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stored = black.map((v) => ((v < 0 ? v + 2 ** fmt.bitsStored : v) << shift) >>> 0);
  const kept = (x: number, y: number) =>
    keep.some((k) => x >= k.x && x < k.x + k.width && y >= k.y && y < k.y + k.height);
  for (const r of regions) {
    const x1 = Math.min(fmt.columns, r.x + r.width), y1 = Math.min(fmt.rows, r.y + r.height);
    for (let y = Math.max(0, r.y); y < y1; y++) {
      for (let x = Math.max(0, r.x); x < x1; x++) {
        if (keep.length && kept(x, y)) continue;
        const p = (y * fmt.columns + x) * spp;
        for (let s = 0; s < spp; s++) {
          const at = (p + s) * width;
          const v = stored[s];
          if (width === 1) bytes[at] = v;
          else if (width === 2) view.setUint16(at, v, true);
          else view.setUint32(at, v, true);
        }
      }
    }
  }
}

/**
 * Prepare `file` to be written with `regions` (minus `keep`) black in every frame, in
 * `blankedSyntax(source, output)`; the frames are decoded, filled and encoded while the file is
 * written (call `close` after writing). The codecs must be loaded (`preparePixelWork`, or `prepareTranscoding` of the
 * target). Throws `PixelError` when the pixels cannot be decoded or blanked.
 */
export function blankSync(
  file: DicomFile,
  regions: readonly Rect[],
  keep: readonly Rect[],
  output: string | "keep" = "keep",
): Transcoded & { close(): void } {
  const to = blankedSyntax(file.transferSyntax.uid, output);
  const palette = file;
  return transcodeSync(file, to, {
    editFrame: (bytes, fmt) =>
      blankFrame(bytes, fmt, blackSamples(fmt, fmt.photometric, palette), regions, keep),
  });
}
