/**
 * The NIfTI-1 single-file format (.nii): a 348-byte little-endian header, a 4-byte extension flag
 * (no extensions), then the voxels at offset 352, x fastest.
 */
import { type Mat4, qformOf } from "./geometry.ts";

/** NIfTI-1 datatype codes used here. */
export const DT = {
  UINT8: 2,
  INT16: 4,
  INT32: 8,
  FLOAT32: 16,
  RGB24: 128,
  INT8: 256,
  UINT16: 512,
  UINT32: 768,
} as const;

/** A NIfTI-1 datatype code. */
export type Datatype = typeof DT[keyof typeof DT];

/** Bits per voxel of each datatype. */
export const BITPIX: Readonly<Record<Datatype, number>> = {
  [DT.UINT8]: 8,
  [DT.INT16]: 16,
  [DT.INT32]: 32,
  [DT.FLOAT32]: 32,
  [DT.RGB24]: 24,
  [DT.INT8]: 8,
  [DT.UINT16]: 16,
  [DT.UINT32]: 32,
};

/** Everything the header says. */
export interface NiftiImage {
  /** Sizes of x, y, z and (4D) t. */
  readonly dims: readonly number[];
  readonly datatype: Datatype;
  /** Voxel sizes in mm (x, y, z), and the time step in seconds for 4D. */
  readonly pixdim: readonly number[];
  readonly sclSlope: number;
  readonly sclInter: number;
  /** RAS affine (scanner coordinates); undefined when the data carry no patient geometry. */
  readonly affine?: Mat4;
  /** At most 79 ASCII characters; never anything that identifies. */
  readonly descrip: string;
  /** Voxel bytes, little endian, x fastest. */
  readonly data: Uint8Array;
}

/** Size of the header plus the extension flag: where the voxels start. */
export const VOX_OFFSET = 352;
const NIFTI_UNITS_MM = 2;
const NIFTI_UNITS_SEC = 8;
const NIFTI_XFORM_SCANNER_ANAT = 1;

/** Encode a single-file NIfTI-1 image. */
export function encodeNifti1(img: NiftiImage): Uint8Array {
  const expected = img.dims.reduce((a, b) => a * b, 1) * BITPIX[img.datatype] / 8;
  if (img.data.length !== expected) {
    throw new Error(
      `NIfTI data has ${img.data.length} bytes, ${expected} expected for ${img.dims.join("x")}`,
    );
  }
  if (img.dims.length < 1 || img.dims.length > 7 || img.dims.some((d) => d < 1 || d > 32767)) {
    throw new Error(`NIfTI-1 cannot hold dimensions ${img.dims.join("x")}`);
  }
  const out = new Uint8Array(VOX_OFFSET + img.data.length);
  const v = new DataView(out.buffer);
  const le = true;
  v.setInt32(0, 348, le); // sizeof_hdr
  out[38] = 0x72; // regular = 'r'
  v.setInt16(40, img.dims.length, le);
  img.dims.forEach((d, i) => v.setInt16(42 + 2 * i, d, le));
  for (let i = img.dims.length; i < 7; i++) v.setInt16(42 + 2 * i, 1, le);
  v.setInt16(70, img.datatype, le);
  v.setInt16(72, BITPIX[img.datatype], le);
  const q = img.affine ? qformOf(img.affine) : undefined;
  v.setFloat32(76, q?.qfac ?? 1, le); // pixdim[0] = qfac
  for (let i = 0; i < 7; i++) v.setFloat32(80 + 4 * i, img.pixdim[i] ?? 1, le);
  v.setFloat32(108, VOX_OFFSET, le);
  v.setFloat32(112, img.sclSlope, le);
  v.setFloat32(116, img.sclInter, le);
  out[123] = NIFTI_UNITS_MM | NIFTI_UNITS_SEC; // xyzt_units
  const descrip = img.descrip.replace(/[^\x20-\x7e]/g, "?").slice(0, 79);
  for (let i = 0; i < descrip.length; i++) out[148 + i] = descrip.charCodeAt(i);
  if (img.affine && q) {
    v.setInt16(252, NIFTI_XFORM_SCANNER_ANAT, le); // qform_code
    v.setInt16(254, NIFTI_XFORM_SCANNER_ANAT, le); // sform_code
    v.setFloat32(256, q.b, le);
    v.setFloat32(260, q.c, le);
    v.setFloat32(264, q.d, le);
    q.offset.forEach((o, i) => v.setFloat32(268 + 4 * i, o, le));
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 4; c++) v.setFloat32(280 + 16 * r + 4 * c, img.affine[r][c], le);
    }
  } else {
    // No scanner geometry: codes stay 0 (unknown), and the sform rows hold the plain voxel grid.
    for (let r = 0; r < 3; r++) v.setFloat32(280 + 16 * r + 4 * r, img.pixdim[r] ?? 1, le);
  }
  out.set([0x6e, 0x2b, 0x31, 0x00], 344); // magic "n+1\0"
  // Bytes 348-351: the extension flag, all zero: no extensions.
  out.set(img.data, VOX_OFFSET);
  return out;
}

