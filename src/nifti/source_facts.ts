/**
 * The few numbers the converter needs from private elements that de-identification removes: the
 * Siemens CSA header of a mosaic, the Philips private scale slope. A run reads them from the
 * source data set before de-identifying it (`sourceFacts`), then hands them to `convertSeries`
 * with the de-identified data set; only these numbers reach the output.
 *
 * @module
 */
import type { DataSet } from "../dicom/model.ts";
import { tags } from "../standard/tags.ts";
import { string, strings } from "./attrs.ts";
import { csaImageHeader, csaNumbers, privateValue } from "./csa.ts";
import { NotConvertible } from "./errors.ts";

/** What a Siemens mosaic's CSA header says about its slices. */
export interface MosaicFacts {
  /** NumberOfImagesInMosaic: the slices in the grid. */
  readonly images: number;
  /** SliceNormalVector: its sign against the image plane's normal orders the slices. */
  readonly normal?: [number, number, number];
  /** MosaicRefAcqTimes (ms), one per slice in mosaic order. */
  readonly sliceTimes?: number[];
}

/** Philips' private MR Scale Slope, for its "precise" (floating point) values. */
export interface PhilipsFacts {
  /** (2005,xx0E) of "Philips MR Imaging DD 001", non-zero. */
  readonly scaleSlope: number;
}

/** Numbers from the source data set that de-identification would take away. */
export interface SourceFacts {
  /** A mosaic (ImageType MOSAIC) with a readable CSA header. */
  readonly mosaic?: MosaicFacts;
  /** Why a mosaic's CSA header cannot be used (then `mosaic` is absent). */
  readonly mosaicProblem?: string;
  readonly philips?: PhilipsFacts;
}

/** The private creator of the Philips block that holds MR Scale Slope. */
export const PHILIPS_CREATOR = "Philips MR Imaging DD 001";

/** Whether ImageType says MOSAIC. */
export function isMosaic(ds: DataSet): boolean {
  return strings(ds, tags.ImageType).some((t) => t.toUpperCase() === "MOSAIC");
}

/**
 * Read the facts from a data set that still has its private elements (before de-identification).
 * Never throws for a property of the data: a corrupt CSA header becomes `mosaicProblem`.
 */
export function sourceFacts(ds: DataSet): SourceFacts {
  const out: { mosaic?: MosaicFacts; mosaicProblem?: string; philips?: PhilipsFacts } = {};
  if (isMosaic(ds)) {
    try {
      const m = mosaicFacts(ds);
      if (typeof m === "string") out.mosaicProblem = m;
      else out.mosaic = m;
    } catch (e) {
      if (!(e instanceof NotConvertible)) throw e;
      out.mosaicProblem = e.message;
    }
  }
  const ss = philipsScaleSlope(ds);
  if (ss !== undefined) out.philips = { scaleSlope: ss };
  return out;
}

function mosaicFacts(ds: DataSet): MosaicFacts | string {
  const csa = csaImageHeader(ds);
  if (!csa) return "no CSA Image Header Info (0029,xx10) of SIEMENS CSA HEADER";
  const images = csaNumbers(csa, "NumberOfImagesInMosaic")[0];
  if (images === undefined || !Number.isInteger(images) || images < 1) {
    return "the CSA header has no valid NumberOfImagesInMosaic";
  }
  const n = csaNumbers(csa, "SliceNormalVector");
  const times = csaNumbers(csa, "MosaicRefAcqTimes");
  return {
    images,
    normal: n.length === 3 && n.some((v) => v !== 0) ? [n[0], n[1], n[2]] : undefined,
    sliceTimes: times.length >= images ? times.slice(0, images) : undefined,
  };
}

/** MR Scale Slope of a Philips image (as dcm2niix: 4 bytes FL, Manufacturer Philips), if non-zero. */
function philipsScaleSlope(ds: DataSet): number | undefined {
  if (!/philips/i.test(string(ds, tags.Manufacturer) ?? "")) return undefined;
  const bytes = privateValue(ds, 0x2005, PHILIPS_CREATOR, 0x0e);
  if (!bytes || bytes.length !== 4) return undefined;
  const v = new DataView(bytes.buffer, bytes.byteOffset, 4).getFloat32(0, ds.encoding.littleEndian);
  return Number.isFinite(v) && v !== 0 ? v : undefined;
}
