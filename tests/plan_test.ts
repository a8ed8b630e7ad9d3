/**
 * `dcmtidy plan` on a built raw dump: the per-series diff with PHI masked (and shown with
 * --show-phi), action counts, totals per patient/study/series, each kind of warning, the JSON
 * (every field documented in docs/plan-json.md), and colors only when asked.
 */
import assert from "node:assert/strict";
import { buildDicom, type Node, sampleDataset, tag } from "./fixtures/builder.ts";
import { loadProtocol } from "../src/protocol/load.ts";
import { makePlan, type Plan } from "../src/plan/mod.ts";
import type { PlannedFile, PlanWarning } from "../src/plan/types.ts";
import { LIMITS as SUMMARY_LIMITS, planSummary } from "../src/plan/summary.ts";
import { planJson } from "../src/plan/json.ts";
import { Keys } from "../src/deid/keys.ts";
import { DeidSession } from "../src/deid/session.ts";
import { configFromProtocol } from "../src/deid/config.ts";
import { readLookupTable } from "../src/protocol/lookup.ts";
import { readDicomFile } from "../src/dicom/read_file.ts";
import { ROOT, runCli } from "./helpers.ts";
import { type Listed, walkInputs } from "../src/scan/inputs.ts";
import { openPlanWorkers } from "../src/plan/workers.ts";
import { surveyHere } from "../src/plan/survey.ts";
import { loadDeidConfig, openSession } from "../src/deid/mod.ts";
import { buildCanaryFile, canaryFixture } from "./fixtures/canary.ts";

const ESC = String.fromCharCode(0x1b);
const SALT = "plan-test-salt-0123456789";
const STUDY = "1.2.826.0.1.3680043.10.1000.61";

/** PHI of the fixture: none may appear on screen without --show-phi. */
const PHI = [
  "Doe^John",
  "Roe^Richard",
  "Smith^Jane",
  "PID001",
  "PID-MISS",
  "555-0100",
  "ACME",
  "Doe_John", // an input folder named after the patient
  "IM0001",
  "1.2.826.0.1.3680043.10.1000", // every original UID
  "20240115",
  "19700101",
  "General Hospital",
  "ACC0001",
  "CT HEAD",
];

function dataset(values: Record<number, string | undefined>, extra: Node[] = []): Node[] {
  const nodes: Node[] = sampleDataset()
    .filter((n) => !("tag" in n) || !(n.tag in values) || values[n.tag] !== undefined)
    .map((n) => ("tag" in n && values[n.tag] !== undefined ? { ...n, value: values[n.tag]! } as Node : n));
  for (const [t, v] of Object.entries(values)) {
    if (v !== undefined && !nodes.some((n) => "tag" in n && n.tag === Number(t))) {
      nodes.push({ tag: Number(t), vr: "LO", value: v });
    }
  }
  nodes.push(...extra);
  return nodes.sort((a, b) => ("tag" in a ? a.tag : 0) - ("tag" in b ? b.tag : 0));
}

const PRIVATE: Node[] = [
  { tag: tag(0x0029, 0x0010), vr: "LO", value: "ACME PRIVATE" },
  { tag: tag(0x0029, 0x1001), vr: "LO", value: "Doe^John called on 555-0100" },
];

function image(series: number, instance: number, more: Record<number, string | undefined> = {}): Uint8Array {
  return buildDicom(dataset({
    [tag(0x0020, 0x000d)]: STUDY,
    [tag(0x0020, 0x000e)]: `${STUDY}.${series}`,
    [tag(0x0008, 0x0018)]: `${STUDY}.${series}.${instance}.${Object.keys(more).length}`,
    [tag(0x0020, 0x0011)]: String(series),
    [tag(0x0020, 0x0013)]: String(instance),
    ...more,
  }, PRIVATE));
}

/**
 * Doe^John (PID001, in the lookup table): series 1 (3 files, two with InstanceNumber 2: a
 * collision), series 2 (2 files), series 3 (ultrasound: burned-in suspect); Roe^Richard (PID-MISS,
 * not in the table); a file without PatientID (another study); a DICOMDIR.
 */
