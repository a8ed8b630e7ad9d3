/**
 * The Image Pixel module of a data set (PS3.3 C.7.6.3) as one record: size, samples, bits,
 * signedness, photometric interpretation, planar configuration and frames. Values the standard
 * does not allow raise a `PixelError` that names them.
 *
 * @module
 */
import type { DataSet, Element } from "../dicom/model.ts";
import { decodeNumbers, decodeStrings } from "../dicom/values.ts";
import { tags } from "../standard/tags.ts";
import { PixelError } from "./errors.ts";

/** The layout of a data set's pixels. */
export interface PixelFormat {
  readonly rows: number;
  readonly columns: number;
  readonly samplesPerPixel: 1 | 3;
  readonly bitsAllocated: 1 | 8 | 16 | 32;
  readonly bitsStored: number;
  readonly highBit: number;
  readonly signed: boolean;
  readonly photometric: string;
  /** 1: all reds, then all greens, then all blues (for each frame). */
  readonly planar: 0 | 1;
  readonly frames: number;
}

function element(ds: DataSet, tag: number): Element | undefined {
  return ds.elements.find((e) => e.tag === tag);
}

/** The first number of an element (binary or IS), undefined when absent or unreadable. */
export function firstNumber(ds: DataSet, tag: number): number | undefined {
  const el = element(ds, tag);
  if (!el || el.items) return undefined;
  if (el.vr === "IS" || el.vr === "DS") {
    const text = decodeStrings(el, ds)[0];
    const n = text === undefined || text === "" ? NaN : Number(text);
    return Number.isFinite(n) ? n : undefined;
  }
  const v = decodeNumbers(el, ds)[0];
  return v === undefined ? undefined : Number(v);
}

/** The first text value of an element, undefined when absent or empty. */
export function firstString(ds: DataSet, tag: number): string | undefined {
  const el = element(ds, tag);
  if (!el || el.items) return undefined;
  const v = decodeStrings(el, ds)[0];
  return v ? v : undefined;
}

/** Read the Image Pixel module; throws `PixelError` for values the standard does not allow. */
export function readPixelFormat(ds: DataSet): PixelFormat {
  const rows = firstNumber(ds, tags.Rows);
  const columns = firstNumber(ds, tags.Columns);
  if (!rows || !columns) throw new PixelError("no Rows/Columns: not an image");
  const spp = firstNumber(ds, tags.SamplesPerPixel) ?? 1;
  if (spp !== 1 && spp !== 3) throw new PixelError(`Samples per Pixel ${spp} is not 1 or 3`);
  const photometric = firstString(ds, tags.PhotometricInterpretation) ?? (spp === 1 ? "MONOCHROME2" : "");
  const ba = firstNumber(ds, tags.BitsAllocated);
  if (ba !== 1 && ba !== 8 && ba !== 16 && ba !== 32) {
    throw new PixelError(`Bits Allocated ${ba ?? "missing"} is not 1, 8, 16 or 32`);
  }
  const bs = firstNumber(ds, tags.BitsStored) ?? ba;
  const hb = firstNumber(ds, tags.HighBit) ?? bs - 1;
  if (bs < 1 || bs > ba || hb < bs - 1 || hb >= ba) {
    throw new PixelError(`Bits Stored ${bs} / High Bit ${hb} do not fit Bits Allocated ${ba}`);
  }
  const frames = firstNumber(ds, tags.NumberOfFrames) ?? 1;
  if (!Number.isInteger(frames) || frames < 1) throw new PixelError(`Number of Frames ${frames} is invalid`);
  return {
    rows,
    columns,
    samplesPerPixel: spp,
    bitsAllocated: ba,
    bitsStored: bs,
    highBit: hb,
    signed: firstNumber(ds, tags.PixelRepresentation) === 1 && spp === 1,
    photometric,
    planar: spp === 3 && firstNumber(ds, tags.PlanarConfiguration) === 1 ? 1 : 0,
    frames,
  };
}

/**
 * Bytes of one native frame (not for Bits Allocated 1, whose frames share bytes). Native
 * YBR_FULL_422 stores two pixels in four samples (Y Y Cb Cr).
 */
export function frameBytes(fmt: PixelFormat): number {
  const perRow = fmt.photometric === "YBR_FULL_422" && fmt.samplesPerPixel === 3
    ? Math.ceil(fmt.columns / 2) * 4
    : fmt.columns * fmt.samplesPerPixel;
  return fmt.rows * perRow * (fmt.bitsAllocated / 8);
}
