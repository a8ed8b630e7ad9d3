/**
 * Transcoding a file's Pixel Data to another transfer syntax: each frame decoded and encoded
 * again while the file is written (a frame at a time), the data set re-encoded when the new
 * syntax encodes it differently, and the Image Pixel attributes made true for what was written.
 * A lossy source keeps its lossy history (LossyImageCompression 01, its ratio and method
 * appended) and is only ever re-encoded losslessly.
 *
 * @module
 */
import { insertElement, setValue } from "../dicom/edit.ts";
import type { DataSet, DicomFile, Element, GeneratedValue } from "../dicom/model.ts";
import { UNDEFINED_LENGTH } from "../dicom/model.ts";
import { reencodeDataSet } from "../dicom/reencode.ts";
import { EXPLICIT_LE, transferSyntax } from "../dicom/transfer_syntax.ts";
import { decodeStrings } from "../dicom/values.ts";
import { tags } from "../standard/tags.ts";
import { prepareCoding } from "./_codecs.ts";
import { decodeBitFrame, decodeFrame, packBitFrames, prepareAllDecoders } from "./decode.ts";
import { encodeFrame, prepareEncoder, type WritableCoding } from "./encode.ts";
import { PixelError } from "./errors.ts";
import { frameBytes, type PixelFormat, readPixelFormat } from "./format.ts";
import { encapsulate, itemHeader } from "./fragments.ts";
import { openPixelSource, type PixelSource } from "./source.ts";
import { type SyntaxInfo, syntaxInfo, syntaxLabel } from "./syntaxes.ts";

/** Encapsulated output up to this many stored bytes is made in memory, with a Basic Offset Table. */
const IN_MEMORY = 64 * 1024 * 1024;

/** What a transcoding did, for reports. */
export interface Transcoded {
  /** The transfer syntax written. */
  readonly to: string;
  /** From the source's. */
  readonly from: string;
  /** The photometric interpretation written, when it changed (YBR_FULL_422 JPEG to RGB). */
  readonly photometric?: string;
  /** The source was lossy: its history was kept. */
  readonly lossy: boolean;
  /** Why the file was written uncompressed rather than in the syntax asked for. */
  readonly fallback?: string;
  /** The frames were copied as stored (uncompressed to uncompressed), layout and all. */
  readonly asStored?: boolean;
}

/** The values of a multi-valued text element. */
function textValues(file: DicomFile, tag: number): string[] {
  const el = file.dataset.elements.find((e) => e.tag === tag);
  return el && !el.items ? decodeStrings(el, file.dataset).filter((v) => v !== "") : [];
}

/**
 * A change made to every decoded frame before it is encoded again: `bytes` (little-endian samples
 * in the container of Bits Allocated, pixel-interleaved, as `fmt` describes them after decoding)
 * are changed in place; `index` is the frame's.
 */
export type FrameEdit = (bytes: Uint8Array, fmt: PixelFormat, index: number) => void;

/** Options for `transcodeSync`. */
export interface TranscodeOptions {
  /** Change each frame (blanking regions); the frames are then re-encoded even in the same syntax. */
  readonly editFrame?: FrameEdit;
}

/** Load every decoder and every encoder: what transcoding or blanking any file may need. */
export async function preparePixelWork(): Promise<void> {
  await prepareAllDecoders();
  for (const c of ["jpeg-ls", "htj2k"] as const) await prepareEncoder(c);
}

/** Load what transcoding any file to `to` needs: every decoder and `to`'s encoder. */
export async function prepareTranscoding(to: string): Promise<void> {
  const target = writableTarget(to);
  await prepareAllDecoders();
  await prepareEncoder(target.coding as WritableCoding);
}

function writableTarget(to: string): SyntaxInfo {
  const target = syntaxInfo(to);
  if (!target?.alias) throw new PixelError(`dcmtidy does not write ${syntaxLabel(to)}`, 2);
  return target;
}

/**
 * Prepare `file` to be written in transfer syntax `to` (a UID `parseTargetSyntax` accepts):
 * loads the codecs it needs, then `transcodeSync`.
 *
 * @example Write a file as JPEG-LS lossless
 * ```ts
 * import { readDicomFile } from "../dicom/read_file.ts";
 * import { writeDicomFile } from "../dicom/write_file.ts";
 * import { parseTargetSyntax } from "./syntaxes.ts";
 * import { transcode } from "./transcode.ts";
 *
 * const file = await readDicomFile("in.dcm");
 * const t = await transcode(file, parseTargetSyntax("jpeg-ls-lossless"));
 * try {
 *   await writeDicomFile(file, "out.dcm");
 * } finally {
 *   t.close(); // the frames are decoded and encoded while the file is written
 * }
 * ```
 */
export async function transcode(file: DicomFile, to: string): Promise<Transcoded & { close(): void }> {
  const target = writableTarget(to);
  // Only what this file needs (a run loads every codec once instead: `preparePixelWork`).
  const coding = syntaxInfo(file.transferSyntax.uid)?.coding;
  if (coding) await prepareCoding(coding);
  await prepareEncoder(target.coding as WritableCoding);
  return transcodeSync(file, to);
}

