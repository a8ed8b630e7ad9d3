/**
 * NIfTI output end to end (issue 8): the fixture series as a raw dump, run through the CLI with
 * `output.format: nifti` and `both`. One .nii.gz and sidecar per series (split series `_1`, `_2`),
 * the series that cannot form a volume quarantined with its reason (nifti) or written as DICOM
 * with the reason in the report (both), no PHI of the fixtures in a NIfTI or sidecar, re-runs that
 * change nothing, a killed run finished by the next, verify passing and catching planted PHI,
 * shards merged into the single run, and NIfTI names that never clash.
 */
import assert from "node:assert/strict";
import { gunzip, gzip } from "../src/nifti/gzip.ts";
import { parseNifti1Header } from "../src/nifti/nifti1.ts";
import { parseCsv } from "../src/util/csv.ts";
import { loadProtocol } from "../src/protocol/load.ts";
import { makePlan } from "../src/plan/mod.ts";
import { planJson } from "../src/plan/json.ts";
import { planSummary } from "../src/plan/summary.ts";
import { runPlan } from "../src/run/mod.ts";
import { NIFTI_PHI, niftiSeries, stack } from "./fixtures/nifti_fixtures.ts";
import { killCliWhen, ROOT, runCli, treeHashes } from "./helpers.ts";

const SALT = "nifti-run-test-salt-0123456789";
const ENV = { DCMTIDY_SALT: SALT };
const ROOT_UID = "1.2.826.0.1.3680043.10.1000.88";

/** Fixture series in the dump: what each becomes. */
const USED = [
  "axial-ct-shuffled",
  "oblique-mr",
  "4d-echoes",
  "mixed-orientation",
  "irregular-spacing",
  "enhanced-mr",
];

/**
 * The dump: the fixture series of one study (flat, shuffled names), and one more series in a
 * study of its own (so two shards both have work). Returns the number of files.
 */
async function buildDump(raw: string): Promise<number> {
  await Deno.mkdir(raw, { recursive: true });
  const series = niftiSeries().filter((f) => USED.includes(f.name));
  series.push(
    stack({ name: "other-study", seriesNo: 20, slices: 3, study: `${ROOT_UID}.5`, expect: { dims: [] } }),
  );
  let n = 0;
  for (const fx of series) {
    for (const bytes of fx.files) {
      await Deno.writeFile(`${raw}/F${String((n++ * 37) % 101).padStart(3, "0")}`, bytes);
    }
  }
  return n;
}

const protocolText = (format: string, extra = "") =>
  `version: 1\nname: nifti-run\ninput: { root: ./raw }\noutput:\n  root: ./out\n` +
  `  path: "{pseudo_id}/{SeriesNumber}"\n  file: "{InstanceNumber:04}.dcm"\n  format: ${format}\n` +
  `quarantine: ./quarantine\nkey: ./key.csv\ndeidentify:\n  salt: { env: DCMTIDY_SALT }\n${extra}`;

async function csv(path: string): Promise<Record<string, string>[]> {
  const [header, ...rows] = parseCsv(await Deno.readTextFile(path));
  return rows.filter((r) => r.length > 1).map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
}

/** The NIfTI outputs of the dump, relative to the output root, for the pseudonym `p`. */
function expectedNifti(p: string): string[] {
  const stems = ["1/0001", "2/0001", "4/0001", "6/0001_1", "6/0001_2", "90/0001", "20/0001"];
  return stems.flatMap((s) => [`${p}/${s}.json`, `${p}/${s}.nii.gz`]).sort();
}

const PHI = Object.values(NIFTI_PHI).map((v) => v.toLowerCase());

/** PHI strings of the fixtures found in a text (case-insensitive). */
function phiIn(text: string): string[] {
  const t = text.toLowerCase();
  return PHI.filter((v) => t.includes(v) || t.includes(v.split("^").join(" ")));
}

