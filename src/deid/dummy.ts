/**
 * D (dummy) values: valid for the VR, free of identity, and recognisable as placeholders. Viewers
 * choke on values that break their VR, so a dummy is never just "XXX" in a date.
 */
import type { ElementValue } from "../dicom/values.ts";
import { tags } from "../standard/tags.ts";

/** Defined terms for the few CS attributes with a D action whose value set is enumerated. */
const CS_DUMMIES: Readonly<Record<number, string>> = {
  [tags.PatientSex]: "O", // O = other
  [tags.PatientSexNeutered]: "UNMODIFIED",
};

/**
 * The dummy for an element of `vr` (`tag` picks defined terms; `uid` gives a new UID for UI;
 * `length` keeps binary values the same size, so their VM and pixel geometry stay valid).
 */
export function dummyValue(tag: number, vr: string, uid: () => string, length: number): ElementValue {
  switch (vr) {
    case "PN":
      return "ANONYMOUS";
    case "DA":
      return "19000101";
    case "TM":
      return "000000";
    case "DT":
      return "19000101000000";
    case "AS":
      return "000Y";
    case "DS":
    case "IS":
      return "0";
    case "UI":
      return uid();
    case "CS":
      return CS_DUMMIES[tag] ?? "ANONYMIZED";
    case "AE":
    case "LO":
    case "LT":
    case "SH":
    case "ST":
    case "UC":
    case "UT":
      return "ANONYMIZED";
    case "UR":
      return "urn:dcmtidy:anonymized";
    case "US":
    case "SS":
    case "UL":
    case "SL":
    case "FL":
    case "FD":
      return [0];
    case "SV":
    case "UV":
      return [0n] as unknown as number[];
    case "AT":
      return [0];
    default:
      return new Uint8Array(length + (length % 2)); // OB, OW, OF, OD, OL, OV, UN: same size, zeros
  }
}
