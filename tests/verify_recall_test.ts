/**
 * Verify's recall (issue 16, item 2): leaks of each source's own PHI planted into a copy of a
 * finished run's outputs are all found, each with the finding kind expected: a free-text element,
 * a surname alone, a private element, an item of a sequence, another case, another character set (a Latin-1 name in
 * a UTF-8 file and the other way round), another date spelling, the preamble, a file name and a
 * NIfTI sidecar value. On the fixtures, and on ../shared/corpus when it is there.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { stringify } from "csv-stringify/sync";
import { loadDeidConfig } from "../src/deid/config.ts";
import { openSession } from "../src/deid/session.ts";
import { insertElement, setValue } from "../src/dicom/edit.ts";
import { DicomWriteError } from "../src/dicom/errors.ts";
import { type DataSet, UNDEFINED_LENGTH } from "../src/dicom/model.ts";
import { readDicomFile } from "../src/dicom/read_file.ts";
import { parseDicom } from "../src/dicom/reader.ts";
import { charsetOf } from "../src/dicom/values.ts";
import { writeDicomFile } from "../src/dicom/write_file.ts";
import { buildMeta } from "../src/dicom/writer.ts";
import { loadProtocol } from "../src/protocol/load.ts";
import type { Protocol } from "../src/protocol/protocol.ts";
import { parseCsv } from "../src/util/csv.ts";
import type { FindingKind } from "../src/verify/findings.ts";
import { flattenFile, type PhiValue, phiValues } from "../src/verify/phi.ts";
import { readFileRows } from "../src/verify/records.ts";
import { verifyOutput } from "../src/verify/verify.ts";
import { CORPUS, corpusFiles, runCli } from "./helpers.ts";
import { KEYS, runExample, SALT, writeFixtureInput } from "./_verify_runs.ts";

/** The kinds of leak planted, each with the finding kinds that count as found. */
const KINDS = {
  "free text": ["phi-element"],
  "name part": ["phi-element"],
  "private element": ["phi-element"],
  "nested item": ["phi-element"],
  "other case": ["phi-element"],
  "date spelling": ["phi-element"],
  "other character set": ["phi-element", "phi-bytes"],
  "preamble": ["phi-bytes"],
  "file name": ["phi-path"],
} as const satisfies Record<string, readonly FindingKind[]>;
type Kind = keyof typeof KINDS;

const latin1Bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const isLatin1 = (s: string) => [...s].every((c) => c.charCodeAt(0) <= 0xff) && /[^\x20-\x7e]/.test(s);

/** The source's PHI as verify works it out (the de-identification redone in memory). */
async function sourcePhi(protocol: Protocol, path: string): Promise<PhiValue[]> {
  const session = openSession(await loadDeidConfig(protocol), KEYS, { hooks: "stub" });
  const source = await readDicomFile(path);
  const before = flattenFile(source);
  session.deidentify(source);
  return phiValues(before, flattenFile(source, buildMeta(source)));
}

/** The value to plant for a kind, if the source has one that fits: its name first, then IDs, dates. */
function pick(phi: readonly PhiValue[], kind: Kind): PhiValue | undefined {
  if (kind === "name part") return phi.find((p) => p.part && p.source === "PatientName");
  const whole = phi.filter((p) => !p.part);
  const rank = (p: PhiValue) =>
    p.source === "PatientName" ? 0 : p.source === "PatientID" ? 1 : p.vr === "PN" ? 2 : p.vr === "UI" ? 4 : 3;
  const sorted = [...whole].sort((a, b) => rank(a) - rank(b));
  if (kind === "date spelling") return sorted.find((p) => p.vr === "DA" && /^\d{8}$/.test(p.value));
  if (kind === "other character set") return sorted.find((p) => isLatin1(p.value));
  if (kind === "other case") return sorted.find((p) => p.value.toUpperCase() !== p.value.toLowerCase());
  return sorted[0];
}

const SPELLINGS = [
  (y: string, m: string, d: string) => `${y}-${m}-${d}`,
  (y: string, m: string, d: string) => `${d}.${m}.${y}`,
  (y: string, m: string, d: string) => `${m}/${d}/${y}`,
  (y: string, m: string, d: string) => `${y}/${m}/${d}`,
];

