/**
 * The transfer syntaxes the pixel layer knows: how their Pixel Data is coded, whether the coding
 * loses information, and the names a user may write for the ones we can write (`modify
 * --transfer-syntax`, the protocol's `output.transfer_syntax`).
 *
 * @module
 */
import { DEFLATED_LE, EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE } from "../dicom/transfer_syntax.ts";
import { PixelError } from "./errors.ts";

/** How a transfer syntax's Pixel Data is coded. */
export type Coding =
  | "native"
  | "rle"
  | "jpeg-dct" // JPEG baseline and extended (processes 1, 2 and 4)
  | "jpeg-lossless" // JPEG lossless (processes 14 and 14 SV1)
  | "jpeg-ls"
  | "j2k"
  | "htj2k"
  | "deflate-frame" // Deflated Image Frame Compression: each frame a deflate stream
  | "video"; // MPEG and H.26x: a whole stream, not frames

/** Whether a coding loses information: always, never, or as the codestream says. */
export type Lossy = "yes" | "no" | "maybe";

/** What the pixel layer knows about one transfer syntax. */
export interface SyntaxInfo {
  readonly uid: string;
  readonly name: string;
  readonly coding: Coding;
  readonly lossy: Lossy;
  /** The value of LossyImageCompressionMethod (0028,2114) for a lossy coding of this syntax. */
  readonly method?: string;
  /** The name a user writes for it, when dcmtidy can write it. */
  readonly alias?: string;
}

const LIST: readonly SyntaxInfo[] = [
  {
    uid: IMPLICIT_LE,
    name: "Implicit VR Little Endian",
    coding: "native",
    lossy: "no",
    alias: "implicit-le",
  },
  {
    uid: EXPLICIT_LE,
    name: "Explicit VR Little Endian",
    coding: "native",
    lossy: "no",
    alias: "explicit-le",
  },
  { uid: DEFLATED_LE, name: "Deflated Explicit VR Little Endian", coding: "native", lossy: "no" },
  { uid: EXPLICIT_BE, name: "Explicit VR Big Endian", coding: "native", lossy: "no" },
  { uid: "1.2.840.10008.1.2.5", name: "RLE Lossless", coding: "rle", lossy: "no", alias: "rle-lossless" },
  {
    uid: "1.2.840.10008.1.2.4.50",
    name: "JPEG Baseline",
    coding: "jpeg-dct",
    lossy: "yes",
    method: "ISO_10918_1",
  },
  {
    uid: "1.2.840.10008.1.2.4.51",
    name: "JPEG Extended",
    coding: "jpeg-dct",
    lossy: "yes",
    method: "ISO_10918_1",
  },
  { uid: "1.2.840.10008.1.2.4.57", name: "JPEG Lossless", coding: "jpeg-lossless", lossy: "no" },
  { uid: "1.2.840.10008.1.2.4.70", name: "JPEG Lossless SV1", coding: "jpeg-lossless", lossy: "no" },
  {
    uid: "1.2.840.10008.1.2.4.80",
    name: "JPEG-LS Lossless",
    coding: "jpeg-ls",
    lossy: "no",
    alias: "jpeg-ls-lossless",
  },
  {
    uid: "1.2.840.10008.1.2.4.81",
    name: "JPEG-LS Near-Lossless",
    coding: "jpeg-ls",
    lossy: "maybe",
    method: "ISO_14495_1",
  },
  { uid: "1.2.840.10008.1.2.4.90", name: "JPEG 2000 Lossless", coding: "j2k", lossy: "no" },
  { uid: "1.2.840.10008.1.2.4.91", name: "JPEG 2000", coding: "j2k", lossy: "maybe", method: "ISO_15444_1" },
  {
    uid: "1.2.840.10008.1.2.4.201",
    name: "HTJ2K Lossless",
    coding: "htj2k",
    lossy: "no",
    alias: "htj2k-lossless",
  },
  { uid: "1.2.840.10008.1.2.4.202", name: "HTJ2K Lossless RPCL", coding: "htj2k", lossy: "no" },
  { uid: "1.2.840.10008.1.2.4.203", name: "HTJ2K", coding: "htj2k", lossy: "maybe", method: "ISO_15444_15" },
  {
    uid: "1.2.840.10008.1.2.8.1",
    name: "Deflated Image Frame Compression",
    coding: "deflate-frame",
    lossy: "no",
  },
  ...[
    ["1.2.840.10008.1.2.4.100", "MPEG2 Main Profile"],
    ["1.2.840.10008.1.2.4.101", "MPEG2 High Profile"],
    ["1.2.840.10008.1.2.4.102", "MPEG-4 AVC/H.264"],
    ["1.2.840.10008.1.2.4.103", "MPEG-4 AVC/H.264 BD"],
    ["1.2.840.10008.1.2.4.104", "MPEG-4 AVC/H.264 2D"],
    ["1.2.840.10008.1.2.4.105", "MPEG-4 AVC/H.264 3D"],
    ["1.2.840.10008.1.2.4.106", "MPEG-4 AVC/H.264 Stereo"],
    ["1.2.840.10008.1.2.4.107", "HEVC/H.265 Main"],
    ["1.2.840.10008.1.2.4.108", "HEVC/H.265 Main 10"],
  ].map(([uid, name]): SyntaxInfo => ({ uid, name, coding: "video", lossy: "yes" })),
];

const BY_UID = new Map(LIST.map((s) => [s.uid, s]));

/** What we know of a transfer syntax; undefined for one we do not know. */
export function syntaxInfo(uid: string): SyntaxInfo | undefined {
  return BY_UID.get(uid);
}

/** "JPEG-LS Lossless (1.2.840.10008.1.2.4.80)", for messages. */
export function syntaxLabel(uid: string): string {
  const s = BY_UID.get(uid);
  return s ? `${s.name} (${uid})` : uid;
}

/** The transfer syntaxes dcmtidy can write, by the name a user writes. */
export const WRITABLE: readonly SyntaxInfo[] = LIST.filter((s) => s.alias);

/**
 * The UID for what a user wrote (`explicit-le`, `jpeg-ls-lossless`, `htj2k-lossless`,
 * `rle-lossless`, `implicit-le`, or one of their UIDs), or "keep". Anything else is a usage error
 * that lists the choices.
 */
export function parseTargetSyntax(text: string): string | "keep" {
  const t = text.trim();
  if (t.toLowerCase() === "keep") return "keep";
  const found = WRITABLE.find((s) => s.alias === t.toLowerCase() || s.uid === t);
  if (found) return found.uid;
  const known = BY_UID.get(t);
  const why = known
    ? `dcmtidy does not write ${known.name}`
    : `"${t}" is not a transfer syntax dcmtidy knows`;
  throw new PixelError(
    `${why}; choose keep or one of ${WRITABLE.map((s) => `${s.alias} (${s.uid})`).join(", ")}`,
    2,
  );
}