/**
 * Prepare `file` to be written in transfer syntax `to`, the codecs loaded already
 * (`prepareTranscoding`). Pixel Data is replaced by a value that decodes and encodes each frame
 * while the file is written; call `close` on the result after writing (it may hold the source
 * file open). Files without Pixel Data only change syntax. Throws `PixelError` for what cannot be
 * transcoded; the file is then unchanged.
 */
export function transcodeSync(
  file: DicomFile,
  target: string,
  opts: TranscodeOptions = {},
): Transcoded & { close(): void } {
  const from = file.transferSyntax.uid;
  let to = target;
  const pixel = file.dataset.elements.find((e) => e.tag === tags.PixelData);
  let fmt: PixelFormat | undefined;
  if (pixel) {
    try {
      fmt = readPixelFormat(file.dataset);
    } catch (e) {
      // Pixel Data without a readable Image Pixel module: native data can still be carried as it is.
      if (
        !(e instanceof PixelError) || pixel.encapsulated || file.transferSyntax.encapsulated || opts.editFrame
      ) {
        throw e;
      }
    }
  }
  let coding = writableTarget(to).coding as WritableCoding;
  let fallback: string | undefined;
  if (coding !== "native" && !opts.editFrame) {
    // What has no image to compress, or what the encoders do not take, is written uncompressed.
    const why = !pixel
      ? "no Pixel Data"
      : !fmt
      ? "no readable Image Pixel module"
      : fmt.bitsAllocated === 1
      ? "bit-packed (Bits Allocated 1) Pixel Data"
      : fmt.bitsStored > 16
      ? `Bits Stored ${fmt.bitsStored} (the lossless encoders take at most 16)`
      : undefined;
    if (why) {
      fallback = `${why}: written as Explicit VR Little Endian`;
      to = EXPLICIT_LE;
      coding = "native";
    }
  }
  let src: PixelSource | undefined;
  let result: Transcoded = { to, from, lossy: false, fallback };
  if (from === to && !opts.editFrame) return { ...result, close() {} };
  const ts = transferSyntax(to);
  if (pixel && fmt) {
    if (fmt.bitsAllocated === 1 && opts.editFrame) {
      throw new PixelError("Bits Allocated 1 frames are not edited");
    }
    src = openPixelSource(file, fmt);
    try {
      result = { ...replacePixelData(file, src, fmt, coding, to, opts.editFrame), fallback };
    } catch (e) {
      src.close();
      throw e;
    }
  }
  for (const el of file.dataset.elements) for (const it of el.items ?? []) nestedToNative(file, it.dataset);
  const fromEnc = file.dataset.encoding;
  const toEnc = { explicitVR: ts.explicitVR, littleEndian: ts.littleEndian };
  if (fromEnc.explicitVR !== toEnc.explicitVR || fromEnc.littleEndian !== toEnc.littleEndian) {
    file.dataset = reencodeDataSet(file.dataset, fromEnc, toEnc);
  }
  file.transferSyntax = ts;
  file.deflatedBytes = undefined;
  if (src) updateAttributes(file, result, src);
  const opened = src;
  return { ...result, close: () => opened?.close() };
}

/**
 * Compressed Pixel Data inside a sequence item (an Icon Image Sequence's thumbnail) becomes native
 * in any target: native thumbnails are valid in every transfer syntax, and a few KB.
 */
function nestedToNative(file: DicomFile, ds: DataSet): void {
  for (const el of ds.elements) for (const it of el.items ?? []) nestedToNative(file, it.dataset);
  const el = ds.elements.find((e) => e.tag === tags.PixelData);
  if (!el?.encapsulated) return;
  const fmt = readPixelFormat(ds);
  const src = openPixelSource({ ...file, dataset: ds }, fmt);
  try {
    const frames = Array.from({ length: fmt.frames }, (_, i) => decodeFrame(src, i));
    const size = frames.reduce((n, f) => n + f.bytes.length, 0);
    const value = new Uint8Array(size + (size % 2));
    let at = 0;
    for (const f of frames) {
      value.set(f.bytes, at);
      at += f.bytes.length;
    }
    Object.assign(el, { vr: fmt.bitsAllocated > 8 ? "OW" : "OB", length: value.length, value, dirty: true });
    el.encapsulated = undefined;
    el.span = undefined;
    ds.modified = true;
    if (frames[0].photometric !== fmt.photometric) {
      setValue(ds, tags.PhotometricInterpretation, frames[0].photometric);
    }
    if (fmt.samplesPerPixel === 3) setValue(ds, tags.PlanarConfiguration, 0);
  } finally {
    src.close();
  }
}