async function rawDump(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/raw/Doe_John`, { recursive: true });
  const put = (name: string, bytes: Uint8Array) => Deno.writeFile(`${dir}/raw/${name}`, bytes);
  await put("Doe_John/IM0001", image(1, 1));
  await put("Doe_John/IM0002", image(1, 2));
  await put("Doe_John/IM0003", image(1, 2, { [tag(0x0008, 0x0021)]: undefined })); // same name as IM0002
  await put("Doe_John/IM0004", image(2, 1));
  await put("Doe_John/IM0005", image(2, 2));
  await put("Doe_John/US0001", image(3, 1, { [tag(0x0008, 0x0060)]: "US" }));
  await put(
    "roe",
    image(4, 1, {
      [tag(0x0010, 0x0010)]: "Roe^Richard",
      [tag(0x0010, 0x0020)]: "PID-MISS",
      [tag(0x0020, 0x000d)]: `${STUDY}.9`,
      [tag(0x0020, 0x000e)]: `${STUDY}.9.4`,
    }),
  );
  await put(
    "nopid",
    image(5, 1, {
      [tag(0x0010, 0x0020)]: undefined,
      [tag(0x0020, 0x000d)]: `${STUDY}.8`,
      [tag(0x0020, 0x000e)]: `${STUDY}.8.5`,
    }),
  );
  await put(
    "DICOMDIR",
    buildDicom([
      { tag: tag(0x0004, 0x1130), vr: "CS", value: "PLAN_TEST" },
      {
        tag: tag(0x0004, 0x1220),
        vr: "SQ",
        items: [[
          { tag: tag(0x0004, 0x1430), vr: "CS", value: "IMAGE" },
          { tag: tag(0x0004, 0x1500), vr: "CS", value: ["Doe_John", "IM0001"] },
        ]],
      },
    ], { sopClassUID: "1.2.840.10008.1.3.10", sopInstanceUID: `${STUDY}.77` }),
  );
  await Deno.writeTextFile(`${dir}/ids.csv`, "old,new\nPID001,SUBJ-001\n");
}

const protocolText = (opts: { missing?: string; path?: string } = {}) =>
  `version: 1
name: plan-test
input: { root: ./raw }
output: { root: ./tidy, path: "${opts.path ?? "{pseudo_id}/%s_{StudyID}"}", file: "{InstanceNumber:04}.dcm" }
deidentify:
  options: [retain-longitudinal-modified-dates]
  dates: { shift: { min_days: -100, max_days: -10 } }
  salt: { env: DCMTIDY_SALT }
  patient_id: { lookup: { file: ./ids.csv, missing: ${opts.missing ?? "hash"} } }
  burned_in: warn
  tags:
    "(0010,0010)": { replace: "{pseudo_id}" }
    StudyDescription: { regexp: { find: "HEAD", replace: "H" } }
`;

async function withDump<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-plan-" }));
  try {
    await rawDump(dir);
    await Deno.writeTextFile(`${dir}/study.yaml`, protocolText());
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function planOf(dir: string, file = "study.yaml"): Promise<Plan> {
  const protocol = await loadProtocol(`${dir}/${file}`, { env: () => SALT });
  return await makePlan(protocol, new Keys(new TextEncoder().encode(SALT)));
}

/** The parts of the plan JSON these tests read. */
interface Group {
  patient: string;
  study?: string;
  studies?: number;
  series: number;
  files: number;
  bytes: number;
}
interface PlanDoc {
  totals: Record<string, number>;
  patients: Group[];
  studies: Group[];
  series: Record<string, unknown>[];
}

const input = (plan: Plan, rel: string) => plan.files.findIndex((f) => f.input.rel === rel);

Deno.test("plan: the collision check and the summary read back only the files they need", async () => {
  const { resolveCollisions } = await import("../src/plan/names.ts");
  await withDump(async (dir) => {
    const plan = await planOf(dir);
    const text = planSummary(plan, {});
    // Past the memory bound every read is one from disk: count them.
    let reads = 0;
    const files = plan.files;
    const get = files.get.bind(files);
    files.get = (i: number) => (reads++, get(i));
    assert.equal(planSummary(plan, {}), text);
    const notWritten = plan.files.filter((f) => f.status !== "write").length;
    assert.ok(notWritten > 0 && plan.series.length > 1, "the dump has files not written and several series");
    reads = 0;
    planSummary(plan, {});
    // The files not written (listed by the summary), and each series' representative (its diff).
    assert.ok(plan.series.length <= SUMMARY_LIMITS.series, "every series' diff is shown");
    assert.equal(reads, notWritten + plan.series.length);
    reads = 0;
    resolveCollisions(files, "suffix", [], []);
    assert.equal(reads, 0, "no two destinations share a hash: nothing to read");
  });
});

Deno.test("plan: the diff of each series' first file, masked, with --show-phi unmasked", async () => {
  await withDump(async (dir) => {
    const plan = await planOf(dir);
    const text = planSummary(plan, {});
    const first = input(plan, "Doe_John/IM0001");
    const s = plan.series.find((x) => x.representative === first)!;
    assert.ok(s, "series 1 is represented by its first file");
    assert.equal(s.files, 3);
    // The series block: header, then - / + lines.
    const block = text.split("\n").slice(
      text.split("\n").findIndex((l) => l.includes(`changes of input #${first + 1}`)),
    );
    const section = block.slice(0, block.findIndex((l, i) => i > 0 && !l.startsWith("    ")));
    assert.match(section[0], new RegExp(`^  SUBJ-001/1_na/  CT, 3 files, changes of input #${first + 1}$`));
    const line = (sign: string, key: string) =>
      section.find((l) => new RegExp(`^    \\${sign} ${key} +`).test(l));
    assert.match(line("-", "PatientName")!, / D\*\*\*\^J\*\*\*$/);
    assert.match(line("+", "PatientName")!, / SUBJ-001$/);
    assert.match(line("-", "PatientID")!, / \*\*\*$/);
    assert.match(line("+", "PatientID")!, / SUBJ-001$/, "the looked-up ID is the tool's own value");
    assert.match(line("-", "\\(0029,1001\\)")!, / \*\*\*$/);
    assert.equal(line("+", "\\(0029,1001\\)"), undefined, "a removed private tag has only a - line");
    assert.match(line("-", "StudyInstanceUID")!, / \*\*\*$/);
    assert.match(line("+", "StudyInstanceUID")!, / 2\.25\.\d+$/);
    assert.match(line("+", "StudyDate")!, / 2023\d{4}$/, "a shifted date is shown");
    assert.match(line("+", "AccessionNumber")!, / \(empty\)$/);
    assert.match(line("+", "StudyDescription")!, / \*\*\*$/, "a value rewritten by regexp stays masked");
    assert.match(line("+", "PatientIdentityRemoved")!, / YES$/);
    assert.equal(line("-", "PatientIdentityRemoved"), undefined, "an added mark has only a + line");
    assert.ok(
      !section.some((l) => /^ {4}[-+] (Modality|Rows) /.test(l)),
      "unchanged elements are not listed",
    );

    // Series 2 changes the same elements: listed once, unless --all.
    const second = plan.series.find((x) => x.folder === "SUBJ-001/2_na")!;
    assert.match(
      text,
      new RegExp(
        `changes of input #${
          second.representative + 1
        }\n {4}the same ${s.changes.length} elements changed as in SUBJ-001/1_na/ \\(--all shows the values\\)\n`,
      ),
    );
    const everything = planSummary(plan, { all: true });
    assert.equal(
      everything.match(/^ {4}- PatientName +D\*\*\*\^J\*\*\*$/gm)!.length,
      4,
      "Doe's 3 series, the file without PatientID",
    );
    assert.ok(!everything.includes("the same"));

    for (const phi of PHI) assert.ok(!text.includes(phi), `${phi} is on screen without --show-phi`);
    const json = JSON.stringify(planJson(plan, false));
    for (const phi of PHI) assert.ok(!json.includes(phi), `${phi} is in the masked JSON`);

    const shown = planSummary(plan, { showPhi: true });
    for (
      const phi of ["Doe^John", "PID001", "Doe_John/IM0001", `${STUDY}.1`, "20240115", "CT HEAD", "CT H"]
    ) {
      assert.ok(shown.includes(phi), `--show-phi shows ${phi}`);
    }
    assert.match(shown, /^ {4}- PatientName +Doe\^John$/m);
    assert.match(shown, /changes of input #\d+ \(Doe_John\/IM0001\)/);
    assert.ok(JSON.stringify(planJson(plan, true)).includes("Doe^John called on 555-0100"));
  });
});

