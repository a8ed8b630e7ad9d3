/** Transfer syntaxes: how a data set is encoded on the wire (PS3.5 section 10). */

/** The encoding facts the reader and writer need about one transfer syntax. */
export interface TransferSyntax {
  /** The transfer syntax UID, e.g. "1.2.840.10008.1.2.1". */
  readonly uid: string;
  /** For messages and dumps; an unlisted UID is "Explicit VR Little Endian, encapsulated". */
  readonly name: string;
  /** Element headers carry the VR (false: it is looked up in the dictionary). */
  readonly explicitVR: boolean;
  /** False only for Explicit VR Big Endian (retired). */
  readonly littleEndian: boolean;
  /** The whole data set after the file meta is a raw deflate stream. */
  readonly deflated: boolean;
  /** Pixel Data is encapsulated (fragments) rather than native. */
  readonly encapsulated: boolean;
}

/** Implicit VR Little Endian, the default transfer syntax. */
export const IMPLICIT_LE = "1.2.840.10008.1.2";
/** Explicit VR Little Endian. */
export const EXPLICIT_LE = "1.2.840.10008.1.2.1";
/** Deflated Explicit VR Little Endian. */
export const DEFLATED_LE = "1.2.840.10008.1.2.1.99";
/** Explicit VR Big Endian (retired, still found in archives). */
export const EXPLICIT_BE = "1.2.840.10008.1.2.2";

const NATIVE: Record<string, Omit<TransferSyntax, "uid">> = {
  [IMPLICIT_LE]: {
    name: "Implicit VR Little Endian",
    explicitVR: false,
    littleEndian: true,
    deflated: false,
    encapsulated: false,
  },
  [EXPLICIT_LE]: {
    name: "Explicit VR Little Endian",
    explicitVR: true,
    littleEndian: true,
    deflated: false,
    encapsulated: false,
  },
  [DEFLATED_LE]: {
    name: "Deflated Explicit VR Little Endian",
    explicitVR: true,
    littleEndian: true,
    deflated: true,
    encapsulated: false,
  },
  [EXPLICIT_BE]: {
    name: "Explicit VR Big Endian",
    explicitVR: true,
    littleEndian: false,
    deflated: false,
    encapsulated: false,
  },
};

/**
 * Facts for a transfer syntax UID. Every UID not listed natively is, by PS3.5 10.1, encoded as
 * Explicit VR Little Endian with encapsulated Pixel Data, so a new compression still parses.
 */
export function transferSyntax(uid: string): TransferSyntax {
  const native = Object.hasOwn(NATIVE, uid) ? NATIVE[uid] : undefined; // not "constructor" & co.
  if (native) return { uid, ...native };
  return {
    uid,
    name: "Explicit VR Little Endian, encapsulated",
    explicitVR: true,
    littleEndian: true,
    deflated: false,
    encapsulated: true,
  };
}
