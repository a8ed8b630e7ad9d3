/**
 * Regressions from the first review of the de-identification engine and protocol loader: each
 * test is a way identifying data (or the salt) got through before.
 */
import assert from "node:assert/strict";
import { buildDicom, type Node, sampleDataset, tag } from "./fixtures/builder.ts";
import { parseDicom } from "../src/dicom/reader.ts";
import { encodeFile } from "../src/dicom/writer.ts";
import { decodeStrings } from "../src/dicom/values.ts";
import type { DataSet, DicomFile } from "../src/dicom/model.ts";
import { DeidSession } from "../src/deid/session.ts";
import { type DeidConfig, deidConfig } from "../src/deid/config.ts";
import { Keys } from "../src/deid/keys.ts";
import { loadProtocol } from "../src/protocol/load.ts";
import { ProtocolError } from "../src/protocol/errors.ts";
import { parseSelector } from "../src/protocol/selector.ts";
import { toJsonDataSet } from "../src/dicom/dump.ts";

const SALT = new TextEncoder().encode("review-salt-0123456789");

function deid(nodes: Node[], config: Partial<DeidConfig> = {}): DicomFile {
  const file = parseDicom(buildDicom(nodes), { file: "in.dcm" }).file;
  new DeidSession(deidConfig(config), new Keys(SALT)).deidentify(file);
  const chunks = encodeFile(file) as Uint8Array[]; // no zeroPreamble: the engine must have done it
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return parseDicom(bytes, { file: "out.dcm" }).file;
}

function value(ds: DataSet, t: number): string | undefined {
  const el = ds.elements.find((e) => e.tag === t);
  return el ? (decodeStrings(el, ds)[0] ?? "") : undefined;
}

const BIRTH_DATE = tag(0x0010, 0x0030);

Deno.test("review: a birth date is emptied under every date policy and option", () => {
  const configs: Partial<DeidConfig>[] = [
    { options: ["retain-longitudinal-modified-dates"], dates: { shift: { min_days: -500, max_days: -10 } } },
    { options: ["retain-longitudinal-full-dates"] },
    { dates: "keep" },
    { dates: "year-only" },
  ];
  for (const c of configs) {
    const out = deid(sampleDataset(), c);
    assert.equal(value(out.dataset, BIRTH_DATE) ?? "", "", JSON.stringify(c));
  }
});

Deno.test("review: the preamble is zeroed and the meta instance UID remapped without a data set UID", () => {
  const nodes = sampleDataset().filter((n) => !("tag" in n) || n.tag !== tag(0x0008, 0x0018));
  const input = buildDicom(nodes, { sopInstanceUID: "1.2.826.0.1.3680043.10.1000.77.1" });
  input.set(new TextEncoder().encode("PREAMBLE-CANARY"), 0);
  const file = parseDicom(input).file;
  new DeidSession(deidConfig(), new Keys(SALT)).deidentify(file);
  const out = parseDicom(Uint8Array.from((encodeFile(file) as Uint8Array[]).flatMap((c) => [...c]))).file;
  assert.deepEqual(out.preamble, new Uint8Array(128));
  const media = value(out.meta!, 0x00020003)!;
  assert.match(media, /^2\.25\./);
});

Deno.test("review: replace templates see de-identified values, never the originals", () => {
  const rules = [{
    selector: parseSelector("StudyDescription"),
    action: { replace: "{pseudo_id} {PatientName} {AccessionNumber} {StudyDate}" },
    origin: "protocol" as const,
  }];
  const nodes: Node[] = [
    ...sampleDataset(),
    { tag: tag(0x0008, 0x0050), vr: "SH", value: "ACC0001" },
    { tag: tag(0x0008, 0x1030), vr: "LO", value: "whatever" },
  ];
  const out = deid(nodes, { rules });
  const text = value(out.dataset, tag(0x0008, 0x1030))!;
  assert.doesNotMatch(text, /Doe|John|ACC0001/);
  assert.equal(text.split(" ")[0], value(out.dataset, tag(0x0010, 0x0020)));
});