Deno.test("plan: action counts are the sum over the files; totals per patient, study and series", async () => {
  await withDump(async (dir) => {
    const plan = await planOf(dir);
    const written = plan.files.filter((f) => f.status === "write");
    assert.equal(written.length, 8);
    // Independently: de-identify each written file's header and add up the counts.
    const protocol = plan.protocol;
    const lookup = await readLookupTable(protocol.deidentify!.lookupFile!);
    const session = new DeidSession(
      configFromProtocol(protocol, lookup),
      new Keys(new TextEncoder().encode(SALT)),
    );
    const sum: Record<string, number> = {};
    for (const f of written) {
      const r = session.deidentify(await readDicomFile(f.input.path, { headerOnly: true }));
      for (const [code, n] of Object.entries(r.counts)) sum[code] = (sum[code] ?? 0) + n;
    }
    assert.deepEqual(plan.actions, sum);
    assert.ok(sum.X > 0 && sum.U > 0 && sum.replace === 8 && sum.regexp === 8, JSON.stringify(sum));
    assert.match(
      planSummary(plan, {}),
      new RegExp(
        `^actions: ${
          Object.entries(sum).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
            .map(([c, n]) => `${c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} ${n}`).join(", ")
        }$`,
        "m",
      ),
    );

    const j = planJson(plan, false) as unknown as PlanDoc;
    const perFile: Record<string, number> = {};
    for (const f of plan.files) {
      for (const [code, n] of Object.entries(f.counts ?? {})) perFile[code] = (perFile[code] ?? 0) + n;
    }
    assert.deepEqual(
      perFile,
      sum,
      "per-file counts add up to the plan's",
    );
    assert.deepEqual(j.totals, {
      files: 9,
      write: 8,
      skip: 1, // the DICOMDIR
      quarantine: 0,
      patients: 3,
      studies: 3,
      series: 5,
      bytes: written.reduce((n, f) => n + f.input.size, 0),
    });
    const doe = plan.files.get(input(plan, "Doe_John/IM0001")).pseudoId;
    assert.equal(doe, "SUBJ-001");
    const size = (...rels: string[]) =>
      rels.reduce((n, r) => n + plan.files.get(input(plan, r)).input.size, 0);
    const doeFiles = ["IM0001", "IM0002", "IM0003", "IM0004", "IM0005", "US0001"].map((n) => `Doe_John/${n}`);
    assert.deepEqual(j.patients[0], {
      patient: "SUBJ-001",
      studies: 1,
      series: 3,
      files: 6,
      bytes: size(...doeFiles),
    });
    const roe = plan.files.get(input(plan, "roe"));
    assert.match(roe.pseudoId!, /^[A-Z0-9]{8}$/, "a lookup miss with missing: hash gets a hashed pseudonym");
    assert.deepEqual(j.patients.find((p) => p.patient === roe.pseudoId), {
      patient: roe.pseudoId,
      studies: 1,
      series: 1,
      files: 1,
      bytes: size("roe"),
    });
    assert.deepEqual(j.studies[0], {
      patient: "SUBJ-001",
      study: plan.files.get(input(plan, "Doe_John/IM0001")).studyUID,
      series: 3,
      files: 6,
      bytes: size(...doeFiles),
    });
    assert.match(j.studies[0].study!, /^2\.25\.\d+$/);
    assert.deepEqual(
      j.series.map((x) => [x.folder, x.files, x.modality]),
      [["SUBJ-001/1_na", 3, "CT"], ["SUBJ-001/2_na", 2, "CT"], ["SUBJ-001/3_na", 1, "US"], [
        `${plan.files.get(input(plan, "nopid")).pseudoId}/5_na`,
        1,
        "CT",
      ], [`${roe.pseudoId}/4_na`, 1, "CT"]],
    );
    assert.match(planSummary(plan, {}), /^ {2}3 patients, 3 studies, 5 series, 8 files, 9\.\d kB$/m);
    assert.match(planSummary(plan, {}), /^ {2}SUBJ-001: 1 study, 3 series, 6 files, 6\.\d kB$/m);
  });
});