/** Plant `v` into the data set `ds` (top level of an output) as `kind`. */
function plantIn(ds: DataSet, kind: Kind, v: string, n: number): void {
  const text = v.replace(/\^+/g, " ").trim();
  switch (kind) {
    case "free text":
      setValue(ds, 0x00204000, `reviewed with ${text} present`, "LT"); // ImageComments
      return;
    case "name part":
      setValue(ds, 0x00081030, `follow-up (${text})`, "LO"); // StudyDescription
      return;
    case "private element":
      setValue(ds, 0x00110010, "PLANTED LEAK", "LO");
      setValue(ds, 0x00111010, `note: ${v}`, "LO");
      return;
    case "nested item": {
      const item: DataSet = { elements: [], encoding: ds.encoding, parent: ds };
      setValue(item, 0x0040a160, `as told by ${text}`, "UT"); // TextValue
      const existing = ds.elements.find((e) => e.tag === 0x0040a730);
      const items = [{ length: UNDEFINED_LENGTH, dataset: item }];
      if (existing?.items) existing.items.push(...items), existing.dirty = true;
      else insertElement(ds, { tag: 0x0040a730, vr: "SQ", length: UNDEFINED_LENGTH, items, dirty: true });
      ds.modified = true;
      return;
    }
    case "other case": {
      const swapped = text === text.toUpperCase() ? text.toLowerCase() : text.toUpperCase();
      setValue(ds, 0x00204000, `patient ${swapped} seen`, "LT");
      return;
    }
    case "date spelling": {
      const [, y, m, d] = /^(\d{4})(\d{2})(\d{2})$/.exec(v)!;
      setValue(ds, 0x00204000, `born ${SPELLINGS[n % SPELLINGS.length](y, m, d)}, seen today`, "LT");
      return;
    }
    case "other character set": {
      // The other encoding's bytes of the name, in a private binary value.
      const utf8File = charsetOf(ds).includes("192");
      const bytes = utf8File ? latin1Bytes(v) : new TextEncoder().encode(v);
      setValue(ds, 0x00110010, "PLANTED LEAK", "LO");
      setValue(ds, 0x00111011, Uint8Array.from([1, 2, 0x20, ...bytes, 0x20, 0]), "OB");
      return;
    }
    default:
      return;
  }
}

/** A copy of a finished run's output, with one leak planted into each of many outputs. */
interface Planted {
  /** The copy's protocol (output root: the copy). */
  readonly protocol: Protocol;
  /** Output path (relative) to the kind planted there and the finding kinds that count. */
  readonly leaks: Map<string, { kind: string; expect: readonly string[] }>;
}

/** Copy `protocol`'s output to `copy` and plant leaks into its DICOM outputs (kinds in turn). */
async function plantDicom(protocol: Protocol, input: string, copy: string): Promise<Planted> {
  await new Deno.Command("cp", { args: ["-a", protocol.output.root, copy] }).output();
  const p = await loadProtocol(protocol.file, { env: () => SALT, input, output: copy });
  const rows = await readFileRows(copy);
  const leaks = new Map<string, { kind: string; expect: readonly string[] }>();
  const renamed = new Map<string, string>();
  const kinds = Object.keys(KINDS) as Kind[];
  let turn = 0;
  for (const r of rows) {
    if (r.status !== "written" || r.output === "") continue;
    const phi = await sourcePhi(p, join(r.root, r.input));
    // The kinds in turn (a name beyond ASCII: another character set first); one whose value the
    // source lacks, or that its character set cannot write, gives way to the next.
    const order = kinds.map((_, k) => kinds[(turn + k) % kinds.length]);
    if (pick(phi, "other character set")) order.unshift("other character set");
    const path = join(copy, r.output);
    let planted: Kind | undefined;
    for (const kind of order) {
      const v = pick(phi, kind);
      if (!v) continue;
      if (kind === "file name") {
        const to = join(dirname(r.output), `${v.value.replace(/[^\p{L}\p{N}.-]+/gu, "_")}.dcm`);
        await Deno.rename(path, join(copy, to));
        renamed.set(r.output, to);
        leaks.set(to, { kind, expect: KINDS[kind] });
        planted = kind;
        break;
      }
      const file = parseDicom(await Deno.readFile(path)).file;
      try {
        plantIn(file.dataset, kind, v.value, turn);
      } catch (e) {
        if (e instanceof DicomWriteError) continue; // e.g. a Hebrew name into ISO_IR 138 text
        throw e;
      }
      await writeDicomFile(file, path, { overwrite: true });
      if (kind === "preamble") {
        const bytes = await Deno.readFile(path);
        if (bytes.length < 132 || new TextDecoder().decode(bytes.subarray(128, 132)) !== "DICM") continue;
        bytes.set(new TextEncoder().encode(` ${v.value} `).subarray(0, 120), 4);
        await Deno.writeFile(path, bytes);
      }
      leaks.set(r.output, { kind, expect: KINDS[kind] });
      planted = kind;
      break;
    }
    if (planted) turn++;
  }
  if (renamed.size) {
    // files.csv names the renamed outputs: the copy is a consistent run whose names leak.
    const csv = join(copy, ".dcmtidy", "files.csv");
    const [header, ...body] = parseCsv(await Deno.readTextFile(csv));
    const col = header.indexOf("Output");
    for (const row of body) if (renamed.has(row[col])) row[col] = renamed.get(row[col])!;
    await Deno.writeTextFile(csv, stringify([header, ...body.filter((r) => r.length > 1)]));
  }
  return { protocol: p, leaks };
}

