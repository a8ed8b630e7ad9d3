/**
 * NIfTI output: DICOM series to gzipped NIfTI-1 volumes and their BIDS-style JSON sidecars.
 * `convertSeries` is the entry point; the rest is what a run, `verify` and the tests use around it.
 *
 * @module
 */

// A series to volumes, and where they go.
export {
  type ConvertedVolume,
  type ConvertOptions,
  convertSeries,
  niftiFamily,
  niftiPaths,
  type SeriesConversion,
} from "./convert.ts";
export { sidecarBytes } from "./sidecar.ts";
// Read from a data set before de-identification: the private numbers conversion needs (CSA, Philips).
export { type MosaicFacts, type PhilipsFacts, type SourceFacts, sourceFacts } from "./source_facts.ts";
export { NotConvertible, NotDeidentifiedError } from "./errors.ts";

// The file format: gzip, the NIfTI-1 header, and the affine it stores.
export { gunzip, gzip } from "./gzip.ts";
export { type NiftiHeader, parseNifti1Header, voxelValues } from "./nifti1.ts";
export { type Mat4, type Qform, qformOf, qformToAffine } from "./geometry.ts";

// Pixel data to samples.
export { type PixelFormat, pixelFormat, readFrames, type Samples } from "./pixels.ts";