Deno.test("plan: a warning for each DICOMDIR, collision, burned-in suspect, missing PatientID, lookup miss, na", async () => {
  await withDump(async (dir) => {
    const plan = await planOf(dir);
    const ref = (rel: string) => `input #${input(plan, rel) + 1}`;
    const text = planSummary(plan, {});
    const expected: [string, string][] = [
      ["dicomdir", `${ref("DICOMDIR")}: DICOMDIR not copied: its records point at input paths`],
      [
        "collision",
        `${ref("Doe_John/IM0003")}: SUBJ-001/1_na/0002.dcm is taken, written as SUBJ-001/1_na/0002_2.dcm`,
      ],
      [
        "burned-in",
        `${
          ref("Doe_John/US0001")
        }: burned-in text suspected: modality US often carries burned-in text (written: burned_in: warn)`,
      ],
      ["no-patient-id", `${ref("nopid")}: no PatientID: the study is its own subject`],
      [
        "lookup-miss",
        `${ref("roe")}: PatientID not in the lookup table: given a hashed pseudonym (missing: hash)`,
      ],
      [
        "template-na",
        "the output template uses StudyID (0020,0010), which is na for every file (absent, or removed by the " +
        "profile: keep it with a per-tag rule if it holds nothing identifying, or take it out of the template)",
      ],
    ];
    const json = (planJson(plan, false) as { warnings: { kind: string; message: string }[] }).warnings;
    assert.equal(json.length, expected.length, JSON.stringify(json));
    for (const [kind, message] of expected) {
      assert.ok(json.some((w) => w.kind === kind && w.message === message), `${kind}: ${message}`);
      assert.ok(text.includes(`warning: ${message}`), `on screen: ${message}`);
    }
    assert.equal(plan.files.get(input(plan, "Doe_John/IM0003")).dest, "SUBJ-001/1_na/0002_2.dcm");
    assert.equal(plan.files.get(input(plan, "Doe_John/US0001")).status, "write");
    assert.deepEqual(plan.errors, []);
  });
});

