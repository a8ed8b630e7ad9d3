/**
 * Helpers of the codec case: output folders, empty timings, and decoded pixels compared.
 *
 * @module
 */
import { join } from "node:path";
import { readDicomFile } from "../src/dicom/read_file.ts";
import { decodeFrame, prepareDecoder } from "../src/pixels/decode.ts";
import { openPixelSource } from "../src/pixels/source.ts";
import type { ToolTiming } from "./codecs.ts";

/** A timing with no figure yet. */
export function timing(tool: string): ToolTiming {
  return { tool, wallMs: null, allMs: [], mbPerS: null };
}

/** The output folders of one row: ours, dcmtk's, gdcm's. */
export async function dirsFor(
  tmp: string,
  name: string,
): Promise<{ ours: string; dcmtk: string; gdcm: string }> {
  const dirs = {
    ours: join(tmp, "ours", name),
    dcmtk: join(tmp, "dcmtk", name),
    gdcm: join(tmp, "gdcm", name),
  };
  for (const d of Object.values(dirs)) await Deno.mkdir(d, { recursive: true });
  return dirs;
}

/** All frames of a file as decoded samples, concatenated. */
export async function pixelsOf(path: string): Promise<{ bytes: Uint8Array; sampleBytes: number }> {
  const file = await readDicomFile(path);
  const src = openPixelSource(file);
  try {
    await prepareDecoder(src);
    const frames: Uint8Array[] = [];
    for (let i = 0; i < src.fmt.frames; i++) frames.push(decodeFrame(src, i).bytes);
    const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const f of frames) at += (out.set(f, at), f.length);
    return { bytes: out, sampleBytes: src.fmt.bitsAllocated / 8 };
  } finally {
    src.close();
  }
}

/** The largest sample difference between two files' decoded pixels (Infinity when sizes differ). */
export async function maxDiff(a: string, b: string): Promise<number> {
  const [x, y] = [await pixelsOf(a), await pixelsOf(b)];
  if (x.bytes.length !== y.bytes.length) return Infinity;
  let max = 0;
  if (x.sampleBytes === 2) {
    const u = new Uint16Array(x.bytes.buffer, 0, x.bytes.length >> 1);
    const v = new Uint16Array(y.bytes.buffer, 0, y.bytes.length >> 1);
    for (let i = 0; i < u.length; i++) max = Math.max(max, Math.abs(u[i] - v[i]));
  } else {
    for (let i = 0; i < x.bytes.length; i++) max = Math.max(max, Math.abs(x.bytes[i] - y.bytes[i]));
  }
  return max;
}
