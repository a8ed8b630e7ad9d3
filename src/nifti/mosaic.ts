/**
 * Siemens mosaics: one image holds a grid of slices. `splitMosaic` turns the mosaic's one frame
 * into one frame per slice (each with its own position, as dcm2niix places them), and
 * `unpackMosaic` cuts the decoded mosaic into those slices.
 *
 * Layout (dcm2niix's nii_demosaic): tiles per row = ceil(sqrt(NumberOfImagesInMosaic)) on both
 * axes; slice k is the tile at row k / tiles, column k % tiles. Position (its nifti_dicom2mat
 * mosaic correction): ImagePositionPatient is the corner of the whole mosaic, so the first
 * slice's corner is IPP + row direction * column spacing * (Columns - tile columns) / 2 + column
 * direction * row spacing * (Rows - tile rows) / 2. Slices follow each other along the image
 * normal, in the direction of the CSA SliceNormalVector (so descending acquisitions keep their
 * order on disk and get a left-handed affine, as dcm2niix writes them).
 *
 * @module
 */
import { dot, type Vec3 } from "./geometry.ts";
import { NotConvertible } from "./errors.ts";
import type { PixelFormat, Samples } from "./pixels.ts";
import type { MosaicFacts } from "./source_facts.ts";
import type { FrameRef } from "./volume.ts";

/** How a mosaic's frame is cut. */
export interface MosaicLayout {
  /** Tiles per row and per column of the grid. */
  readonly tiles: number;
  /** The slices in it (NumberOfImagesInMosaic). */
  readonly images: number;
  /** The format of the mosaic as stored (one frame of Rows x Columns). */
  readonly source: PixelFormat;
}

/** The layout of a mosaic of `images` slices; throws `NotConvertible` when the grid does not fit. */
export function mosaicLayout(fmt: PixelFormat, images: number): MosaicLayout {
  if (fmt.frames !== 1) throw new NotConvertible(`a mosaic with ${fmt.frames} frames (1 expected)`);
  const tiles = Math.ceil(Math.sqrt(images));
  if (tiles < 1 || fmt.rows % tiles !== 0 || fmt.columns % tiles !== 0) {
    throw new NotConvertible(
      `a ${fmt.columns}x${fmt.rows} mosaic does not divide into ${tiles}x${tiles} tiles for ${images} slices`,
    );
  }
  return { tiles, images, source: fmt };
}

/** The format of one slice of a mosaic. */
export function tileFormat(layout: MosaicLayout): PixelFormat {
  const { source, tiles, images } = layout;
  return { ...source, rows: source.rows / tiles, columns: source.columns / tiles, frames: images };
}

/**
 * The frames of a mosaic's slices, from the frame read as if the mosaic were one image: tile
 * format, the corrected position of each slice, frame k = slice k of the mosaic.
 */
export function splitMosaic(ref: FrameRef, facts: MosaicFacts): FrameRef[] {
  const layout = mosaicLayout(ref.fmt, facts.images);
  const fmt = tileFormat(layout);
  const out: FrameRef[] = [];
  const g = ref.geometry;
  let origin: Vec3 | undefined;
  let normal: Vec3 | undefined;
  let step = 0;
  if (g) {
    const [dRow, dCol] = ref.pixelSpacing;
    const x = dCol * (ref.fmt.columns - fmt.columns) / 2;
    const y = dRow * (ref.fmt.rows - fmt.rows) / 2;
    origin = [0, 1, 2].map((a) => g.ipp[a] + g.row[a] * x + g.col[a] * y) as Vec3;
    // The CSA normal's sign orders the slices; the image plane's normal is the exact direction.
    const sign = facts.normal && dot(facts.normal, g.normal) < 0 ? -1 : 1;
    normal = g.normal.map((v) => v * sign) as Vec3;
    step = ref.sliceSpacing ?? ref.sliceThickness ?? 1;
  }
  for (let k = 0; k < facts.images; k++) {
    out.push({
      ...ref,
      frame: k,
      fmt,
      mosaic: layout,
      geometry: g && origin && normal
        ? { ...g, normal, ipp: origin.map((v, a) => v + k * step * normal![a]) as Vec3 }
        : undefined,
    });
  }
  return out;
}

/** Cut a decoded mosaic frame into its slices (samples of a pixel stay together). */
export function unpackMosaic(frame: Samples, layout: MosaicLayout): Samples[] {
  const { source, tiles, images } = layout;
  const spp = frame.length / (source.rows * source.columns); // samples a pixel has once decoded
  const tileRows = source.rows / tiles;
  const tileCols = source.columns / tiles;
  const line = tileCols * spp;
  const out: Samples[] = [];
  for (let k = 0; k < images; k++) {
    const top = Math.floor(k / tiles) * tileRows;
    const left = (k % tiles) * tileCols;
    const slice = new (frame.constructor as { new (n: number): Samples })(tileRows * line);
    for (let r = 0; r < tileRows; r++) {
      const from = ((top + r) * source.columns + left) * spp;
      slice.set(frame.subarray(from, from + line), r * line);
    }
    out.push(slice);
  }
  return out;
}
