/**
 * Whether a file may have text burned into its pixels, from its header alone. The caller decides
 * what follows (warn, quarantine or allow, as the protocol's `burned_in` says).
 *
 * @module
 */
import type { DataSet } from "../dicom/model.ts";
import { tags } from "../standard/tags.ts";
import { topValue } from "./_context.ts";

const BURNED_IN_MODALITIES = new Set(["US", "SC", "OT", "XA", "ES"]);

/** Why the data set `ds` (a file's top level, as read) may carry burned-in text, or undefined. */
export function burnedInReason(ds: DataSet): string | undefined {
  // No pixels, no text in them (an SR, a presentation state, a key object).
  if (!ds.elements.some((e) => e.tag === tags.PixelData)) return undefined;
  const flag = topValue(ds, tags.BurnedInAnnotation);
  if (flag === "YES") return "BurnedInAnnotation is YES";
  // The attribute is often wrong on these modalities (ultrasound measurements, screen captures).
  const modality = topValue(ds, tags.Modality);
  if (modality && BURNED_IN_MODALITIES.has(modality)) {
    return `modality ${modality} often carries burned-in text${
      flag === "NO" ? " (BurnedInAnnotation says NO)" : ""
    }`;
  }
  const sop = topValue(ds, tags.SOPClassUID) ?? "";
  if (flag === undefined && sop.startsWith("1.2.840.10008.5.1.4.1.1.7")) {
    return "secondary capture without BurnedInAnnotation";
  }
  return undefined;
}
