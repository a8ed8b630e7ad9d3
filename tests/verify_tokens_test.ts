/**
 * Verify's token rules (issue 16, item 1), one case each: the false alarms users met on real data
 * are gone (a name inside a longer word, an initial, a digit run inside a UID, structure bytes in a
 * private binary value) and the leaks next to them are still found (other case, other separators,
 * other date spellings, CJK names, a UID only as a whole).
 */
import assert from "node:assert/strict";
import { buildDicom, sampleDataset, tag } from "./fixtures/builder.ts";
import { parseDicom } from "../src/dicom/reader.ts";
import { findInElements, flattenFile, type PhiValue, type TextElement } from "../src/verify/phi.ts";

const el = (path: string, value: string, vr = "LO"): TextElement => ({
  path,
  tag: 0x00204000,
  vr,
  text: value,
  values: [value],
  strings: [value],
  textVR: vr,
});

/** The rule by which `phi` is found in `text`, or undefined. */
function found(phi: PhiValue, text: string): string | undefined {
  return findInElements([phi], [el("ImageComments", text)])[0]?.rule;
}

const name = (value: string, part = false): PhiValue => ({ value, vr: "PN", source: "PatientName", part });

Deno.test("tokens: a name is a whole word, never a piece of one", () => {
  assert.equal(found(name("MARY", true), "ORIGINAL\\PRIMARY\\AXIAL"), undefined);
  assert.equal(found(name("Mary", true), "seen by mary today"), "name part");
  assert.equal(found(name("pre", true), "PREDECESSOR"), undefined);
  assert.equal(found(name("M", true), "M"), undefined, "an initial alone is not evidence");
  assert.equal(found(name("Li", true), "LI 5 mm"), undefined, "two letters read as an abbreviation");
  assert.equal(found(name("Müller", true), "Dr. MÜLLER-Lüdenscheidt"), "name part");
  assert.equal(found(name("Müller", true), "Müllerstraße"), undefined);
});

Deno.test("tokens: a whole name in any order and with any separator; placeholders are no evidence", () => {
  for (const text of ["Doe^John", "DOE JOHN", "doe_john.dcm", "John Doe", "Doe, John"]) {
    assert.ok(found(name("Doe^John"), text)?.startsWith("whole name"), text);
  }
  assert.equal(found(name("Test", true), "Structured Reporting Test Document"), undefined);
  assert.equal(found(name("User1"), "tumor segmentation - User1 Manual trial 1"), undefined);
  assert.equal(found(name("Anonymized4"), "Anonymized4"), undefined);
  assert.equal(found(name("XXXXXX", true), "XXXXXX"), undefined);
  assert.ok(
    found(name("Test^S R"), "patient test s r"),
    "a multi-part name holding a placeholder counts whole",
  );
  assert.ok(found(name("dicom"), "the dicom case"), "a rare one-word name is looked for");
});

Deno.test("tokens: CJK names without word boundaries; one character alone is no evidence", () => {
  assert.equal(found(name("王^小東"), "患者王小東の検査"), "whole name, part by part");
  assert.equal(found(name("小東", true), "患者王小東の検査"), "name part");
  assert.equal(found(name("王", true), "王"), undefined);
});

Deno.test("tokens: IDs, numbers and UIDs as whole tokens", () => {
  const id = (value: string, vr = "LO"): PhiValue => ({ value, vr, source: "PatientID" });
  assert.equal(found(name("2721"), "2.25.127213344556677889900"), undefined);
  assert.equal(found(id("2721"), "1.2.3.2721.4"), undefined, "a UID's component is not the number");
  assert.equal(found(id("2721"), "427215"), undefined);
  assert.equal(found(id("2721"), "ref 2721, seen"), "whole number");
  assert.equal(found(id("MRN-4711"), "OLD-MRN-4711"), "whole token");
  assert.equal(found(id("MRN-4711"), "MRN-47110"), undefined);
  const uid: PhiValue = { value: "1.2.3.4", vr: "UI", source: "StudyInstanceUID" };
  assert.equal(found(uid, "1.2.3.4.5"), undefined);
  assert.equal(found(uid, "ref 1.2.3.4"), "UID");
  assert.equal(found(id("12 Elm Street"), "lives at 12  elm street."), "whole phrase");
});

Deno.test("tokens: dates in their other spellings and as the date of a date-time", () => {
  const date: PhiValue = { value: "19700412", vr: "DA", source: "PatientBirthDate" };
  assert.equal(found(date, "born 19700412"), "date");
  assert.equal(found(date, "born 1970-04-12."), "date, spelled YYYY-MM-DD");
  assert.equal(found(date, "born 12.04.1970"), "date, spelled DD.MM.YYYY");
  assert.equal(found(date, "born 04/12/1970"), "date, spelled MM/DD/YYYY");
  assert.equal(found(date, "born 12/04/1970"), "date, spelled DD/MM/YYYY");
  assert.equal(found(date, "born 1970/04/12"), "date, spelled YYYY/MM/DD");
  assert.equal(found(date, "19700412093000.123"), "date");
  assert.equal(found(date, "2.25.1197004121"), undefined);
  assert.equal(found(date, "119700412"), undefined);
});

Deno.test("tokens: a private binary value of structure bytes is not text (not PHI to look for)", () => {
  const file = parseDicom(buildDicom([
    ...sampleDataset(),
    { tag: tag(0x0029, 0x0010), vr: "LO", value: "VENDOR" },
    { tag: tag(0x0029, 0x1001), vr: "UN", value: Uint8Array.from([0xfe, 0xff, 0xdd, 0xe0]) },
    { tag: tag(0x0029, 0x1002), vr: "UN", value: new TextEncoder().encode("Dr Smith ") },
  ].sort((a, b) => ("tag" in a && "tag" in b ? a.tag - b.tag : 0)))).file;
  const flat = flattenFile(file);
  assert.deepEqual(flat.find((e) => e.path === "(0029,1001)")?.strings, []);
  assert.deepEqual(flat.find((e) => e.path === "(0029,1002)")?.strings, ["Dr Smith"]);
});

Deno.test("tokens: a whole name is its family, given and middle names, not its prefix and suffix", () => {
  assert.equal(found(name("Operator^John^^Mr.^Sr."), "read by JOHN OPERATOR"), "whole name, part by part");
  assert.equal(found(name("Doe, John"), "doe john"), "whole name, part by part");
});
