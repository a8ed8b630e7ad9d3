/** Groups of value representations the de-identification steps treat alike. */

/** Dates: they follow the protocol's date policy. */
export const DATE_VRS: ReadonlySet<string> = new Set(["DA", "DT"]);
/** Bulk binary values: nothing in them can be cleaned, so C removes them. */
export const BULK_VRS: ReadonlySet<string> = new Set(["OB", "OW", "OF", "OD", "OL", "OV", "UN"]);
/** Free text: what C cleans and what an unlisted element of these VRs is scrubbed of. */
export const FREE_TEXT_VRS: ReadonlySet<string> = new Set(["LO", "SH", "LT", "ST", "UT", "UC", "PN"]);