Deno.test("nifti: a volume and sidecar per series, the rest quarantined with the reason, no PHI, re-runs, verify", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-niftirun-" }));
  try {
    const files = await buildDump(`${dir}/raw`);
    await Deno.writeTextFile(`${dir}/p.yaml`, protocolText("nifti"));
    const run = await runCli(["run", "--yes", `${dir}/p.yaml`], ENV);
    assert.equal(run.code, 3, run.stdout + run.stderr); // the irregular series is quarantined
    assert.match(run.stdout, /format: nifti: one \.nii\.gz and its \.json sidecar per series/);
    assert.match(
      run.stdout,
      /25 converted, 0 already done, 7 NIfTI volumes of 7 series, 0 skipped, 5 quarantined/,
    );

    const report = await csv(`${dir}/out/report.csv`);
    const p = report[0].SubjectID;
    const out = await treeHashes(`${dir}/out`);
    const names = [...out.keys()].filter((k) => k !== "report.csv");
    assert.deepEqual(names, expectedNifti(p), "only NIfTI and sidecars, one per volume, no DICOM");

    // Every volume reads back with its dimensions; no PHI of the fixtures in any byte or sidecar.
    const dims: Record<string, number[]> = {};
    for (const name of names) {
      const bytes = await Deno.readFile(`${dir}/out/${name}`);
      if (name.endsWith(".nii.gz")) {
        const nii = await gunzip(bytes);
        dims[name] = parseNifti1Header(nii).dims;
        assert.deepEqual(phiIn(new TextDecoder("latin1").decode(nii)), [], name);
      } else {
        const text = new TextDecoder().decode(bytes);
        JSON.parse(text);
        assert.deepEqual(phiIn(text), [], name);
      }
    }
    assert.deepEqual(dims[`${p}/1/0001.nii.gz`], [4, 3, 5]);
    assert.deepEqual(dims[`${p}/4/0001.nii.gz`], [4, 3, 3, 2]);
    assert.deepEqual(dims[`${p}/6/0001_1.nii.gz`], [4, 3, 3]);
    assert.deepEqual(dims[`${p}/90/0001.nii.gz`], [4, 3, 4]);

    // report.csv: a row per series with its Format, NIfTI paths and, when not converted, why.
    assert.equal(report.length, 7);
    const row = (folder: string) => report.find((r) => r.OutputFolder === `${p}/${folder}`)!;
    assert.deepEqual([row("1").Format, row("1").NiftiPath, row("1").Files], [
      "nifti",
      `${p}/1/0001.nii.gz`,
      "5",
    ]);
    assert.equal(row("6").NiftiPath, `${p}/6/0001_1.nii.gz;${p}/6/0001_2.nii.gz`);
    assert.deepEqual([row("7").Format, row("7").NiftiPath, row("7").Files], ["not converted", "", "0"]);
    assert.match(row("7").Note, /irregular slice spacing/);

    // files.csv: each input names its volume, or why it is in none; quarantined ones are copied.
    const rows = await csv(`${dir}/out/.dcmtidy/files.csv`);
    assert.equal(rows.length, files);
    const quarantined = rows.filter((r) => r.Status === "quarantined");
    assert.equal(quarantined.length, 5);
    for (const r of quarantined) assert.match(r.Reason, /^not converted: irregular slice spacing/);
    for (const r of rows.filter((r) => r.Status === "written")) {
      assert.ok(out.has(r.Output) && r.Output.endsWith(".nii.gz") && r.Nifti === r.Output, r.Output);
    }
    for (const r of quarantined) {
      const copy = await Deno.readFile(`${dir}/quarantine/${r.Input}`);
      assert.deepEqual(copy, await Deno.readFile(`${dir}/raw/${r.Input}`));
    }
    assert.match(await Deno.readTextFile(`${dir}/key.csv`), new RegExp(`PHI-NIFTI-4711,${p},`));

    // Run again: nothing changes, every converted series is found finished.
    const again = await runCli(["run", "--yes", `${dir}/p.yaml`], ENV);
    assert.equal(again.code, 3, again.stderr);
    assert.match(again.stdout, /0 converted, 25 already done/);
    assert.deepEqual(await treeHashes(`${dir}/out`), out);

    // A run killed after renaming its outputs but before recording them: claimed, so redone.
    const journal = `${dir}/out/.dcmtidy/journal.jsonl`;
    const lines = (await Deno.readTextFile(journal)).split("\n");
    await Deno.writeTextFile(journal, lines.filter((l) => !l.includes('"inputs"')).join("\n"));
    await Deno.writeFile(`${dir}/out/${p}/2/.0001.nii.gz.0123abcd.partial`, new Uint8Array(10));
    const redo = await runCli(["run", "--yes", `${dir}/p.yaml`], ENV);
    assert.equal(redo.code, 3, redo.stderr);
    assert.match(redo.stdout, /25 converted, 0 already done/);
    assert.deepEqual(await treeHashes(`${dir}/out`), out, "same bytes, no partial file left");

    // verify: clean; then a sidecar and a header with a PHI value planted are caught, masked.
    const clean = await runCli(["verify", `${dir}/p.yaml`], ENV);
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    assert.match(clean.stdout, /7 of 7 NIfTI volumes read back with their sidecars/);
    const sidecar = `${dir}/out/${p}/2/0001.json`;
    const json = JSON.parse(await Deno.readTextFile(sidecar));
    await Deno.writeTextFile(sidecar, JSON.stringify({ ...json, Note: `for ${NIFTI_PHI.patientName}` }));
    const volume = `${dir}/out/${p}/1/0001.nii.gz`;
    const nii = await gunzip(await Deno.readFile(volume));
    nii.set(new TextEncoder().encode(NIFTI_PHI.accession), 228); // aux_file
    await Deno.writeFile(volume, await gzip(nii));
    const dirty = await runCli(["verify", `${dir}/p.yaml`], ENV);
    assert.equal(dirty.code, 4, dirty.stdout + dirty.stderr);
    assert.match(dirty.stdout, /2 findings: phi-nifti 2/);
    assert.match(
      dirty.stdout,
      /2\/0001\.json: N\*\*\*\^P\*\*\*, the source's PatientName \(input #\d+\), is in the sidecar \(Note\)/,
    );
    assert.match(
      dirty.stdout,
      /1\/0001\.nii\.gz: \*\*\*, the source's AccessionNumber \(input #\d+\), is in the NIfTI header/,
    );
    assert.deepEqual(phiIn(dirty.stdout), [], "findings are masked");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("both: DICOM and NIfTI side by side; a series that cannot form a volume stays DICOM, with the reason", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-niftiboth-" }));
  try {
    const files = await buildDump(`${dir}/raw`);
    await Deno.writeTextFile(`${dir}/p.yaml`, protocolText("both"));
    const run = await runCli(["run", "--yes", `${dir}/p.yaml`], ENV);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(
      run.stdout,
      /30 written, 0 already done, 7 NIfTI volumes of 7 series, 0 skipped, 0 quarantined/,
    );
    const report = await csv(`${dir}/out/report.csv`);
    const p = report[0].SubjectID;
    const out = await treeHashes(`${dir}/out`);
    const dicom = [...out.keys()].filter((k) => k.endsWith(".dcm"));
    assert.equal(dicom.length, files);
    assert.deepEqual([...out.keys()].filter((k) => /\.(nii\.gz|json)$/.test(k)), expectedNifti(p));
    const row = (folder: string) => report.find((r) => r.OutputFolder === `${p}/${folder}`)!;
    assert.deepEqual([row("1").Format, row("1").Files], ["dicom+nifti", "5"]);
    assert.deepEqual([row("7").Format, row("7").Files, row("7").NiftiPath], ["dicom", "5", ""]);
    assert.match(row("7").Note, /^NIfTI not converted: irregular slice spacing/);
    const rows = await csv(`${dir}/out/.dcmtidy/files.csv`);
    for (const r of rows) {
      assert.equal(r.Status, "written");
      assert.ok(r.Output.endsWith(".dcm") && out.has(r.Output), r.Output);
      if (r.Output.startsWith(`${p}/7/`)) {
        assert.equal(r.Nifti, "");
        assert.match(r.Reason, /^NIfTI not converted: irregular slice spacing/);
      } else assert.ok(out.has(r.Nifti), r.Nifti);
    }
    const again = await runCli(["run", "--yes", `${dir}/p.yaml`], ENV);
    assert.match(again.stdout, /0 written, 30 already done/);
    assert.deepEqual(await treeHashes(`${dir}/out`), out);
    const verify = await runCli(["verify", `${dir}/p.yaml`], ENV);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /30 of 30 written outputs read back, 7 of 7 NIfTI volumes read back/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("nifti: 2 shards + merge = the single run; SIGKILL mid-run, run again = the uninterrupted run", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-niftishard-" }));
  try {
    await buildDump(`${dir}/raw`);
    // Series large enough that a kill lands while they are converted.
    for (let s = 0; s < 12; s++) {
      const big = stack({
        name: "big",
        seriesNo: 100 + s,
        slices: 24,
        rows: 160,
        columns: 160,
        study: `${ROOT_UID}.${10 + s}`,
        expect: { dims: [] },
      });
      for (const [i, bytes] of big.files.entries()) await Deno.writeFile(`${dir}/raw/B${s}-${i}`, bytes);
    }
    await Deno.writeTextFile(`${dir}/p.yaml`, protocolText("nifti"));
    const single = await runCli(["run", "--yes", "--output", `${dir}/single`, `${dir}/p.yaml`], ENV);
    assert.equal(single.code, 3, single.stdout + single.stderr);

    const shard = (k: number) =>
      runCli([
        "run",
        "--yes",
        "--jobs",
        "1",
        "--output",
        `${dir}/sharded`,
        "--shard",
        `${k}/2`,
        `${dir}/p.yaml`,
      ], ENV);
    for (const k of [1, 2]) {
      const r = await shard(k);
      assert.notEqual(r.code, 1, r.stderr);
      assert.match(r.stdout, /[1-9]\d* converted/, `shard ${k} has work`);
    }
    const merged = await runCli(["merge", `${dir}/sharded`]);
    assert.equal(merged.code, 3, merged.stdout + merged.stderr);
    const a = await treeHashes(`${dir}/single`);
    assert.deepEqual(await treeHashes(`${dir}/sharded`), a);
    for (const f of [".dcmtidy/files.csv", "report.csv"]) {
      assert.equal(
        await Deno.readTextFile(`${dir}/sharded/${f}`),
        await Deno.readTextFile(`${dir}/single/${f}`),
        f,
      );
    }

    const finished = await killCliWhen(
      ["run", "--yes", "--jobs", "1", "--output", `${dir}/killed`, `${dir}/p.yaml`],
      ENV,
      `${dir}/killed/.dcmtidy/journal.jsonl`,
      (l) => l.includes('"inputs"'),
      2,
    );
    assert.ok(finished >= 2 && finished < 18, `killed after ${finished} of 18 converted series`);
    const rerun = await runCli(["run", "--yes", "--output", `${dir}/killed`, `${dir}/p.yaml`], ENV);
    assert.equal(rerun.code, 3, rerun.stderr);
    assert.deepEqual(await treeHashes(`${dir}/killed`), a, "the same tree, no partial file left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plan: NIfTI names reserve their split names; clashes (any case) get -2; the plan says what is written", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-niftiplan-" }));
  try {
    await Deno.mkdir(`${dir}/raw`);
    // Sort only, named by SeriesDescription: "T1" (3 slices: T1_1..T1_3 are its), "T1_2", "t1".
    const series = [
      stack({ name: "a", seriesNo: 31, slices: 3, description: "T1", expect: { dims: [] } }),
      stack({ name: "b", seriesNo: 32, slices: 2, description: "T1_2", expect: { dims: [] } }),
      stack({ name: "c", seriesNo: 33, slices: 2, description: "t1", expect: { dims: [] } }),
    ];
    for (const [s, fx] of series.entries()) {
      for (const [i, bytes] of fx.files.entries()) await Deno.writeFile(`${dir}/raw/${"abc"[s]}${i}`, bytes);
    }
    const yaml = (format: string) =>
      `version: 1\nname: names\ninput: { root: ./raw }\noutput:\n  root: ./out-${format}\n  path: "{PatientID}"\n` +
      `  file: "{SeriesDescription}.dcm"\n  format: ${format}\n`;
    await Deno.writeTextFile(`${dir}/n.yaml`, yaml("nifti"));
    const plan = await makePlan(await loadProtocol(`${dir}/n.yaml`));
    const id = NIFTI_PHI.patientId;
    assert.deepEqual(plan.series.map((s) => s.nifti), [`${id}/T1`, `${id}/T1_2-2`, `${id}/t1-2`]);
    assert.equal(plan.errors.length, 0, "file names that collide are not written, so not an error");
    assert.equal(plan.warnings.filter((w) => w.kind === "collision").length, 2);
    const json = planJson(plan, true) as {
      outputFormat: string;
      series: { nifti: string }[];
      files: { output?: string }[];
    };
    assert.equal(json.outputFormat, "nifti");
    assert.equal(json.series[1].nifti, `${id}/T1_2-2`);
    assert.ok(json.files.every((f) => f.output === undefined), "nothing written as DICOM");
    const doc = await Deno.readTextFile(`${ROOT}docs/plan-json.md`);
    const documented = new Set([...doc.matchAll(/^\| `([^`]+)`/gm)].map((m) => m[1]));
    const walk = (v: unknown, path: string): string[] =>
      Array.isArray(v)
        ? v.flatMap((x) => walk(x, `${path}[]`))
        : v && typeof v === "object"
        ? Object.entries(v).flatMap((
          [k, x],
        ) => [path ? `${path}.${k}` : k, ...walk(x, path ? `${path}.${k}` : k)])
        : [];
    for (const field of walk(json, "")) {
      assert.ok(documented.has(field), `${field} is not in docs/plan-json.md`);
    }
    assert.match(
      planSummary(plan, { showPhi: true }),
      new RegExp(`${id}/  \\(7 files; NIfTI: T1\\.nii\\.gz, T1_2-2\\.nii\\.gz, t1-2\\.nii\\.gz\\)`),
    );
    assert.match(
      planSummary(plan),
      /\*\*\*\/ {2}\(7 files; NIfTI: \*\*\*, \*\*\*, \*\*\*\)/,
      "masked without --show-phi",
    );

    const run = await runCli(["run", "--yes", `${dir}/n.yaml`]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const names = [...(await treeHashes(`${dir}/out-nifti`)).keys()].filter((k) => k !== "report.csv");
    assert.deepEqual(names, [
      `${id}/T1.json`,
      `${id}/T1.nii.gz`,
      `${id}/T1_2-2.json`,
      `${id}/T1_2-2.nii.gz`,
      `${id}/t1-2.json`,
      `${id}/t1-2.nii.gz`,
    ]);
    // Sort only: the sidecar carries what the headers say (nothing was removed).
    assert.equal(
      JSON.parse(await Deno.readTextFile(`${dir}/out-nifti/${id}/T1.json`)).SeriesDescription,
      "T1",
    );
    const verify = await runCli(["verify", `${dir}/n.yaml`]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    // The library in this thread (no workers) writes the same tree.
    const here = await makePlan(await loadProtocol(`${dir}/n.yaml`, { output: `${dir}/in-thread` }));
    const summary = await runPlan(here);
    assert.deepEqual([summary.written, summary.volumes, summary.series.size], [7, 3, 3]);
    assert.deepEqual(await treeHashes(`${dir}/in-thread`), await treeHashes(`${dir}/out-nifti`));

    // With both, the DICOM names are taken first: a clash between the DICOM files is the usual _2.
    await Deno.writeTextFile(
      `${dir}/b.yaml`,
      yaml("both").replace('"{SeriesDescription}.dcm"', '"{SeriesDescription}.json"'),
    );
    const both = await makePlan(await loadProtocol(`${dir}/b.yaml`));
    assert.equal(both.series[0].nifti, `${id}/T1-2`, "T1.json is a DICOM file's name");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
