/**
 * Verify's precision (issue 16, item 2): every example protocol (examples/*.yaml) run on the
 * repository's fixtures and on ../shared/corpus (when it is there) verifies with no findings: no
 * false alarm on a correct output. Files the run quarantines are fine; only findings count.
 *
 * One leak is real and expected: the NIfTI fixtures put the patient's name in SeriesDescription
 * and StudyDescription on purpose ("SERIES FOR PATIENT PHIPHI"), and research.yaml keeps
 * SeriesDescription and edits StudyDescription with a regular expression, so its outputs (and
 * their folder names, made from the description) hold "Phiphi". Verify must find exactly that.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Finding } from "../src/verify/findings.ts";
import type { FileRow } from "../src/verify/records.ts";
import { readFileRows } from "../src/verify/records.ts";
import { verifyOutput } from "../src/verify/verify.ts";
import { CORPUS, corpusFiles } from "./helpers.ts";
import { examples, KEYS, runExample, writeFixtureInput } from "./_verify_runs.ts";

/** The planted leak of the NIfTI fixtures through research.yaml's kept descriptions (see above). */
function expectedLeak(label: string, protocol: string, f: Finding, rows: readonly FileRow[]): boolean {
  return label === "fixtures" && protocol === "research.yaml" &&
    (f.kind === "phi-element" || f.kind === "phi-path") &&
    rows[(f.input ?? 0) - 1]?.input.startsWith("nifti/") &&
    /^(((Study|Series)Description(, )?)+ holds?|its path holds) P\*\*\*, /.test(f.detail) &&
    /the source's PatientName \(input #\d+\) \[name part\]$/.test(f.detail);
}

Deno.test("verify precision: every example protocol on the fixtures and the corpus gives no findings", async (t) => {
  const work = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-verify-precision-" }));
  try {
    const inputs: [string, string][] = [["fixtures", join(work, "raw")]];
    await writeFixtureInput(inputs[0][1]);
    if ((await corpusFiles()).length) inputs.push(["corpus", CORPUS.replace(/\/$/, "")]);
    for (const [label, input] of inputs) {
      for (const name of examples()) {
        await t.step(`${name} on the ${label}`, async () => {
          const protocol = await runExample(name, input, join(work, label));
          const r = await verifyOutput(protocol, protocol.deidentify ? KEYS : undefined);
          assert.ok(r.checked + (r.nifti?.checked ?? 0) > 0, `${name} on the ${label}: nothing checked`);
          const rows = await readFileRows(protocol.output.root);
          const expected = r.findings.filter((f) => expectedLeak(label, name, f, rows));
          const unexpected = r.findings.filter((f) => !expected.includes(f));
          assert.deepEqual(
            unexpected.map((f) => `${f.kind} ${f.output}: ${f.detail}`),
            [],
            `${name} on the ${label}: false alarms`,
          );
          if (label === "fixtures" && name === "research.yaml") {
            assert.ok(expected.length > 0, "the NIfTI fixtures' name in the kept descriptions was not found");
          }
        });
      }
    }
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});
