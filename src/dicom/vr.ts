/** Value Representations (PS3.5 section 6.2): what the reader and writer need to know of each. */

/** VRs whose explicit-VR header has 2 reserved bytes and a 32-bit length (PS3.5 7.1.2). */
const LONG_LENGTH = new Set(["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"]);

/** Every VR defined by PS3.5 2026. */
export const KNOWN_VRS: ReadonlySet<string> = new Set([
  "AE",
  "AS",
  "AT",
  "CS",
  "DA",
  "DS",
  "DT",
  "FD",
  "FL",
  "IS",
  "LO",
  "LT",
  "OB",
  "OD",
  "OF",
  "OL",
  "OV",
  "OW",
  "PN",
  "SH",
  "SL",
  "SQ",
  "SS",
  "ST",
  "SV",
  "TM",
  "UC",
  "UI",
  "UL",
  "UN",
  "UR",
  "US",
  "UT",
  "UV",
]); // deno-fmt-ignore

/** Whether an explicit-VR header for this VR carries a 32-bit length. */
export function hasLongLength(vr: string): boolean {
  return LONG_LENGTH.has(vr);
}

/** String VRs: values are text, multi-valued with backslash (except the text VRs). */
const STRING_VRS = new Set([
  "AE",
  "AS",
  "CS",
  "DA",
  "DS",
  "DT",
  "IS",
  "LO",
  "LT",
  "PN",
  "SH",
  "ST",
  "TM",
  "UC",
  "UI",
  "UR",
  "UT",
]); // deno-fmt-ignore

/** Text VRs hold one value that may contain backslashes (PS3.5 6.2). */
const SINGLE_VALUE_TEXT = new Set(["LT", "ST", "UT", "UR"]);

/** VRs whose text goes through the Specific Character Set (the others are ASCII by definition). */
const CHARSET_VRS = new Set(["LO", "LT", "PN", "SH", "ST", "UC", "UT"]);

/** Fixed-size binary numbers: bytes per value and how to read one. */
export const NUMBER_VRS: Readonly<Record<string, { size: number; kind: "u" | "i" | "f" }>> = {
  US: { size: 2, kind: "u" },
  SS: { size: 2, kind: "i" },
  UL: { size: 4, kind: "u" },
  SL: { size: 4, kind: "i" },
  FL: { size: 4, kind: "f" },
  FD: { size: 8, kind: "f" },
  SV: { size: 8, kind: "i" },
  UV: { size: 8, kind: "u" },
  AT: { size: 2, kind: "u" }, // a tag is read as two uint16 (group, element)
  OW: { size: 2, kind: "u" },
  OL: { size: 4, kind: "u" },
  OF: { size: 4, kind: "f" },
  OD: { size: 8, kind: "f" },
  OV: { size: 8, kind: "u" },
};

/** Maximum length of one value in bytes, for the VRs that limit it (PS3.5 table 6.2-1). */
const MAX_VALUE_LENGTH: Readonly<Record<string, number>> = {
  AE: 16,
  AS: 4,
  CS: 16,
  DA: 8,
  DS: 16,
  DT: 26,
  IS: 12,
  LO: 64,
  LT: 10240,
  PN: 64 * 3 + 2, // 64 per component group, three groups separated by "="
  SH: 16,
  ST: 1024,
  TM: 14,
  UI: 64,
};

/** Whether values of this VR are text. */
export function isStringVR(vr: string): boolean {
  return STRING_VRS.has(vr);
}

/** Whether the VR is a single text value in which a backslash is an ordinary character. */
export function isSingleValueText(vr: string): boolean {
  return SINGLE_VALUE_TEXT.has(vr);
}

/** Whether the VR's text is decoded with the data set's Specific Character Set. */
export function usesCharset(vr: string): boolean {
  return CHARSET_VRS.has(vr);
}

/** The maximum length of one value of this VR in bytes, or undefined when unlimited. */
export function maxValueLength(vr: string): number | undefined {
  return MAX_VALUE_LENGTH[vr];
}

/** The byte that pads an odd-length value to even length: NUL for UI and binary VRs, else space. */
export function paddingByte(vr: string): number {
  return isStringVR(vr) && vr !== "UI" ? 0x20 : 0x00;
}