Deno.test("review: names and instance UIDs the table does not list are not kept", () => {
  const nodes: Node[] = [
    ...sampleDataset(),
    { tag: tag(0x0014, 0x2006), vr: "PN", value: "Evaluator^Eve" }, // EvaluatorName
    { tag: tag(0x0020, 0x0242), vr: "UI", value: "1.2.826.0.1.3680043.10.1000.55.9" }, // ...OfConcatenationSource
  ];
  const out = deid(nodes);
  assert.equal(value(out.dataset, tag(0x0014, 0x2006)), "");
  assert.match(value(out.dataset, tag(0x0020, 0x0242))!, /^2\.25\./);
  assert.equal(value(out.dataset, tag(0x0008, 0x0016)), "1.2.840.10008.5.1.4.1.1.2", "SOP Class UID stays");
});

Deno.test("review: dump --json masks private numbers", () => {
  const nodes: Node[] = [
    ...sampleDataset(),
    { tag: tag(0x0009, 0x0010), vr: "LO", value: "ACME 1.0" },
    { tag: tag(0x0009, 0x1027), vr: "SL", value: 862399669 },
  ];
  const json = toJsonDataSet(parseDicom(buildDicom(nodes)).file.dataset);
  assert.deepEqual(json["00091027"].Value, ["***"]);
  assert.deepEqual(json["00100040"].Value, ["***"], "a one-letter value is not shown whole");
});

