/**
 * Patient geometry: slice normals, ordering along them, spacing from positions, the voxel-to-world
 * affine in DICOM LPS turned into NIfTI RAS, and the qform quaternion of its rotation.
 */

/** A 3-vector. */
export type Vec3 = [number, number, number];
/** A 4x4 matrix, row-major (rows of the NIfTI srow_x, srow_y, srow_z, then 0 0 0 1). */
export type Mat4 = number[][];

export function dot(a: Vec3, b: Vec3): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

export function cross(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

export function sub(a: Vec3, b: Vec3): Vec3 {
  return [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
}

export function norm(a: Vec3): number {
  return Math.hypot(a[0], a[1], a[2]);
}

function scale(a: Vec3, s: number): Vec3 {
  return [a[0] * s, a[1] * s, a[2] * s];
}

/** Direction cosines within this of unit length and of orthogonality are accepted (as written by scanners). */
const COSINE_TOLERANCE = 1e-3;

/** The row and column direction cosines of an ImageOrientationPatient, checked. */
export function orientation(iop: readonly number[]): { row: Vec3; col: Vec3; normal: Vec3 } | string {
  if (iop.length !== 6) return `ImageOrientationPatient has ${iop.length} values, 6 expected`;
  const row: Vec3 = [iop[0], iop[1], iop[2]];
  const col: Vec3 = [iop[3], iop[4], iop[5]];
  if (Math.abs(norm(row) - 1) > COSINE_TOLERANCE || Math.abs(norm(col) - 1) > COSINE_TOLERANCE) {
    return "ImageOrientationPatient direction cosines are not unit vectors";
  }
  if (Math.abs(dot(row, col)) > COSINE_TOLERANCE) {
    return "ImageOrientationPatient row and column directions are not orthogonal";
  }
  const n = cross(row, col);
  return { row, col, normal: scale(n, 1 / norm(n)) };
}

/** Two orientations are the same plane and direction when their cosines agree to this. */
export const SAME_ORIENTATION = 1e-4;

/** A key that puts frames of (nearly) the same orientation together. */
export function orientationKey(iop: readonly number[]): string {
  return iop.map((v) => (Math.round(v / SAME_ORIENTATION) * SAME_ORIENTATION).toFixed(4)).join(",");
}

/** Positions closer than this along the normal are the same slice (repeated: echoes, time points). */
export const SAME_POSITION_MM = 0.01;

/** How a stack of distinct slice positions is spaced, or why it is not a volume. */
export interface Stack {
  /** From the first slice's position to the last's, divided by the gaps: the affine's third column (LPS). */
  readonly sliceVector: Vec3;
  /** Its length: the slice spacing in mm. */
  readonly spacing: number;
}

/**
 * Check that sorted slice positions form a regular stack along `normal`, and give its slice vector.
 * Returns the reason when they do not: irregular gaps, or positions sheared off the normal
 * (gantry tilt), which needs resampling that this converter does not do.
 */
export function stackOf(positions: readonly Vec3[], normal: Vec3): Stack | string {
  const n = positions.length;
  if (n < 2) return { sliceVector: normal, spacing: 0 };
  const d = positions.map((p) => dot(p, normal));
  const gaps = d.slice(1).map((v, i) => v - d[i]);
  const mean = (d[n - 1] - d[0]) / (n - 1);
  const tolerance = Math.max(0.01, 0.01 * Math.abs(mean));
  const worst = Math.max(...gaps.map((g) => Math.abs(g - mean)));
  if (worst > tolerance) {
    const lo = Math.min(...gaps);
    const hi = Math.max(...gaps);
    return `irregular slice spacing: gaps from ${lo.toFixed(3)} to ${hi.toFixed(3)} mm`;
  }
  const total = sub(positions[n - 1], positions[0]);
  const sliceVector = scale(total, 1 / (n - 1));
  // Positions must lie on the normal through the first: anything else is a sheared (tilted) stack.
  const off = norm(sub(total, scale(normal, dot(total, normal))));
  const angle = Math.atan2(off, Math.abs(dot(total, normal))) * 180 / Math.PI;
  if (angle > 0.05) {
    return `slices are sheared off the slice normal by ${angle.toFixed(2)} degrees (gantry tilt): ` +
      "not converted without resampling";
  }
  return { sliceVector, spacing: norm(sliceVector) };
}

/**
 * The voxel-to-world affine in NIfTI RAS, for voxel (i, j, k) = (column, row, slice):
 * DICOM gives LPS as origin + i * Δcol * row-direction + j * Δrow * column-direction + k * slice vector;
 * RAS negates x and y.
 */
export function affineRAS(
  origin: Vec3,
  row: Vec3,
  col: Vec3,
  pixelSpacing: readonly [number, number],
  sliceVector: Vec3,
): Mat4 {
  const [dRow, dCol] = pixelSpacing; // PixelSpacing is (row spacing, column spacing)
  const cols: Vec3[] = [scale(row, dCol), scale(col, dRow), sliceVector, origin];
  const m: Mat4 = [0, 1, 2].map((r) => cols.map((c) => c[r]));
  for (const r of [0, 1]) m[r] = m[r].map((v) => (v === 0 ? 0 : -v)); // no -0 in headers
  m.push([0, 0, 0, 1]);
  return m;
}

/** A NIfTI qform: quaternion (b, c, d), offset, voxel sizes and qfac, from an affine. */
export interface Qform {
  readonly b: number;
  readonly c: number;
  readonly d: number;
  readonly offset: Vec3;
  readonly pixdim: Vec3;
  readonly qfac: 1 | -1;
}

/**
 * The qform of an affine, as nifti1_io's nifti_mat44_to_quatern does: column lengths are the
 * voxel sizes, a negative determinant flips the third axis (qfac -1), and the rotation is made
 * orthogonal before its quaternion is taken.
 */
export function qformOf(m: Mat4): Qform {
  const colv = (j: number): Vec3 => [m[0][j], m[1][j], m[2][j]];
  const pix: Vec3 = [norm(colv(0)) || 1, norm(colv(1)) || 1, norm(colv(2)) || 1];
  const r: Vec3[] = [0, 1, 2].map((j) => scale(colv(j), 1 / pix[j]));
  const orth = orthogonalize(r);
  const det = dot(orth[0], cross(orth[1], orth[2]));
  let qfac: 1 | -1 = 1;
  if (det < 0) {
    qfac = -1;
    orth[2] = scale(orth[2], -1);
  }
  // Rotation matrix elements, R[row][col] with columns orth[j].
  const R = (i: number, j: number) => orth[j][i];
  let a = R(0, 0) + R(1, 1) + R(2, 2) + 1;
  let b: number, c: number, d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = 0.25 * (R(2, 1) - R(1, 2)) / a;
    c = 0.25 * (R(0, 2) - R(2, 0)) / a;
    d = 0.25 * (R(1, 0) - R(0, 1)) / a;
  } else {
    const xd = 1 + R(0, 0) - (R(1, 1) + R(2, 2));
    const yd = 1 + R(1, 1) - (R(0, 0) + R(2, 2));
    const zd = 1 + R(2, 2) - (R(0, 0) + R(1, 1));
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = 0.25 * (R(0, 1) + R(1, 0)) / b;
      d = 0.25 * (R(0, 2) + R(2, 0)) / b;
      a = 0.25 * (R(2, 1) - R(1, 2)) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = 0.25 * (R(0, 1) + R(1, 0)) / c;
      d = 0.25 * (R(1, 2) + R(2, 1)) / c;
      a = 0.25 * (R(0, 2) - R(2, 0)) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = 0.25 * (R(0, 2) + R(2, 0)) / d;
      c = 0.25 * (R(1, 2) + R(2, 1)) / d;
      a = 0.25 * (R(1, 0) - R(0, 1)) / d;
    }
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { b, c, d, offset: [m[0][3], m[1][3], m[2][3]], pixdim: pix, qfac };
}

/** The nearest orthonormal set to three unit columns (polar decomposition by iteration). */
function orthogonalize(cols: Vec3[]): Vec3[] {
  let q = cols.map((c) => [...c] as Vec3);
  for (let iter = 0; iter < 20; iter++) {
    // Q <- (Q + Q^-T) / 2 converges to the orthogonal polar factor.
    const inv = inverse3(q);
    if (!inv) break;
    const next = q.map((c, j) => [0, 1, 2].map((i) => (c[i] + inv[j][i]) / 2) as Vec3); // Q^-T column j is row j of Q^-1
    const change = Math.max(...next.flatMap((c, j) => c.map((v, i) => Math.abs(v - q[j][i]))));
    q = next;
    if (change < 1e-12) break;
  }
  return q;
}

/** The inverse of the matrix whose columns are `cols`, as rows x cols (undefined when singular). */
function inverse3(cols: Vec3[]): number[][] | undefined {
  const a = (i: number, j: number) => cols[j][i];
  const det = a(0, 0) * (a(1, 1) * a(2, 2) - a(1, 2) * a(2, 1)) -
    a(0, 1) * (a(1, 0) * a(2, 2) - a(1, 2) * a(2, 0)) +
    a(0, 2) * (a(1, 0) * a(2, 1) - a(1, 1) * a(2, 0));
  if (Math.abs(det) < 1e-12) return undefined;
  const inv = [
    [
      a(1, 1) * a(2, 2) - a(1, 2) * a(2, 1),
      a(0, 2) * a(2, 1) - a(0, 1) * a(2, 2),
      a(0, 1) * a(1, 2) - a(0, 2) * a(1, 1),
    ],
    [
      a(1, 2) * a(2, 0) - a(1, 0) * a(2, 2),
      a(0, 0) * a(2, 2) - a(0, 2) * a(2, 0),
      a(0, 2) * a(1, 0) - a(0, 0) * a(1, 2),
    ],
    [
      a(1, 0) * a(2, 1) - a(1, 1) * a(2, 0),
      a(0, 1) * a(2, 0) - a(0, 0) * a(2, 1),
      a(0, 0) * a(1, 1) - a(0, 1) * a(1, 0),
    ],
  ];
  return inv.map((r) => r.map((v) => v / det));
}

/**
 * The affine a qform describes (nifti_quatern_to_mat44), to check that the qform we write says
 * the same as the sform.
 */
export function qformToAffine(q: Qform): Mat4 {
  const { b, c, d } = q;
  const a = Math.sqrt(Math.max(0, 1 - (b * b + c * c + d * d)));
  const R = [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
  const s = [q.pixdim[0], q.pixdim[1], q.pixdim[2] * q.qfac];
  return [
    [R[0][0] * s[0], R[0][1] * s[1], R[0][2] * s[2], q.offset[0]],
    [R[1][0] * s[0], R[1][1] * s[1], R[1][2] * s[2], q.offset[1]],
    [R[2][0] * s[0], R[2][1] * s[1], R[2][2] * s[2], q.offset[2]],
    [0, 0, 0, 1],
  ];
}
