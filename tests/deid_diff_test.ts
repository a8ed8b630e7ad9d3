import assert from "node:assert/strict";
import { parseDicom } from "../src/dicom/reader.ts";
import { deidConfig } from "../src/deid/config.ts";
import { diffFlat, flattenDataSet } from "../src/deid/diff.ts";
import { DeidSession } from "../src/deid/session.ts";
import { Keys } from "../src/deid/keys.ts";
import { buildDicom, nestedPatientNameDataset, tag } from "./fixtures/builder.ts";

const bytes = () =>
  buildDicom([
    ...nestedPatientNameDataset({ depth: 2, undefinedLength: true }),
    { tag: tag(0x0029, 0x0010), vr: "LO", value: "ACME" },
    { tag: tag(0x0029, 0x1001), vr: "LO", value: "secret note" },
  ].sort((a, b) => ("tag" in a && "tag" in b ? a.tag - b.tag : 0)));

Deno.test("flattenDataSet gives every nested element a path and its value as text", () => {
  const flat = flattenDataSet(parseDicom(bytes()).file.dataset);
  const byPath = new Map(flat.map((e) => [e.path, e]));
  assert.deepEqual(byPath.get("RequestAttributesSequence[0].PatientName")?.text, "Nested^Name^L1");
  assert.deepEqual(
    byPath.get("RequestAttributesSequence[0].RequestAttributesSequence[0].PatientName")?.values,
    ["Nested^Name^L2"],
  );
  assert.deepEqual(byPath.get("(0029,1001)")?.creator, "ACME");
  assert.deepEqual(byPath.get("RequestAttributesSequence")?.text, "<1 item>");
});

Deno.test("diffFlat lists what de-identification changed, removed and added", () => {
  const file = parseDicom(bytes()).file;
  const before = flattenDataSet(file.dataset);
  new DeidSession(deidConfig(), new Keys(new TextEncoder().encode("diff-test-salt"))).deidentify(file);
  const changes = diffFlat(before, flattenDataSet(file.dataset));
  const byPath = new Map(changes.map((c) => [c.path, c]));
  // Private data goes; the patient's name is emptied; the study UID is remapped.
  assert.deepEqual(byPath.get("(0029,1001)")?.before, "secret note");
  assert.deepEqual(byPath.get("(0029,1001)")?.after, undefined);
  const name = byPath.get("PatientName");
  assert(name && name.before !== name.after && name.after !== undefined, JSON.stringify(name));
  const study = byPath.get("StudyInstanceUID");
  assert(study?.after?.startsWith("2.25."), JSON.stringify(study));
  assert.deepEqual(byPath.get("PatientIdentityRemoved")?.after, "YES");
  assert.deepEqual(byPath.get("PatientIdentityRemoved")?.before, undefined);
  // A removed sequence is one line, not one per nested element.
  const removedSeqs = changes.filter((c) => c.after === undefined && c.before?.endsWith("item>"));
  for (const s of removedSeqs) assert(!changes.some((c) => c.path.startsWith(`${s.path}[`)), s.path);
  // Nothing unchanged is listed.
  assert(!byPath.has("Rows"));
});