Deno.test("plan: a lookup miss with missing: error is a plan error; quarantine is a warning", async () => {
  await withDump(async (dir) => {
    await Deno.writeTextFile(`${dir}/error.yaml`, protocolText({ missing: "error" }));
    const plan = await planOf(dir, "error.yaml");
    const roe = input(plan, "roe");
    const nopid = input(plan, "nopid");
    assert.deepEqual(plan.errors.sort(), [
      `{{input:${nopid}}}: no PatientID, so the lookup table cannot name its subject (missing: error)`,
      `{{input:${roe}}}: patient ID not in the lookup table (missing: error)`,
    ]);
    const cli = await runCli(["plan", `${dir}/error.yaml`], { DCMTIDY_SALT: SALT });
    assert.equal(cli.code, 2, cli.stderr);
    assert.match(
      cli.stdout,
      new RegExp(`^error: input #${roe + 1}: patient ID not in the lookup table`, "m"),
    );

    await Deno.writeTextFile(`${dir}/quarantine.yaml`, protocolText({ missing: "quarantine" }));
    const q = await planOf(dir, "quarantine.yaml");
    assert.deepEqual(q.errors, []);
    assert.equal(q.files.get(roe).status, "quarantine");
    assert.ok(
      q.warnings.some((w) =>
        w.kind === "lookup-miss" && w.message.includes("quarantined (missing: quarantine)")
      ),
    );
  });
});

Deno.test("plan: a series split over folders gets a diff in each folder", async () => {
  await withDump(async (dir) => {
    await Deno.writeTextFile(`${dir}/split.yaml`, protocolText({ path: "{pseudo_id}/%s/{InstanceNumber}" }));
    const plan = await planOf(dir, "split.yaml");
    const one = plan.series.filter((s) => s.folder.startsWith("SUBJ-001/1/"));
    assert.deepEqual(one.map((s) => [s.folder, s.files]), [["SUBJ-001/1/1", 1], ["SUBJ-001/1/2", 2]]);
    for (const s of one) {
      const name = s.changes.find((c) => c.path === "PatientName")!;
      assert.deepEqual([name.before, name.after, name.maskBefore, name.maskAfter], [
        "Doe^John",
        "SUBJ-001",
        true,
        false,
      ]);
    }
  });
});