/** Replace the Pixel Data element by one generated while writing; learn the decoded form first. */
function replacePixelData(
  file: DicomFile,
  src: PixelSource,
  fmt: PixelFormat,
  coding: WritableCoding,
  to: string,
  editFrame?: FrameEdit,
): Transcoded {
  const from = file.transferSyntax.uid;
  const sourceLossy = syntaxInfo(from)?.lossy === "yes";
  if (fmt.bitsAllocated === 1) {
    // Bit-packed frames (segmentations): unpacked and packed again one after another, as native
    // data stores them (deflated frames are each packed alone).
    const bytes = src.coding === "native"
      ? src.frame(0)
      : packBitFrames(Array.from({ length: fmt.frames }, (_, i) => decodeBitFrame(src, i)));
    setPixelElement(file, { length: bytes.length + (bytes.length % 2), chunks: () => padded([bytes]) }, "OB");
    return { to, from, lossy: false };
  }
  if (src.coding === "native" && coding === "native" && !editFrame) {
    // Uncompressed to uncompressed: the frames as stored (planar configuration and YBR_FULL_422
    // layout kept), little endian.
    const size = frameBytes(fmt) * fmt.frames;
    setPixelElement(file, {
      length: size + (size % 2),
      *chunks() {
        for (let i = 0; i < fmt.frames; i++) yield src.frame(i);
        if (size % 2) yield new Uint8Array(1);
      },
    }, fmt.bitsAllocated > 8 ? "OW" : "OB");
    return { to, from, lossy: false, asStored: true };
  }
  const first = decodeFrame(src, 0);
  const outFmt: PixelFormat = { ...fmt, photometric: first.photometric, planar: 0 };
  const lossy = sourceLossy || first.lossy;
  const frame = (i: number) => {
    let bytes = i === 0 ? first.bytes : decodeFrame(src, i).bytes;
    if (editFrame) {
      bytes = bytes.slice(); // native frames may be views of the source's bytes
      editFrame(bytes, outFmt, i);
    }
    return encodeFrame(coding, bytes, outFmt);
  };
  if (coding === "native") {
    const size = frameBytes(outFmt) * fmt.frames;
    setPixelElement(file, {
      length: size + (size % 2),
      *chunks() {
        for (let i = 0; i < fmt.frames; i++) yield frame(i);
        if (size % 2) yield new Uint8Array(1);
      },
    }, fmt.bitsAllocated > 8 ? "OW" : "OB");
  } else if (src.storedBytes <= IN_MEMORY) {
    const frames = Array.from({ length: fmt.frames }, (_, i) => frame(i));
    const chunks = encapsulate(frames);
    setPixelElement(file, { length: UNDEFINED_LENGTH, chunks: () => chunks }, "OB", true);
  } else {
    setPixelElement(
      file,
      {
        length: UNDEFINED_LENGTH,
        *chunks() {
          yield itemHeader(0); // an empty Basic Offset Table: one fragment per frame
          for (let i = 0; i < fmt.frames; i++) {
            const f = frame(i);
            yield itemHeader(f.length + (f.length % 2));
            yield f;
            if (f.length % 2) yield new Uint8Array(1);
          }
          yield new Uint8Array([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
        },
      },
      "OB",
      true,
    );
  }
  return {
    to,
    from,
    lossy,
    photometric: first.photometric !== fmt.photometric ? first.photometric : undefined,
  };
}

function* padded(parts: Uint8Array[]): Iterable<Uint8Array> {
  let n = 0;
  for (const p of parts) {
    n += p.length;
    yield p;
  }
  if (n % 2) yield new Uint8Array(1);
}

/** Put a generated Pixel Data element in place of the old one (and drop the offset tables). */
function setPixelElement(file: DicomFile, generated: GeneratedValue, vr: string, encapsulated = false): void {
  const ds = file.dataset;
  const drop = new Set<number>([
    tags.PixelData,
    tags.ExtendedOffsetTable,
    tags.ExtendedOffsetTableLengths,
    0x7fe00000,
  ]);
  ds.elements = ds.elements.filter((e) => !drop.has(e.tag));
  const el: Element = { tag: tags.PixelData, vr, length: generated.length, generated, encapsulated };
  insertElement(ds, el);
  ds.modified = true;
}

/** Photometric interpretation, planar configuration and the lossy history, as written. */
function updateAttributes(file: DicomFile, t: Transcoded, src: PixelSource): void {
  const ds = file.dataset;
  if (t.photometric) setValue(ds, tags.PhotometricInterpretation, t.photometric);
  // Decoded frames are pixel-interleaved; frames copied as stored keep their layout.
  if (src.fmt.samplesPerPixel === 3 && !t.asStored) setValue(ds, tags.PlanarConfiguration, 0);
  if (!t.lossy) return;
  const method = syntaxInfo(t.from)?.method;
  const methods = textValues(file, tags.LossyImageCompressionMethod);
  const ratios = textValues(file, tags.LossyImageCompressionRatio);
  setValue(ds, tags.LossyImageCompression, "01");
  if (method && methods[methods.length - 1] !== method) {
    const uncompressed = frameBytes(src.fmt) * src.fmt.frames;
    const ratio = src.storedBytes > 0 ? uncompressed / src.storedBytes : 0;
    setValue(ds, tags.LossyImageCompressionMethod, [...methods, method]);
    // A ratio with no method beside it is this compression's, recorded without its method.
    if (ratio > 0 && ratios.length <= methods.length) {
      setValue(ds, tags.LossyImageCompressionRatio, [...ratios, ratio.toPrecision(4).replace(/\.?0+$/, "")]);
    }
  }
}
