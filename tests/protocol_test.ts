/**
 * Protocol loading: every bad protocol is reported with its exact message, line and column before
 * anything runs; every example validates; the JSON Schema is fresh and agrees with the loader;
 * the salt never appears in any message.
 */
import assert from "node:assert/strict";
import { Ajv2020 } from "ajv/dist/2020.js";
import { parse as parseYaml } from "yaml";
import { loadProtocol } from "../src/protocol/load.ts";
import { formatIssue, ProtocolError } from "../src/protocol/errors.ts";
import { protocolJsonSchema } from "../src/protocol/schema.ts";
import { schemaText } from "../scripts/gen_schema.ts";
import { ROOT, runCli } from "./helpers.ts";
import { main } from "../cli.ts";

const SALT_ENV = { DCMTIDY_SALT: "not-a-real-salt-4f1c" };
const env = (name: string) => (SALT_ENV as Record<string, string>)[name];

/** A valid protocol; cases replace one line (or append) to break exactly one thing. */
const BASE = `version: 1
name: study
input:
  root: ./raw
output:
  root: ./tidy
deidentify:
  salt: { env: DCMTIDY_SALT }
`;

interface Case {
  name: string;
  yaml: string;
  /** `line:col: message` exactly, one per problem. */
  expect: string[];
  /** Files the case needs next to the protocol. */
  files?: Record<string, string>;
  /** Whether the JSON Schema can express this problem (it cannot know keywords, paths or files). */
  schemaRejects?: boolean;
}