Deno.test("plan --json: every field documented in docs/plan-json.md; --out unmasked", async () => {
  await withDump(async (dir) => {
    const cli = await runCli(["plan", "--json", "--out", `${dir}/plan.json`, `${dir}/study.yaml`], {
      DCMTIDY_SALT: SALT,
    });
    assert.equal(cli.code, 0, cli.stderr);
    const j = JSON.parse(cli.stdout);
    assert.equal(j.format, "dcmtidy-plan");
    assert.equal(j.masked, true);
    for (const phi of PHI) assert.ok(!cli.stdout.includes(phi), `${phi} in plan --json`);
    const out = JSON.parse(await Deno.readTextFile(`${dir}/plan.json`));
    assert.equal(out.masked, false);
    assert.ok(out.files.some((f: { input: string }) => f.input === "Doe_John/IM0001"));
    assert.ok(JSON.stringify(out).includes("Doe^John"));

    const inside = await runCli(["plan", "--out", `${dir}/tidy/plan.json`, `${dir}/study.yaml`], {
      DCMTIDY_SALT: SALT,
    });
    assert.equal(inside.code, 2);
    assert.match(inside.stderr, /--out .* is inside the output root/);

    const doc = await Deno.readTextFile(`${ROOT}docs/plan-json.md`);
    const documented = new Set([...doc.matchAll(/^\| `([^`]+)`/gm)].map((m) => m[1]));
    const paths = new Set<string>();
    const walk = (v: unknown, path: string) => {
      if (Array.isArray(v)) v.forEach((x) => walk(x, `${path}[]`));
      else if (v && typeof v === "object") {
        for (const [k, x] of Object.entries(v)) {
          // Action counts are keyed by code (documented as a map).
          const p = path.endsWith("actions") ? `${path}.CODE` : path ? `${path}.${k}` : k;
          paths.add(p);
          if (!path.endsWith("actions")) walk(x, p);
        }
      }
    };
    walk(out, "");
    walk(j, "");
    for (const p of paths) assert.ok(documented.has(p), `${p} is not documented in docs/plan-json.md`);
    // Only with NIfTI output (tests/nifti_run_test.ts checks it there), or with burned_in: blank and
    // pixels_detect: ocr (tests/pixels_blank_test.ts and tests/pixels_ocr_run_test.ts check them).
    const niftiOnly = new Set([
      "series[].nifti",
      "files[].suspect.device",
      "files[].blank",
      "files[].blank.regions",
      "files[].blank.keep",
      "files[].text",
    ]);
    for (const d of documented) {
      assert.ok(paths.has(d) || niftiOnly.has(d), `docs/plan-json.md documents ${d}, which the plan lacks`);
    }
  });
});

Deno.test("plan: colors only when asked; none in a pipe", async () => {
  await withDump(async (dir) => {
    const plan = await planOf(dir);
    const plain = planSummary(plan, {});
    assert.ok(!plain.includes("\x1b"));
    const colored = planSummary(plan, { color: true });
    const lines = colored.split("\n");
    const minus = lines.find((l) => l.includes("- PatientName"))!;
    assert.ok(minus.startsWith("\x1b[31m    - PatientName") && minus.endsWith("D***^J***\x1b[0m"), minus);
    const plus = lines.find((l) => l.includes("+ PatientName"))!;
    assert.ok(plus.startsWith("\x1b[32m    + PatientName") && plus.endsWith("SUBJ-001\x1b[0m"), plus);
    assert.ok(lines.some((l) => l.startsWith("\x1b[33mwarning: ")), "warnings in yellow");
    assert.equal(colored.replace(new RegExp(`${ESC}\\[\\d+m`, "g"), ""), plain, "colors change nothing else");
    const cli = await runCli(["plan", `${dir}/study.yaml`], { DCMTIDY_SALT: SALT });
    assert.equal(cli.code, 0, cli.stderr);
    assert.ok(!cli.stdout.includes("\x1b") && !cli.stderr.includes("\x1b"), "no escape codes in a pipe");
    // Not a terminal: progress is plain lines on stderr, never on stdout.
    assert.match(cli.stderr, /^scanning: 9\/9 files in \d+\.\d s/m);
    // The dry-run diff: one file of each of the 5 output series.
    assert.match(cli.stderr, /^dry-run diff: 5\/5 files in \d+\.\d s/m);
    assert.ok(!cli.stdout.includes("scanning"));
  });
});

Deno.test("run: in a pipe, progress is one final line per step on stderr, with MB/s", async () => {
  await withDump(async (dir) => {
    const run = await runCli(["run", "--yes", "--jobs", "1", `${dir}/study.yaml`], { DCMTIDY_SALT: SALT });
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stderr.trim().split("\n");
    // A slow machine may add a line every 5 s; the last line of each step is its total.
    assert.ok(lines.every((l) => /^(scanning and writing|dry-run diff|writing): /.test(l)), run.stderr);
    // With --yes, the plan's workers write each output ahead as they read the file.
    assert.match(
      lines.findLast((l) => l.startsWith("scanning"))!,
      /^scanning and writing: 9\/9 files in \d+\.\d s/,
    );
    assert.match(lines.at(-1)!, /^writing: 8\/8 files in \d+\.\d s, \d+(\.\d)? MB\/s$/);
    assert.ok(!run.stdout.includes("writing:"));
  });
});

Deno.test("plan: many series: the first 20 diffs, then a count; --all shows every one", async () => {
  await withDump(async (dir) => {
    for (let se = 10; se < 35; se++) await Deno.writeFile(`${dir}/raw/Doe_John/S${se}`, image(se, 1));
    const plan = await planOf(dir);
    assert.equal(plan.series.length, 30);
    const text = planSummary(plan, {});
    assert.equal(text.match(/changes of input #/g)!.length, 20);
    assert.match(text, /^ {2}\.\.\. 10 more series \(--all shows them; --json has everything\)$/m);
    assert.equal(planSummary(plan, { all: true }).match(/changes of input #/g)!.length, 30);
  });
});

Deno.test("plan: without de-identification, output names from original headers are masked", async () => {
  await withDump(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/sort.yaml`,
      'version: 1\nname: sort\ninput: { root: ./raw }\noutput: { root: ./sorted, path: "%i/%n/%s" }\n',
    );
    const plan = await planOf(dir, "sort.yaml");
    const text = planSummary(plan, {});
    for (const phi of ["PID001", "Doe", "PID-MISS", "Roe"]) assert.ok(!text.includes(phi), phi);
    assert.match(text, /^ {2}\*\*\*\/\*\*\*\/\*\*\*\/ {2}\(3 files\)$/m);
    assert.match(text, /^changes: none/m);
    const j = JSON.stringify(planJson(plan, false));
    for (const phi of ["PID001", "Doe", "PID-MISS", "Roe"]) assert.ok(!j.includes(phi), phi);
    const shown = planSummary(plan, { showPhi: true });
    assert.match(shown, /^ {2}PID001\/Doe_John\/1\/ {2}\(3 files\)$/m);
    assert.match(shown, /warning: nopid: no PatientID/);
  });
});

Deno.test("plan: no canary value of the PS3.15 fixture is shown without --show-phi", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-plan-canary-" }));
  try {
    const fixture = canaryFixture();
    await Deno.mkdir(`${dir}/raw`);
    await Deno.writeFile(`${dir}/raw/canary.dcm`, buildCanaryFile(fixture));
    await Deno.writeTextFile(
      `${dir}/study.yaml`,
      `version: 1
name: canary
input: { root: ./raw }
output: { root: ./tidy, path: "{pseudo_id}/%s" }
deidentify:
  options: [retain-longitudinal-modified-dates, clean-descriptors]
  dates: { shift: { min_days: -100, max_days: -10 } }
  salt: { env: DCMTIDY_SALT }
  burned_in: allow
`,
    );
    const plan = await planOf(dir);
    assert.ok(plan.series[0].changes.length > 50, `${plan.series[0].changes.length} changes`);
    const masked = planSummary(plan, { all: true }) + JSON.stringify(planJson(plan, false));
    const leaks = fixture.places.filter((p) => masked.includes(p.needle));
    assert.deepEqual(leaks, [], "values shown without --show-phi");
    const shown = planSummary(plan, { all: true, showPhi: true });
    assert.ok(fixture.places.filter((p) => shown.includes(p.needle)).length > 50, "--show-phi shows them");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plan: two inputs with one SOP Instance UID but other bytes are both written, with a warning", async () => {
  await withDump(async (dir) => {
    const twin = image(1, 1).slice();
    await Deno.mkdir(`${dir}/raw/twin`);
    // Same header, other pixel bytes: not a duplicate (those are skipped), one instance twice.
    twin[twin.length - 1] ^= 0xff;
    await Deno.writeFile(`${dir}/raw/twin/IM0001`, twin);
    const plan = await planOf(dir);
    const twinIndex = input(plan, "twin/IM0001");
    assert.equal(plan.files.get(twinIndex).status, "write");
    const w = plan.warnings.filter((w) => w.kind === "same-instance");
    assert.equal(w.length, 1, JSON.stringify(plan.warnings));
    assert.match(w[0].message, new RegExp(`\\{\\{input:${twinIndex}\\}\\} has the SOP Instance UID of`));
  });
});

Deno.test("plan: workers make the same plan as one thread, collisions and duplicates included", async () => {
  await withDump(async (dir) => {
    // A duplicate of a file, and two patients given one pseudonym (one PatientID from two
    // issuers, looked up by ID): the later one in input order ("roe", after "Doe_John/...") is
    // stopped, whichever worker saw it first.
    await Deno.copyFile(`${dir}/raw/Doe_John/IM0001`, `${dir}/raw/Doe_John/IM0001-copy`);
    await Deno.writeFile(
      `${dir}/raw/roe`,
      image(4, 1, {
        [tag(0x0010, 0x0010)]: "Roe^Richard",
        [tag(0x0010, 0x0021)]: "OTHER HOSPITAL",
        [tag(0x0020, 0x000d)]: `${STUDY}.9`,
        [tag(0x0020, 0x000e)]: `${STUDY}.9.4`,
      }),
    );
    const protocol = await loadProtocol(`${dir}/study.yaml`, { env: () => SALT });
    const salt = new TextEncoder().encode(SALT);
    const here = await makePlan(protocol, new Keys(salt));
    const roe = here.files.find((f) => f.input.rel === "roe")!;
    assert.equal(roe.status, "quarantine");
    assert.match(roe.reason!, /two different patients map to the pseudonym SUBJ-001/);
    const copy = here.files.find((f) => f.input.rel === "Doe_John/IM0001-copy")!;
    assert.equal(copy.status, "skip");
    assert.equal(copy.input.kind, "duplicate");
    assert.ok(here.series.every((s) => s.changes.length > 0), "every series has its dry-run diff");
    for (const workers of [1, 2, 3]) {
      const phases: string[] = [];
      const pooled = await makePlan(protocol, new Keys(salt), (_d, _t, phase) => phases.push(phase), {
        workers,
        salt,
      });
      assert.deepEqual(planJson(pooled, true), planJson(here, true), `${workers} workers`);
      assert.deepEqual(pooled.files, here.files);
      assert.ok(phases.includes("scan") && phases.at(-1) === "plan");
    }
  });
});

Deno.test("plan: the caller's signal keeps no listener of a plan once it ends (it would hold the plan's surveys)", async () => {
  await withDump(async (dir) => {
    const protocol = await loadProtocol(`${dir}/study.yaml`, { env: () => SALT });
    const salt = new TextEncoder().encode(SALT);
    // A signal that outlives the plan (the CLI's, which lives to the end of the run), its listeners counted.
    const signal = new AbortController().signal;
    const listening = new Set<unknown>();
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = (type: string, fn: EventListenerOrEventListenerObject, o?: unknown) => {
      listening.add(fn);
      add(type, fn, o as AddEventListenerOptions);
    };
    signal.removeEventListener = (type: string, fn: EventListenerOrEventListenerObject, o?: unknown) => {
      listening.delete(fn);
      remove(type, fn, o as EventListenerOptions);
    };
    for (const workers of [0, 2]) {
      const plan = await makePlan(protocol, new Keys(salt), undefined, { workers, salt, signal });
      assert.ok(plan.files.length > 0);
      assert.equal(listening.size, 0, `${workers} workers: every listener removed`);
    }
    // A plan stopped by its signal rejects with the signal's reason, and lets go of its listener too.
    const stop = new AbortController();
    const count = stop.signal.addEventListener.bind(stop.signal);
    let added = 0;
    stop.signal.addEventListener = (type: string, fn: EventListenerOrEventListenerObject, o?: unknown) => {
      added++;
      count(type, fn, o as AddEventListenerOptions);
    };
    const stopped = makePlan(protocol, new Keys(salt), () => stop.abort(new Error("stopped")), {
      workers: 2,
      salt,
      signal: stop.signal,
    });
    await assert.rejects(stopped, /stopped/);
    assert.ok(added > 0);
  });
});

Deno.test("plan workers: the listing handed to a survey is let go entry by entry; the surveys are the one thread's", async () => {
  await withDump(async (dir) => {
    const protocol = await loadProtocol(`${dir}/study.yaml`, { env: () => SALT });
    const salt = new TextEncoder().encode(SALT);
    const config = await loadDeidConfig(protocol);
    const listing = await walkInputs(protocol.input);
    assert.ok(listing.length > 3);
    const here = surveyHere(listing, {
      session: openSession(config, new Keys(salt), { hooks: "stub", checkPseudonyms: false }),
      config,
      burnedIn: "warn",
      root: protocol.output.root,
      folder: protocol.output.folder,
      file: protocol.output.file,
      keepFields: false,
    });
    const tools = await openPlanWorkers(protocol, config, salt, listing, 2);
    try {
      const handed: (Listed | undefined)[] = [...listing];
      const surveys = await tools.survey(handed);
      assert.ok(handed.every((f) => f === undefined), "every entry let go");
      const plain = (x: unknown) => JSON.parse(JSON.stringify(x));
      assert.deepEqual(plain([...surveys]), plain(await here));
    } finally {
      tools.close();
    }
  });
});

Deno.test("plan: colliding names get _2, _3... in input order; names alike only by hash do not collide", async () => {
  const { resolveCollisions } = await import("../src/plan/names.ts");
  const { PlannedFiles, destKeyOf } = await import("../src/plan/planned_files.ts");
  const { hash32 } = await import("../src/util/hash.ts");
  // Found by search: one 30-bit hash (what the names are held by), two names.
  const [x, y] = ["p/s/268724.dcm", "p/s/698200.dcm"];
  assert.equal(hash32(x) & 0x3fffffff, hash32(y) & 0x3fffffff);
  const dests = [
    x,
    "p/A.dcm",
    y,
    "p/a.dcm",
    "p/a_2.dcm",
    "p/a.dcm",
    undefined,
    x,
    "P/S/268724.DCM",
    "p/a_3.dcm",
  ];
  const planned = (dest: string | undefined, i: number) =>
    ({
      input: { root: "/r", rel: `f${i}`, path: `/r/f${i}`, size: 1, kind: "dicom" },
      status: dest ? "write" : "skip",
      dest,
    }) as unknown as PlannedFile;
  for (const inMemory of [undefined, 2]) {
    const dir = await Deno.makeTempDir({ prefix: "dcmtidy-names-" });
    try {
      // Past a bound of 2 the records are read back from disk (new strings, as a large plan's are).
      const files = new PlannedFiles({ dir: () => dir, inMemory });
      dests.forEach((d, i) => files.push(planned(d, i)));
      const warnings: PlanWarning[] = [];
      const errors: string[] = [];
      resolveCollisions(files, "suffix", warnings, errors);
      assert.deepEqual(files.map((f) => f.dest), [
        x,
        "p/A.dcm",
        y,
        "p/a_2.dcm",
        "p/a_2_2.dcm",
        "p/a_3.dcm",
        undefined,
        "p/s/268724_2.dcm",
        "P/S/268724_3.DCM",
        "p/a_3_2.dcm",
      ]);
      assert.equal(warnings.length, 6);
      assert.deepEqual(errors, []);
      // What the files have at hand follows their records, renamed ones included.
      for (const [i, f] of files.entries()) {
        assert.equal(files.status(i), f.status);
        assert.equal(files.seriesOf(i), f.series);
        assert.equal(files.inputSize(i), f.input.size);
        assert.equal(files.destKey(i), f.dest === undefined ? undefined : destKeyOf(f.dest));
      }
      const strict = new PlannedFiles({ dir: () => dir, inMemory });
      dests.forEach((d, i) => strict.push(planned(d, i)));
      resolveCollisions(strict, "error", [], errors);
      // Files 3 and 5 (p/a.dcm), 7 and 8 (x): the first of each name is written.
      assert.equal(errors.length, 4, errors.join("\n"));
      files.close();
      strict.close();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});
