/**
 * The start of a file: the preamble and "DICM", the file meta group and the transfer syntax it
 * names, or, for a file without them, the encoding guessed from the first element of a bare data
 * set. Private to the reader (`parseDicom` in `reader.ts`).
 *
 * @module
 */
import { tags } from "../standard/tags.ts";
import { type Ctx, fail, need } from "./_cursor.ts";
import { parseElements } from "./_parse.ts";
import { type DataSet, type Encoding, EXPLICIT_LE_ENCODING, IMPLICIT_LE_ENCODING } from "./model.ts";
import {
  EXPLICIT_BE,
  EXPLICIT_LE,
  IMPLICIT_LE,
  type TransferSyntax,
  transferSyntax,
} from "./transfer_syntax.ts";
import { KNOWN_VRS } from "./vr.ts";

/** What comes before the data set. */
export interface FileStart {
  /** The 128 bytes before "DICM", when the file has them. */
  readonly preamble?: Uint8Array;
  /** The file meta group, when the file has one. */
  readonly meta?: DataSet;
  /** From the meta group, or guessed for a bare data set. */
  readonly transferSyntax: TransferSyntax;
  /** Where the data set starts. */
  readonly datasetOffset: number;
  /** What is missing from a well-formed Part 10 start ("no preamble", ...). */
  readonly warnings: string[];
  /** The meta group names no transfer syntax: the encoding was told from the data set. */
  readonly guessed?: boolean;
}

/**
 * Read the preamble, "DICM" and the file meta group at the start of `ctx.src`, or guess the
 * encoding of a bare data set. Throws a `DicomReadError` for what is not DICOM at all.
 */
export function readFileStart(ctx: Ctx): FileStart {
  const bytes = ctx.src;
  const warnings: string[] = [];
  let preamble: Uint8Array | undefined;
  let pos = 0;
  const hasMagic = (at: number) =>
    bytes.length >= at + 4 && bytes[at] === 0x44 && bytes[at + 1] === 0x49 && bytes[at + 2] === 0x43 &&
    bytes[at + 3] === 0x4d; // "DICM"
  if (hasMagic(128)) {
    preamble = bytes.subarray(0, 128);
    pos = 132;
    need(ctx, pos, 8, bytes.length, "file meta group after DICM");
  } else if (hasMagic(0)) {
    pos = 4;
    warnings.push("no preamble before DICM");
  }

  let meta: DataSet | undefined;
  let ts: TransferSyntax;
  let guessed = false;
  const startsMeta = bytes.length >= pos + 6 && ctx.view.getUint16(pos, true) === 0x0002 &&
    KNOWN_VRS.has(String.fromCharCode(bytes[pos + 4], bytes[pos + 5]));
  if (startsMeta) {
    if (!preamble) warnings.push("no preamble");
    meta = { elements: [], encoding: EXPLICIT_LE_ENCODING };
    pos = parseMeta(ctx, meta, pos);
    if (!meta.elements.some((e) => e.tag === tags.FileMetaInformationGroupLength)) {
      warnings.push("no file meta group length (0002,0000)");
    }
    const uid = metaString(meta, tags.TransferSyntaxUID);
    if (uid) ts = transferSyntax(uid);
    else {
      // A meta group that stops at the end of the bytes, or short of its declared length, was cut.
      const declared = metaGroupEnd(meta);
      const cut = pos >= bytes.length || (declared !== undefined && declared > bytes.length);
      // Otherwise the data set tells its encoding, as for files without a meta group (dcmtk and
      // pydicom read such files too). Compressed Pixel Data cannot be told apart: the reader refuses it.
      const guess = cut ? undefined : guessRawEncoding(bytes.subarray(pos));
      if (!guess) {
        fail(
          ctx,
          cut ? "truncated" : "bad-structure",
          pos,
          "file meta has no Transfer Syntax UID (0002,0010)",
        );
      }
      ts = transferSyntax(guess.ts);
      warnings.push(`file meta has no Transfer Syntax UID (0002,0010): the data set reads as ${ts.name}`);
      guessed = true;
    }
  } else {
    if (preamble) fail(ctx, "bad-structure", pos, "DICM is not followed by a file meta group (0002,xxxx)");
    const guess = guessRawEncoding(bytes);
    if (!guess) {
      fail(
        ctx,
        "not-dicom",
        0,
        "no DICM marker, no file meta and no recognisable data set: not a DICOM file",
      );
    }
    warnings.push("no preamble and no file meta: bare data set");
    ts = transferSyntax(guess.ts);
  }
  return { preamble, meta, transferSyntax: ts, datasetOffset: pos, warnings, guessed };
}

/** The file meta group: explicit VR little endian elements of group 0002, whatever the transfer syntax. */
function parseMeta(ctx: Ctx, meta: DataSet, start: number): number {
  return parseElements(ctx, meta, start, ctx.src.length, { depth: 0, onlyGroup: 0x0002 });
}

/** The encoding of a bare data set (no meta), guessed from its first element, or undefined. */
function guessRawEncoding(src: Uint8Array): { ts: string; encoding: Encoding } | undefined {
  if (src.length < 8) return undefined;
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const vrCode = String.fromCharCode(src[4], src[5]);
  const explicit = KNOWN_VRS.has(vrCode);
  const plausible = (group: number) => group >= 0x0008 && group <= 0x0028 && group % 2 === 0;
  if (plausible(view.getUint16(0, true))) {
    return explicit
      ? { ts: EXPLICIT_LE, encoding: EXPLICIT_LE_ENCODING }
      : { ts: IMPLICIT_LE, encoding: IMPLICIT_LE_ENCODING };
  }
  if (explicit && plausible(view.getUint16(0, false))) {
    return { ts: EXPLICIT_BE, encoding: { explicitVR: true, littleEndian: false } };
  }
  return undefined;
}

/** Where the meta group ends according to its group length (0002,0000), when it has one. */
function metaGroupEnd(meta: DataSet): number | undefined {
  const gl = meta.elements.find((e) => e.tag === tags.FileMetaInformationGroupLength);
  if (!gl?.span || gl.span.end - gl.span.valueStart !== 4) return undefined;
  const view = new DataView(gl.span.src.buffer, gl.span.src.byteOffset);
  return gl.span.end + view.getUint32(gl.span.valueStart, true);
}

/** A short string value of the meta group (a UID), padding trimmed, or undefined when absent. */
export function metaString(meta: DataSet, tag: number): string | undefined {
  const el = meta.elements.find((e) => e.tag === tag);
  if (!el?.span) return undefined;
  const { src, valueStart } = el.span;
  // Latin-1 is one character per byte: UIDs are short, so no decoder is needed.
  let end = el.span.end;
  while (end > valueStart && (src[end - 1] === 0 || src[end - 1] === 0x20)) end--;
  let text = "";
  for (let i = valueStart; i < end; i++) text += String.fromCharCode(src[i]);
  return text;
}