/** A parsed NIfTI-1 header (for tests and for checking what we wrote). */
export interface NiftiHeader {
  readonly dims: number[];
  readonly datatype: number;
  readonly bitpix: number;
  readonly pixdim: number[];
  readonly voxOffset: number;
  readonly sclSlope: number;
  readonly sclInter: number;
  readonly xyztUnits: number;
  readonly qformCode: number;
  readonly sformCode: number;
  readonly quatern: [number, number, number];
  readonly qoffset: [number, number, number];
  /** srow_x, srow_y, srow_z, then 0 0 0 1. */
  readonly sform: Mat4;
  readonly descrip: string;
  readonly magic: string;
}

/** Parse a NIfTI-1 header (little or big endian). */
export function parseNifti1Header(bytes: Uint8Array): NiftiHeader {
  if (bytes.length < 348) throw new Error("shorter than a NIfTI-1 header");
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let le = true;
  if (v.getInt32(0, true) !== 348) {
    if (v.getInt32(0, false) !== 348) throw new Error("not a NIfTI-1 header (sizeof_hdr is not 348)");
    le = false;
  }
  const n = v.getInt16(40, le);
  const dims = Array.from({ length: n }, (_, i) => v.getInt16(42 + 2 * i, le));
  const pixdim = Array.from({ length: 8 }, (_, i) => v.getFloat32(76 + 4 * i, le));
  const row = (at: number) => [0, 1, 2, 3].map((c) => v.getFloat32(at + 4 * c, le));
  const text = (at: number, len: number) =>
    String.fromCharCode(...bytes.subarray(at, at + len)).replace(/\0.*$/s, "");
  return {
    dims,
    datatype: v.getInt16(70, le),
    bitpix: v.getInt16(72, le),
    pixdim,
    voxOffset: v.getFloat32(108, le),
    sclSlope: v.getFloat32(112, le),
    sclInter: v.getFloat32(116, le),
    xyztUnits: bytes[123],
    qformCode: v.getInt16(252, le),
    sformCode: v.getInt16(254, le),
    quatern: [v.getFloat32(256, le), v.getFloat32(260, le), v.getFloat32(264, le)],
    qoffset: [v.getFloat32(268, le), v.getFloat32(272, le), v.getFloat32(276, le)],
    sform: [row(280), row(296), row(312), [0, 0, 0, 1]],
    descrip: text(148, 80),
    magic: text(344, 4),
  };
}

/**
 * The voxel values of a NIfTI-1 image in file order, without scaling. RGB24 voxels become
 * `r << 16 | g << 8 | b`, so a voxel is one number whatever the datatype.
 */
export function voxelValues(bytes: Uint8Array, h: NiftiHeader): Float64Array {
  const count = h.dims.reduce((a, b) => a * b, 1);
  const le = new DataView(bytes.buffer, bytes.byteOffset, 4).getInt32(0, true) === 348;
  const at = Math.round(h.voxOffset);
  const size = h.bitpix / 8;
  if (bytes.length < at + count * size) throw new Error("NIfTI voxel data is truncated");
  const v = new DataView(bytes.buffer, bytes.byteOffset + at, count * size);
  const out = new Float64Array(count);
  const read: Record<number, (o: number) => number> = {
    [DT.UINT8]: (o) => v.getUint8(o),
    [DT.INT8]: (o) => v.getInt8(o),
    [DT.INT16]: (o) => v.getInt16(o, le),
    [DT.UINT16]: (o) => v.getUint16(o, le),
    [DT.INT32]: (o) => v.getInt32(o, le),
    [DT.UINT32]: (o) => v.getUint32(o, le),
    [DT.FLOAT32]: (o) => v.getFloat32(o, le),
    64: (o) => v.getFloat64(o, le),
    [DT.RGB24]: (o) => (v.getUint8(o) << 16) | (v.getUint8(o + 1) << 8) | v.getUint8(o + 2),
  };
  const get = read[h.datatype];
  if (!get) throw new Error(`NIfTI datatype ${h.datatype} is not read here`);
  for (let i = 0; i < count; i++) out[i] = get(i * size);
  return out;
}
