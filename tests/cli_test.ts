/**
 * The `dump` and `modify` commands as a user runs them: masked PHI by default, DICOM JSON that
 * parses and round-trips tag, VR and value, clear one-line errors with the right exit codes.
 */
import assert from "node:assert/strict";
import { buildDicom, nestedPatientNameDataset, sampleDataset } from "./fixtures/builder.ts";
import { readDicomFile } from "../src/dicom/read_file.ts";
import { toJsonDataSet } from "../src/dicom/dump.ts";
import type { DataSet } from "../src/dicom/model.ts";
import { decodeValue } from "../src/dicom/values.ts";
import { CORPUS, corpusFiles, hasTool, runCli, runTool } from "./helpers.ts";

async function fixtureDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-cli-" });
  await Deno.writeFile(
    `${dir}/a.dcm`,
    buildDicom(nestedPatientNameDataset({ depth: 3, undefinedLength: true })),
  );
  await Deno.writeFile(`${dir}/b.dcm`, buildDicom(sampleDataset(), { ts: "implicit-le" }));
  return dir;
}

Deno.test("cli dump: identifying values are masked unless --show-phi", async () => {
  const dir = await fixtureDir();
  try {
    const masked = await runCli(["dump", `${dir}/a.dcm`]);
    assert.equal(masked.code, 0, masked.stderr);
    assert.match(masked.stdout, /\[D\*\*\*\^J\*\*\*\] PatientName/);
    assert.doesNotMatch(masked.stdout, /Doe|Nested\^Name|PID001/);
    const shown = await runCli(["dump", "--show-phi", `${dir}/a.dcm`]);
    assert.match(shown.stdout, /\[Doe\^John\] PatientName/);
    assert.match(shown.stdout, /Nested\^Name\^L3/);
    const json = await runCli(["dump", "--json", `${dir}/a.dcm`]);
    assert.doesNotMatch(json.stdout, /Doe|Nested\^Name|PID001/);
    assert.equal(JSON.parse(json.stdout)["00100010"].Value[0].Alphabetic, "D***^J***");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli modify: edits, refuses to touch inputs, one-line errors and exit codes", async () => {
  const dir = await fixtureDir();
  try {
    const ok = await runCli([
      "modify",
      `${dir}/a.dcm`,
      `${dir}/b.dcm`,
      "--out",
      `${dir}/out`,
      "--set",
      "PatientName=New^Name",
      "--set",
      "RequestAttributesSequence[0].RequestAttributesSequence[0].RequestedProcedureID=RP-NEW",
      "--delete",
      "PatientBirthDate",
    ]);
    // b.dcm has no RequestAttributesSequence: that file fails, a.dcm is written.
    assert.equal(ok.code, 1);
    assert.match(ok.stderr, /b\.dcm: .*RequestAttributesSequence/);
    assert.doesNotMatch(ok.stderr, /\n\s+at /, "no stack trace");
    const a = await readDicomFile(`${dir}/out/a.dcm`);
    const name = a.dataset.elements.find((e) => e.tag === 0x00100010)!;
    assert.deepEqual(decodeValue(name, a.dataset), ["New^Name"]);
    assert.equal(a.dataset.elements.find((e) => e.tag === 0x00100030), undefined);

    const typo = await runCli(["modify", `${dir}/a.dcm`, "--out", `${dir}/out2`, "--set", "PatientNmae=x"]);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /"PatientNmae" is not a DICOM keyword or tag \(did you mean "PatientName"/);

    const over = await runCli(["modify", `${dir}/a.dcm`, "--out", dir, "--overwrite"]);
    assert.equal(over.code, 1);
    assert.match(over.stderr, /refusing to write over the input file/);

    const missing = await runCli(["dump", `${dir}/nope.dcm`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope\.dcm: no such file/);

    const junk = `${dir}/junk.txt`;
    await Deno.writeTextFile(junk, "hello, this is not DICOM at all\n");
    const notDicom = await runCli(["dump", junk]);
    assert.equal(notDicom.code, 1);
    assert.match(notDicom.stderr, /junk\.txt: at byte 0: .*not a DICOM file/);

    assert.equal((await runCli(["dump"])).code, 2);
    assert.equal((await runCli(["--version"])).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Compare the JSON model with the data set it came from, recursively. */
function assertJsonMatches(
  json: Record<string, { vr: string; Value?: unknown[] }>,
  ds: DataSet,
  where: string,
) {
  const keys = ds.elements.map((e) => e.tag.toString(16).toUpperCase().padStart(8, "0"));
  // Key order is not meaningful in JSON (and JS orders integer-like keys such as "20500020" first).
  assert.deepEqual(Object.keys(json).sort(), keys.sort(), where);
  for (const el of ds.elements) {
    const key = el.tag.toString(16).toUpperCase().padStart(8, "0");
    const attr = json[key];
    assert.equal(attr.vr, el.vr, `${where} ${key}`);
    if (el.items) {
      el.items.forEach((item, i) =>
        assertJsonMatches(
          attr.Value![i] as Record<string, { vr: string }>,
          item.dataset,
          `${where} ${key}[${i}]`,
        )
      );
      continue;
    }
    const value = decodeValue(el, ds);
    if (!Array.isArray(value) || el.vr === "AT") continue;
    const got = (attr.Value ?? []).map((v) =>
      v && typeof v === "object" ? Object.values(v as Record<string, string>).join("=") : v
    );
    const want = value.map((v) => {
      if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
      if (v === "") return null;
      if (el.vr === "PN") return String(v).replace(/=+$/, ""); // JSON drops empty component groups
      if ((el.vr === "DS" || el.vr === "IS") && Number.isFinite(Number(v))) return Number(v);
      return v;
    });
    assert.deepEqual(got.map(String), want.map(String), `${where} ${key}`);
  }
}

Deno.test("cli dump --json: parses and round-trips tag, VR and value for the corpus", async () => {
  const files = await corpusFiles();
  let checked = 0;
  for (const path of files) {
    let file;
    try {
      file = await readDicomFile(path);
    } catch {
      continue; // junk and broken files are the robustness test's business
    }
    const text = JSON.stringify(toJsonDataSet(file.dataset, { showPHI: true }));
    assertJsonMatches(JSON.parse(text), file.dataset, path.slice(CORPUS.length));
    checked++;
  }
  console.log(`dump --json: ${checked} corpus files round-tripped`);
  // The command itself, against dcmtk's dcm2json: the same top-level attributes.
  if (files.length && (await hasTool("dcm2json"))) {
    const ct = `${CORPUS}CT_small.dcm`;
    const ours = JSON.parse((await runCli(["dump", "--json", "--show-phi", ct])).stdout);
    const theirs = JSON.parse((await runTool("dcm2json", [ct]))!.stdout);
    assert.deepEqual(Object.keys(ours).sort(), Object.keys(theirs).sort());
    assert.deepEqual(ours["00100010"], theirs["00100010"]);
    assert.deepEqual(ours["00280030"], theirs["00280030"]);
  }
});
