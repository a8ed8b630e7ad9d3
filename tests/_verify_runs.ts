/**
 * Finished runs for the verify precision and recall tests: every example protocol (examples/*.yaml)
 * run on an input folder, as `bench/same_output.ts` runs them (report and key beside the protocol),
 * and the repository's fixtures written as one input folder.
 *
 * @module
 */
import { join } from "node:path";
import { Keys } from "../src/deid/keys.ts";
import { makePlan } from "../src/plan/mod.ts";
import { loadProtocol } from "../src/protocol/load.ts";
import type { Protocol } from "../src/protocol/protocol.ts";
import { runPlan } from "../src/run/mod.ts";
import { buildDicom, type Node, sampleDataset } from "./fixtures/builder.ts";
import { buildCanaryFile, canaryFixture } from "./fixtures/canary.ts";
import { niftiSeries } from "./fixtures/nifti_fixtures.ts";
import { buildRawDump } from "./fixtures/raw_dump.ts";
import { ROOT } from "./helpers.ts";

/** The salt of these runs. */
export const SALT = "verify-precision-recall-salt-01";
/** Its keys. */
export const KEYS = new Keys(new TextEncoder().encode(SALT));

/** The example protocols, by file name (sorted). */
export function examples(): string[] {
  return [...Deno.readDirSync(join(ROOT, "examples"))].map((e) => e.name).filter((n) => n.endsWith(".yaml"))
    .sort();
}

/** Names with characters beyond ASCII, one file each in Latin-1 and in UTF-8. */
export const CHARSET_NAMES = { latin1: "Müller^Jürgen", utf8: "Østergård^Åse" } as const;

/**
 * Write the repository's fixtures under `dir` as one raw input: the raw dump (3 patients, nested
 * and private PHI, implicit VR), the NIfTI series, the canary file (PHI in every kind of element)
 * and a Latin-1 and a UTF-8 file with names beyond ASCII.
 */
export async function writeFixtureInput(dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await buildRawDump(dir);
  for (const [s, fx] of niftiSeries().entries()) {
    await Deno.mkdir(join(dir, "nifti", String(s)), { recursive: true });
    for (const [i, bytes] of fx.files.entries()) {
      await Deno.writeFile(join(dir, "nifti", String(s), `F${i}`), bytes);
    }
  }
  await Deno.writeFile(join(dir, "canary.dcm"), buildCanaryFile(canaryFixture()));
  const charset = (charsetTerm: string, bytes: Uint8Array, n: number): Uint8Array => {
    const replace = new Map<number, Node>([
      [0x00080005, { tag: 0x00080005, vr: "CS", value: charsetTerm }],
      [0x00100010, { tag: 0x00100010, vr: "PN", value: bytes }],
      [0x00100020, { tag: 0x00100020, vr: "LO", value: `CHARSET-${n}` }],
      [0x00080018, { tag: 0x00080018, vr: "UI", value: `1.2.826.0.1.3680043.10.1000.66.${n}` }],
      [0x0020000d, { tag: 0x0020000d, vr: "UI", value: `1.2.826.0.1.3680043.10.1000.66.${n}.1` }],
      [0x0020000e, { tag: 0x0020000e, vr: "UI", value: `1.2.826.0.1.3680043.10.1000.66.${n}.1.1` }],
    ]);
    const nodes = sampleDataset().filter((x) => !("tag" in x) || !replace.has(x.tag));
    nodes.push(...replace.values());
    nodes.sort((a, b) => ("tag" in a && "tag" in b ? a.tag - b.tag : 0));
    return buildDicom(nodes);
  };
  const latin1 = Uint8Array.from(CHARSET_NAMES.latin1, (c) => c.charCodeAt(0));
  await Deno.writeFile(join(dir, "latin1.dcm"), charset("ISO_IR 100", latin1, 1));
  const utf8 = new TextEncoder().encode(CHARSET_NAMES.utf8);
  await Deno.writeFile(join(dir, "utf8.dcm"), charset("ISO_IR 192", utf8, 2));
}

/**
 * Run the example protocol `name` on `input` in `work/<name>`: the protocol copied there with its
 * report and key beside it (and dcm2dir's config), output in `work/<name>/out`. Gives the loaded
 * protocol (its output root is the run's output).
 */
export async function runExample(name: string, input: string, work: string): Promise<Protocol> {
  const dir = join(work, name.replace(/\.yaml$/, ""));
  await Deno.mkdir(dir, { recursive: true });
  const text = (await Deno.readTextFile(join(ROOT, "examples", name)))
    .replace(/^key: .*$/m, "key: ./key.csv")
    .replace(/^report: .*$/m, "report: ./report.csv")
    .replace(/^quarantine: .*$/m, "quarantine: ./quarantine");
  await Deno.writeTextFile(join(dir, "protocol.yaml"), text);
  for (const e of Deno.readDirSync(join(ROOT, "examples"))) {
    if (e.isFile && e.name.endsWith(".json")) {
      await Deno.copyFile(join(ROOT, "examples", e.name), join(dir, e.name));
    }
  }
  const protocol = await loadProtocol(join(dir, "protocol.yaml"), {
    env: () => SALT,
    input,
    output: join(dir, "out"),
  });
  const keys = protocol.deidentify ? KEYS : undefined;
  await runPlan(await makePlan(protocol, keys), { keys });
  return protocol;
}