/** Copy a NIfTI run's output to `copy` and put a PHI value of its sources into each sidecar. */
async function plantSidecars(protocol: Protocol, input: string, copy: string): Promise<Planted> {
  await new Deno.Command("cp", { args: ["-a", protocol.output.root, copy] }).output();
  const p = await loadProtocol(protocol.file, { env: () => SALT, input, output: copy });
  const leaks = new Map<string, { kind: string; expect: readonly string[] }>();
  const done = new Set<string>();
  for (const r of await readFileRows(copy)) {
    const volume = r.nifti.split(";").find(Boolean);
    if (r.status !== "written" || !volume || done.has(volume)) continue;
    const v = pick(await sourcePhi(p, join(r.root, r.input)), "free text");
    if (!v) continue;
    done.add(volume);
    const sidecar = `${volume.replace(/\.nii\.gz$/, "")}.json`;
    const json = JSON.parse(await Deno.readTextFile(join(copy, sidecar)));
    json.ImageComments = [`subject ${v.value.replace(/\^+/g, " ")}`];
    await Deno.writeTextFile(join(copy, sidecar), JSON.stringify(json, null, 2));
    leaks.set(sidecar, { kind: "NIfTI sidecar", expect: ["phi-nifti"] });
  }
  return { protocol: p, leaks };
}

/** Verify the planted copy: every leak found with its kind, and no finding elsewhere. */
async function assertFound(planted: Planted, label: string): Promise<Map<string, number>> {
  const r = await verifyOutput(planted.protocol, KEYS);
  const byOutput = new Map<string, Set<string>>();
  for (const f of r.findings) {
    byOutput.set(f.output ?? "-", (byOutput.get(f.output ?? "-") ?? new Set()).add(f.kind));
  }
  const missed: string[] = [];
  const counts = new Map<string, number>();
  for (const [output, { kind, expect }] of planted.leaks) {
    const got = byOutput.get(output) ?? new Set();
    if (!expect.some((k) => got.has(k))) {
      missed.push(`${kind}: ${output} (${[...got].join(", ") || "nothing"})`);
    }
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  assert.deepEqual(missed, [], `${label}: planted leaks verify missed`);
  const elsewhere = r.findings.filter((f) => !planted.leaks.has(f.output ?? "-"));
  assert.deepEqual(elsewhere, [], `${label}: findings on outputs without a planted leak`);
  console.log(`${label}: ${[...counts].map(([k, n]) => `${k} ${n}`).join(", ")}: all found`);
  return counts;
}

Deno.test("verify recall: every leak of a source's own PHI planted into a copy of its outputs is found", async (t) => {
  const work = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-verify-recall-" }));
  try {
    const inputs: [string, string][] = [["fixtures", join(work, "raw")]];
    await writeFixtureInput(inputs[0][1]);
    if ((await corpusFiles()).length) inputs.push(["corpus", CORPUS.replace(/\/$/, "")]);
    for (const [label, input] of inputs) {
      await t.step(`${label}: DICOM outputs (dcm2dir.yaml)`, async () => {
        const run = await runExample("dcm2dir.yaml", input, join(work, label));
        const planted = await plantDicom(run, input, join(work, label, "planted"));
        const counts = await assertFound(planted, label);
        for (const kind of Object.keys(KINDS)) {
          // The corpus has no name beyond ASCII in Latin-1's range.
          if (label === "corpus" && kind === "other character set") continue;
          assert.ok((counts.get(kind) ?? 0) > 0, `${label}: no ${kind} planted`);
        }
        if (label === "fixtures") {
          // The command line says so too: exit 4.
          const cli = await runCli(
            ["verify", run.file, "--input", input, "--output", planted.protocol.output.root],
            { DCMTIDY_SALT: SALT, NO_COLOR: "1" },
          );
          assert.equal(cli.code, 4, cli.stdout + cli.stderr);
        }
      });
      await t.step(`${label}: NIfTI sidecars (nifti.yaml)`, async () => {
        const run = await runExample("nifti.yaml", input, join(work, label));
        const planted = await plantSidecars(run, input, join(work, label, "planted-nifti"));
        assert.ok(planted.leaks.size > 0, `${label}: no sidecar planted`);
        await assertFound(planted, `${label} (NIfTI)`);
      });
    }
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});
