/**
 * `burned_in: blank`: an output whose source a pixel rule matches has every region (minus the
 * kept ultrasound regions) uniformly black in every frame, every other pixel equal to the source's
 * decoded pixel, BurnedInAnnotation NO and 113101 among its method codes; a suspect no rule
 * matches was not written at all.
 *
 * @module
 */
import type { DicomFile } from "../dicom/model.ts";
import { readDicomFile } from "../dicom/read_file.ts";
import { blackSamples, type Rect } from "../pixels/blank.ts";
import { decodeFrame, prepareDecoder } from "../pixels/decode.ts";
import { PixelError } from "../pixels/errors.ts";
import { type PixelFormat, readPixelFormat } from "../pixels/format.ts";
import { openPixelSource, type PixelSource } from "../pixels/source.ts";
import { boxesOutside, coveredShare, textBoxes } from "../pixels/detect.ts";
import type { SourceRead } from "./_source.ts";
import { top } from "./_context.ts";
import type { FindingKind } from "./findings.ts";
import type { TextElement } from "./phi.ts";

/** The stored-bit sample values of a decoded frame. */
function samples(bytes: Uint8Array, fmt: PixelFormat): number[] {
  const w = fmt.bitsAllocated / 8;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shift = fmt.highBit + 1 - fmt.bitsStored;
  const mask = fmt.bitsStored >= 32 ? 0xffffffff : 2 ** fmt.bitsStored - 1;
  const out: number[] = [];
  for (let k = 0; k + w <= bytes.length; k += w) {
    const v = w === 1 ? bytes[k] : w === 2 ? view.getUint16(k, true) : view.getUint32(k, true);
    out.push((v >>> shift) & mask);
  }
  return out;
}

const within = (x: number, y: number, rs: readonly Rect[]) =>
  rs.some((r) => x >= r.x && y >= r.y && x < r.x + r.width && y < r.y + r.height);

async function opened(file: DicomFile): Promise<PixelSource> {
  const src = openPixelSource(file, readPixelFormat(file.dataset));
  await prepareDecoder(src);
  return src;
}

/**
 * `pixels_detect: ocr`: search a written burned-in suspect for text; a box outside the regions it
 * was blanked in (or any box, when it was not blanked) is a `phi-pixels` finding. The words are not
 * reported (they may be a name): where the box is.
 */
export async function checkText(
  source: SourceRead,
  output: DicomFile,
  find: (kind: FindingKind, detail: string) => void,
): Promise<void> {
  if (!source.burnedIn && !source.pixels) return;
  let boxes: Rect[];
  try {
    boxes = await textBoxes(output);
  } catch (e) {
    if (!(e instanceof PixelError)) throw e;
    find("unverifiable", `its pixels cannot be searched for text: ${e.message}`);
    return;
  }
  const regions = source.pixels?.regions ?? [];
  // A box mostly inside a blanked region is the edge of the black rectangle read as a glyph, not text.
  const left = regions.length
    ? boxesOutside(boxes, regions).filter((b) => coveredShare(b, regions) < 0.5)
    : boxes;
  for (const b of left) {
    find(
      "phi-pixels",
      `text found in the pixels at [${b.x}, ${b.y}, ${b.width}, ${b.height}] (x, y, width, height)`,
    );
  }
}

/** Check the pixels of one output against its source; problems go to `find` (kind `pixels`). */
export async function checkPixels(
  source: SourceRead,
  output: DicomFile,
  flat: readonly TextElement[],
  find: (kind: FindingKind, detail: string) => void,
): Promise<void> {
  const m = source.pixels;
  if (!m || m.regions.length === 0) {
    if (source.burnedIn) find("pixels", `a burned-in suspect written unblanked (${source.burnedIn})`);
    return;
  }
  if (top(flat, "BurnedInAnnotation") !== "NO") find("pixels", "blanked, but BurnedInAnnotation is not NO");
  const clean = flat.some((e) =>
    /^DeidentificationMethodCodeSequence\[\d+\]\.CodeValue$/.test(e.path) && e.strings.includes("113101")
  );
  if (!clean) find("pixels", "blanked, but 113101 (Clean Pixel Data) is missing from the method codes");
  let src: PixelSource | undefined;
  let out: PixelSource | undefined;
  try {
    src = await opened(await readDicomFile(source.path));
    out = await opened(output);
    const fmt = out.fmt;
    if (src.fmt.frames !== fmt.frames || src.fmt.rows !== fmt.rows || src.fmt.columns !== fmt.columns) {
      find(
        "pixels",
        `${fmt.frames} frame(s) of ${fmt.columns}x${fmt.rows}; the source has ${src.fmt.frames} of ${src.fmt.columns}x${src.fmt.rows}`,
      );
      return;
    }
    for (let f = 0; f < fmt.frames; f++) {
      const a = decodeFrame(out, f);
      const b = decodeFrame(src, f);
      const after = samples(a.bytes, fmt);
      const before = samples(b.bytes, src.fmt);
      const spp = fmt.samplesPerPixel;
      const black = blackSamples({ ...fmt, photometric: a.photometric }, a.photometric, output)
        .map((v) => (v < 0 ? v + 2 ** fmt.bitsStored : v));
      let notBlack = 0, changed = 0;
      for (let y = 0; y < fmt.rows; y++) {
        for (let x = 0; x < fmt.columns; x++) {
          const blanked = within(x, y, m.regions); // kept regions are already out of `regions`
          for (let s = 0; s < spp; s++) {
            const k = (y * fmt.columns + x) * spp + s;
            if (blanked) notBlack += after[k] === black[s] ? 0 : 1;
            else changed += after[k] === before[k] ? 0 : 1;
          }
        }
      }
      if (notBlack) {
        find("pixels", `frame ${f + 1}: ${notBlack} sample(s) inside the blanked regions are not black`);
      }
      if (changed) {
        find("pixels", `frame ${f + 1}: ${changed} sample(s) outside the regions differ from the source`);
      }
    }
  } catch (e) {
    if (!(e instanceof PixelError)) throw e;
    find("unverifiable", `its pixels cannot be compared: ${e.message}`);
  } finally {
    src?.close();
    out?.close();
  }
}