const CASES: Case[] = [
  {
    name: "misspelled top-level key",
    yaml: BASE.replace("input:", "inptu:"),
    expect: ['3:1: unknown key "inptu" (did you mean "input"?)'],
    schemaRejects: true,
  },
  {
    name: "misspelled nested key",
    yaml: BASE.replace("  root: ./raw", "  root: ./raw\n  includes: ['**/*.dcm']"),
    expect: ['5:3: unknown key "includes" (did you mean "include"?)'],
    schemaRejects: true,
  },
  {
    name: "unknown keyword in tags",
    yaml: BASE + "  tags:\n    PatientNmae: remove\n",
    expect: ['10:5: "PatientNmae" is not a DICOM keyword (did you mean "PatientName"?)'],
  },
  {
    name: "not a selector at all",
    yaml: BASE + '  tags:\n    "(0010;0010)": remove\n',
    expect: [
      '10:5: "(0010;0010)" is not a tag selector: use a keyword, (gggg,eeee), (60xx,4000) or (gggg,"CREATOR",ee)',
    ],
  },
  {
    name: "private creator selector in an even group",
    yaml: BASE + "  tags:\n    '(0010,\"ACME\",10)': remove\n",
    expect: ['10:5: "(0010,"ACME",10)": private creators only exist in odd groups'],
  },
  {
    name: "unknown action",
    yaml: BASE + "  tags:\n    PatientName: scramble\n",
    expect: [
      '10:18: deidentify.tags.PatientName: "scramble" is not an action (keep, remove, empty, dummy, uid, hash, K, X, Z, D, U, C:VALUE, {replace}, {regexp}, {shift_date: true}, {fn})',
    ],
    schemaRejects: true,
  },
  {
    name: "shift_date on a tag that is not a date",
    yaml: BASE + "  dates: { shift: { days: -10 } }\n  tags:\n    PatientName: { shift_date: true }\n",
    expect: ["11:18: shift_date cannot apply to PatientName, whose VR is PN"],
  },
  {
    name: "shift_date without a shift policy",
    yaml: BASE + "  tags:\n    StudyDate: { shift_date: true }\n",
    expect: ["10:16: shift_date needs dates: { shift: ... } to know by how much"],
  },
  {
    name: "modified dates option without saying how",
    yaml: BASE + "  options: [retain-longitudinal-modified-dates]\n",
    expect: [
      "9:12: retain-longitudinal-modified-dates needs dates: { shift: ... } or dates: year-only to say how",
    ],
  },
  {
    name: "uid action on a tag that is not a UID",
    yaml: BASE + "  tags:\n    StudyDate: uid\n",
    expect: ["10:16: uid (a new UID) cannot apply to StudyDate, whose VR is DA"],
  },
  {
    name: "regexp on a binary number",
    yaml: BASE + "  tags:\n    Rows: { regexp: { find: '1', replace: '2' } }\n",
    expect: ["10:11: regexp cannot apply to Rows, whose VR is US"],
  },
  {
    name: "hash on a sequence",
    yaml: BASE + "  tags:\n    RequestAttributesSequence: hash\n",
    expect: ["10:32: hash cannot apply to RequestAttributesSequence, whose VR is SQ"],
  },
  {
    name: "fn hook in a YAML protocol",
    yaml: BASE + "  tags:\n    SeriesDescription: { fn: clean }\n",
    expect: ['10:24: no hook named "clean" (hooks are defined in TypeScript protocols)'],
  },
  {
    name: "shift range with min greater than max",
    yaml: BASE + "  dates: { shift: { min_days: 10, max_days: -10 } }\n",
    expect: ["9:19: min_days (10) is greater than max_days (-10)"],
  },
  {
    name: "hardlink together with deidentify",
    yaml: BASE.replace("  root: ./tidy", "  root: ./tidy\n  mode: hardlink"),
    expect: ["7:9: mode hardlink links to the original files, which cannot be de-identified: use mode: copy"],
  },
  {
    name: "output root inside the input root",
    yaml: BASE.replace("  root: ./tidy", "  root: ./raw/tidy"),
    expect: [
      `6:9: the output root ${"<dir>"}/raw/tidy overlaps the input root ${"<dir>"}/raw: keep them apart`,
    ],
  },
  {
    name: "input root inside the output root",
    yaml: BASE.replace("  root: ./raw", "  root: ./tidy/raw"),
    expect: [
      `6:9: the output root ${"<dir>"}/tidy overlaps the input root ${"<dir>"}/tidy/raw: keep them apart`,
    ],
  },
  {
    name: "key file inside the output root",
    yaml: BASE + "key: ./tidy/key.csv\n",
    expect: ["9:6: the key file links pseudonyms to identities: keep it outside the output root"],
  },
  {
    name: "quarantine inside the output root",
    yaml: BASE + "quarantine: ./tidy/q\n",
    expect: ["9:13: quarantined files are raw input: keep the quarantine folder outside the output root"],
  },
  {
    name: "salt variable not set",
    yaml: BASE.replace("DCMTIDY_SALT", "STUDY_SALT"),
    expect: ["8:16: environment variable STUDY_SALT is not set (it holds the salt)"],
  },
  {
    name: "inline salt",
    yaml: BASE.replace("{ env: DCMTIDY_SALT }", "s3cr3t-inline-value"),
    expect: ["8:9: an inline salt is refused: use { env: NAME } or { file: path } outside git"],
  },
  {
    name: "salt file missing",
    yaml: BASE.replace("{ env: DCMTIDY_SALT }", "{ file: ./salt.txt }"),
    expect: [`8:17: salt file ${"<dir>"}/salt.txt does not exist`],
  },
  {
    name: "lookup file missing",
    yaml: BASE + "  patient_id: { lookup: { file: ./ids.csv } }\n",
    expect: [`9:33: lookup file ${"<dir>"}/ids.csv does not exist`],
  },
  {
    name: "lookup file with duplicate and conflicting rows",
    yaml: BASE + "  patient_id: { lookup: { file: ./ids.csv, missing: hash } }\n",
    files: { "ids.csv": "old,new\nP1,S1\nP2,S2\nP1,S1\nP2,S9\nP3,S1\n" },
    expect: [
      `9:33: ${"<dir>"}/ids.csv:4: duplicate row for an ID already on line 2; ` +
      `${"<dir>"}/ids.csv:5: conflicting row: an ID on line 3 maps to another value; ` +
      `${"<dir>"}/ids.csv:6: new ID "S1" is already given to the ID on line 2`,
    ],
  },
  {
    name: "unknown option",
    yaml: BASE + "  options: [retain-uid]\n",
    expect: [
      '9:13: deidentify.options.0 must be "retain-safe-private", "retain-uids", "retain-device-identity", ' +
      '"retain-institution-identity", "retain-patient-characteristics", "retain-longitudinal-full-dates", ' +
      '"retain-longitudinal-modified-dates", "clean-descriptors", "clean-structured-content" or "clean-graphics"',
    ],
    schemaRejects: true,
  },
  {
    name: "options that exclude each other",
    yaml: BASE + "  options: [retain-longitudinal-full-dates, retain-longitudinal-modified-dates]\n" +
      "  dates: year-only\n",
    expect: [
      "9:12: retain-longitudinal-full-dates and retain-longitudinal-modified-dates exclude each other: pick one",
    ],
  },
  {
    name: "uids keep without retain-uids",
    yaml: BASE + "  uids: keep\n",
    expect: ["9:9: uids: keep needs the retain-uids option"],
  },
  {
    name: "wrong version",
    yaml: BASE.replace("version: 1", "version: 2"),
    expect: ["1:10: version must be 1"],
    schemaRejects: true,
  },
  {
    name: "wrong type",
    yaml: BASE.replace("  root: ./tidy", "  root: 42"),
    expect: ["6:9: output.root must be a string"],
    schemaRejects: true,
  },
  {
    name: "unknown mode",
    yaml: BASE.replace("  root: ./tidy", "  root: ./tidy\n  mode: move"),
    expect: ['7:9: output.mode must be "copy", "hardlink" or "symlink"'],
    schemaRejects: true,
  },
  {
    name: "unknown template placeholder",
    yaml: BASE.replace("  root: ./tidy", "  root: ./tidy\n  path: '%i/%q'"),
    expect: [
      '7:9: unknown placeholder "%q" at column 4 (known: %a %b %c %d %e %f %g %i %j %k %m %n %o %p %r %s %t %u %v %x %z)',
    ],
  },
  {
    name: "input names in a de-identifying template",
    yaml: BASE.replace("  root: ./tidy", "  root: ./tidy\n  path: '{pseudo_id}/%f'\n  file: '%b'"),
    expect: [
      '7:9: %b and %f copy input file and folder names, which often name the patient or hold original UIDs: a de-identifying protocol cannot use them (try "{InstanceNumber:04}.dcm")',
      '8:9: %b and %f copy input file and folder names, which often name the patient or hold original UIDs: a de-identifying protocol cannot use them (try "{InstanceNumber:04}.dcm")',
    ],
  },
  {
    name: "key file, report and quarantine inside the input",
    yaml: BASE.replace("output:", "key: ./raw/key.csv\nreport: ../raw/r.csv\nquarantine: ./raw/q\noutput:"),
    expect: [
      "5:6: the key file <dir>/raw/key.csv is inside the input root <dir>/raw: keep it apart",
      "6:9: the report <dir>/raw/r.csv is inside the input root <dir>/raw: keep it apart",
      "7:13: the quarantine folder <dir>/raw/q is inside the input root <dir>/raw: keep it apart",
    ],
  },
  {
    name: "key file that is a folder",
    yaml: BASE.replace("output:", "key: ./keys\noutput:"),
    files: { "keys/.keep": "" },
    expect: ["5:6: the key file <dir>/keys is a folder: name a file"],
  },
  {
    name: "misspelled keyword in a template",
    yaml: BASE.replace("  root: ./tidy", "  root: ./tidy\n  file: '{InstanceNumbr:04}.dcm'"),
    expect: ['7:9: unknown keyword "InstanceNumbr" at column 2 (did you mean "InstanceNumber"?)'],
  },
  {
    name: "YAML syntax error",
    yaml: BASE.replace("  root: ./raw", "  root: [./raw"),
    expect: ["5:1: Flow sequence in block collection must be sufficiently indented and end with a ]"],
    schemaRejects: false,
  },
  {
    name: "duplicate key",
    yaml: BASE + "name: other\n",
    expect: ["9:1: Map keys must be unique"],
  },
];