Deno.test("review: the loader never echoes a salt pasted as a variable name, and refuses weak salts", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-review-" }));
  const problems = async (yaml: string, env: Record<string, string> = {}) => {
    await Deno.writeTextFile(`${dir}/p.yaml`, yaml);
    try {
      await loadProtocol(`${dir}/p.yaml`, { env: (n) => env[n] });
      return "";
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      return e.message.replaceAll(dir, "<dir>");
    }
  };
  const base = (salt: string, extra = "") =>
    `version: 1\nname: r\ninput: { root: ./in }\noutput: { root: ./out }\ndeidentify:\n  salt: ${salt}\n${extra}`;
  try {
    const pasted = "a3f9c2e1b7d84f6a0c1d";
    const m1 = await problems(base(`{ env: ${pasted} }`));
    assert.ok(!m1.includes(pasted), m1);
    assert.match(m1, /environment variable named in salt\.env is not set/);
    assert.match(await problems(base("{ env: S }"), { S: "short" }), /too short: use at least 16/);
    assert.match(
      await problems(
        base("{ env: S }", "  tags:\n    StudyDescription: { regexp: { find: '(', replace: '' } }\n"),
        {
          S: "long-enough-salt-0000",
        },
      ),
      /is not a valid regular expression/,
    );
    assert.match(
      await problems(base("{ env: S }", "  tags:\n    StudyDescription: { replace: '{PatientNmae}' }\n"), {
        S: "long-enough-salt-0000",
      }),
      /"\{PatientNmae\}" in replace is not pseudo_id or a DICOM keyword \(did you mean "PatientName"\?\)/,
    );
    await Deno.mkdir(`${dir}/in`);
    await Deno.symlink(`${dir}/in`, `${dir}/alias`);
    await Deno.writeTextFile(
      `${dir}/p.yaml`,
      `version: 1\nname: r\ninput: { root: ./in }\noutput: { root: ./alias/out }\n`,
    );
    await assert.rejects(() => loadProtocol(`${dir}/p.yaml`), /overlaps the input root/);
    await Deno.writeFile(`${dir}/x.dcm`, buildDicom(sampleDataset()));
    await assert.rejects(() => loadProtocol(`${dir}/x.dcm`), /binary file, not a protocol/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deid: two patients on one pseudonym is an error, not a merge", () => {
  const session = new DeidSession(
    deidConfig({
      patientId: { lookup: { file: "ids.csv", missing: "keep" } },
      lookup: new Map([["P1", "S1"]]),
    }),
    new Keys(SALT),
  );
  assert.equal(session.pseudonymFor("", "P1"), "S1");
  assert.equal(session.pseudonymFor("", "P1"), "S1", "the same patient again is fine");
  // "S1" is not in the table and is kept as it is: it would land on P1's pseudonym.
  assert.throws(() => session.pseudonymFor("", "S1"), /two different patients map to the pseudonym S1/);
});

// Found by the plan review (issue 5): scrub_free_text looped forever on IS/DS values, and a file
// without PatientID under patient_id: keep got its original StudyInstanceUID as PatientID.
Deno.test("review 2: scrub_free_text cleans names in text and keeps numbers, without looping", () => {
  const nodes = sampleDataset().map((n) =>
    "tag" in n && n.tag === tag(0x0008, 0x1030) ? { ...n, value: "Follow-up for Doe" } as Node : n
  );
  const out = deid(nodes, { scrubFreeText: true, rules: [] });
  assert.equal(value(out.dataset, tag(0x0018, 0x0050)), "1"); // SliceThickness (DS) untouched
  const text = JSON.stringify(toJsonDataSet(out.dataset, { showPHI: true }));
  assert.ok(!/Doe/i.test(text), text);
});

Deno.test("review 2: no PatientID with patient_id: keep stays without one; the study UID is not used", () => {
  const nodes = sampleDataset().filter((n) => !("tag" in n) || n.tag !== tag(0x0010, 0x0020));
  const original = nodes.find((n) => "tag" in n && n.tag === tag(0x0020, 0x000d)) as { value: string };
  const configs: Partial<DeidConfig>[] = [
    { patientId: "keep" },
    { patientId: { lookup: { file: "ids.csv", missing: "keep" } }, lookup: new Map() },
  ];
  for (const config of configs) {
    const out = deid(nodes, config);
    assert.ok(!(value(out.dataset, tag(0x0010, 0x0020)) ?? "").includes(original.value));
    const text = JSON.stringify(toJsonDataSet(out.dataset, { showPHI: true }));
    assert.ok(!text.includes(original.value), "the original study UID appears nowhere");
  }
});

// Found by the new-user review: unlisted standard text kept the patient's name ("DOE window"), and
// C cleaning did not know names outside the listed attributes (a ContentCreatorName in a
// segmentation's SeriesDescription).
Deno.test("review 2: unlisted text loses the file's names and IDs as whole words; codes stay intact", () => {
  const nodes: Node[] = [
    ...sampleDataset().map((n) =>
      "tag" in n && n.tag === tag(0x0020, 0x0010) ? { ...n, value: "12" } as Node : n // StudyID
    ),
    { tag: tag(0x0028, 0x1055), vr: "LO", value: "DOE window" }, // WindowCenterWidthExplanation
    { tag: tag(0x0070, 0x0084), vr: "PN", value: "Roe^Richard" }, // ContentCreatorName
    { tag: tag(0x6000, 0x0022), vr: "LO", value: "Overlay desc JOHN DOE" }, // OverlayDescription
    { tag: tag(0x0008, 0x0100), vr: "SH", value: "T-12000" }, // CodeValue, outside a sequence here
    { tag: tag(0x0008, 0x103e), vr: "LO", value: "segmentation by Richard Roe" }, // SeriesDescription
  ].sort((a, b) => ("tag" in a && "tag" in b ? a.tag - b.tag : 0));
  const out = deid(nodes, { options: ["clean-descriptors"] });
  const text = JSON.stringify(toJsonDataSet(out.dataset, { showPHI: true }));
  for (const phi of ["Doe", "Richard", "Roe"]) {
    assert.ok(!new RegExp(phi, "i").test(text), `${phi} in ${text}`);
  }
  assert.equal(value(out.dataset, tag(0x0028, 0x1055)), "window");
  assert.equal(value(out.dataset, tag(0x0008, 0x0100)), "T-12000");
});