async function withDir<T>(files: Record<string, string>, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-protocol-" }));
  try {
    for (const [name, text] of Object.entries(files)) {
      if (name.includes("/")) {
        await Deno.mkdir(`${dir}/${name.slice(0, name.lastIndexOf("/"))}`, { recursive: true });
      }
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function problems(yaml: string, files: Record<string, string> = {}): Promise<string[]> {
  return await withDir({ "study.yaml": yaml, ...files }, async (dir) => {
    try {
      await loadProtocol(`${dir}/study.yaml`, { env });
      return [];
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      return e.issues.map((i) => formatIssue(i).replace(`${dir}/study.yaml:`, "").replaceAll(dir, "<dir>"));
    }
  });
}

Deno.test("protocol: the base protocol of the bad-protocol table is valid", async () => {
  assert.deepEqual(await problems(BASE), []);
});

Deno.test(`protocol: ${CASES.length} bad protocols, each with its exact message, line and column`, async () => {
  assert.ok(CASES.length >= 25);
  const wrong: string[] = [];
  for (const c of CASES) {
    const got = await problems(c.yaml, c.files);
    if (JSON.stringify(got) !== JSON.stringify(c.expect)) {
      wrong.push(`${c.name}:\n  got  ${got.join("\n       ")}`);
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("protocol: the JSON Schema is fresh, accepts every example and rejects what it can express", async () => {
  const committed = await Deno.readTextFile(`${ROOT}schema/protocol.schema.json`);
  assert.equal(committed, schemaText(), "schema/protocol.schema.json is stale: run `deno task gen:schema`");
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const check = ajv.compile(protocolJsonSchema());
  const examples = [...Deno.readDirSync(`${ROOT}examples`)].filter((e) => e.name.endsWith(".yaml"));
  assert.ok(examples.length >= 3);
  for (const e of examples) {
    const data = parseYaml(await Deno.readTextFile(`${ROOT}examples/${e.name}`));
    assert.ok(check(data), `${e.name}: ${JSON.stringify(check.errors)}`);
  }
  let rejected = 0;
  for (const c of CASES.filter((c) => c.schemaRejects)) {
    assert.equal(check(parseYaml(c.yaml)), false, c.name);
    rejected++;
  }
  assert.ok(rejected >= 6);
});

Deno.test("protocol: every example validates (YAML and TypeScript)", async () => {
  const examples = [...Deno.readDirSync(`${ROOT}examples`)]
    .filter((e) => e.name.endsWith(".yaml") || (e.name.endsWith(".ts") && e.name !== "demo.ts"));
  for (const e of examples) {
    const p = await loadProtocol(`${ROOT}examples/${e.name}`, { env });
    assert.ok(p.name, e.name);
  }
});

Deno.test("protocol: --input and --output replace the protocol's roots", async () => {
  await withDir({ "study.yaml": BASE }, async (dir) => {
    const p = await loadProtocol(`${dir}/study.yaml`, {
      env,
      input: `${dir}/site-b/raw`,
      output: `${dir}/site-b/out`,
    });
    assert.deepEqual(p.input.roots, [`${dir}/site-b/raw`]);
    assert.equal(p.output.root, `${dir}/site-b/out`);
    assert.equal(p.report, `${dir}/site-b/out/report.csv`);
  });
});

Deno.test("protocol: a TypeScript protocol gets the same validation, without positions", async () => {
  const ts = `import { defineProtocol } from "${ROOT}mod.ts";
export default defineProtocol({
  version: 1, name: "ts-study", input: { root: "./raw" }, output: { root: "./raw/out" },
  deidentify: { salt: { env: "DCMTIDY_SALT" }, tags: { SeriesDescription: { fn: "nope" }, PatientNmae: "remove" } },
  hooks: { clean: (v) => v },
});
`;
  await withDir({ "study.ts": ts }, async (dir) => {
    const err = await loadProtocol(`${dir}/study.ts`, { env }).then(
      () => undefined,
      (e) => e as ProtocolError,
    );
    assert.ok(err instanceof ProtocolError);
    assert.deepEqual(err.issues.map((i) => formatIssue(i).replaceAll(dir, "<dir>")), [
      "<dir>/study.ts: the output root <dir>/raw/out overlaps the input root <dir>/raw: keep them apart",
      '<dir>/study.ts: no hook named "nope" (hooks: clean)',
      '<dir>/study.ts: "PatientNmae" is not a DICOM keyword (did you mean "PatientName"?)',
    ]);
  });
});

Deno.test("protocol: the salt never appears in output or errors; init and validate from the CLI", async () => {
  const salt = "salt-CANARY-7d1e9a";
  await withDir({}, async (dir) => {
    const init = await runCli(["init", `${dir}/study.yaml`]);
    assert.equal(init.code, 0, init.stderr);
    const again = await runCli(["init", `${dir}/study.yaml`]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists already/);
    const ok = await runCli(["validate", `${dir}/study.yaml`], { DCMTIDY_SALT: salt });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /salt: +from environment variable DCMTIDY_SALT/);
    const missing = await runCli(["validate", `${dir}/study.yaml`]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /study\.yaml:\d+:\d+: environment variable DCMTIDY_SALT is not set/);
    assert.doesNotMatch(missing.stderr, /\n\s+at /, "no stack trace");
    // An inline salt is refused without being echoed.
    const inline = (await Deno.readTextFile(`${dir}/study.yaml`)).replace("{ env: DCMTIDY_SALT }", salt);
    await Deno.writeTextFile(`${dir}/inline.yaml`, inline);
    const refused = await runCli(["validate", `${dir}/inline.yaml`], { DCMTIDY_SALT: salt });
    assert.equal(refused.code, 2);
    for (const r of [ok, missing, refused]) {
      assert.ok(!(r.stdout + r.stderr).includes(salt), "the salt leaked into output");
    }
    for (const preset of ["sort-only", "dcm2dir"]) {
      assert.equal((await runCli(["init", `${dir}/${preset}.yaml`, "--preset", preset])).code, 0);
      const v = await runCli(["validate", `${dir}/${preset}.yaml`], { DCMTIDY_SALT: salt });
      assert.equal(v.code, 0, v.stderr);
    }
  });
});

Deno.test("protocol: a dcm2dir tags_file is read, and the protocol's own tags override it", async () => {
  const yaml = BASE + "  tags_file: ./anon.json\n  tags:\n    PatientName: remove\n";
  const anon = JSON.stringify({ "(0010-0010)": "K", "(0010,0020)": "X", "(0008,0080)": "Z" });
  await withDir({ "study.yaml": yaml, "anon.json": anon }, async (dir) => {
    const p = await loadProtocol(`${dir}/study.yaml`, { env });
    const rules = p.deidentify!.rules.map((r) => [r.selector.text, JSON.stringify(r.action), r.origin]);
    assert.deepEqual(rules, [
      ["PatientName", '"remove"', "protocol"],
      ["(0010,0010)", '"K"', "tags_file"],
      ["(0010,0020)", '"X"', "tags_file"],
      ["(0008,0080)", '"Z"', "tags_file"],
    ]);
  });
});

Deno.test("init: the starter names a schema beside it, init writes it there, and the starter passes it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-initschema-" });
  try {
    for (const preset of ["research", "sort-only", "dcm2dir"]) {
      const path = `${dir}/${preset}.yaml`;
      assert.equal(await main(["init", path, "--preset", preset]), 0);
      const text = await Deno.readTextFile(path);
      const ref = text.match(/^# yaml-language-server: \$schema=(\S+)$/m)?.[1];
      assert.equal(ref, "./dcmtidy-protocol.schema.json", preset);
      // The address resolves, as an editor resolves it: beside the protocol.
      const schema = JSON.parse(await Deno.readTextFile(`${dir}/${ref}`));
      const check = new Ajv2020({ allErrors: true, strict: false }).compile(schema);
      assert.ok(check(parseYaml(text)), `${preset}: ${JSON.stringify(check.errors)}`);
    }
    assert.equal(await Deno.readTextFile(`${dir}/dcmtidy-protocol.schema.json`), schemaText());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
