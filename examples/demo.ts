/**
 * `deno task demo`: builds a small raw dump in a temporary folder (3 patients, 2 studies each,
 * 3 series each, PHI in nested sequences and private tags, one non-DICOM file, one cut file),
 * then runs `plan`, `run --yes` and `verify` with examples/research.yaml and a demo salt, and prints
 * the output tree and the report. It needs nothing but Deno.
 */
import { buildDicom, nestedPatientNameDataset, type Node, tag } from "../tests/fixtures/builder.ts";
import { main } from "../cli.ts";

const dir = await Deno.makeTempDir({ prefix: "dcmtidy-demo-" });
const raw = `${dir}/raw`;
await Deno.mkdir(`${raw}/export/usb`, { recursive: true });

let n = 0;
for (const [p, name] of ["Doe^Jane", "Roe^Richard", "Poe^Edgar"].entries()) {
  for (const s of [1, 2]) {
    for (const se of [1, 2, 3]) {
      const study = `1.2.826.0.1.3680043.10.1000.42.${p}.${s}`;
      const values: Record<number, string> = {
        [tag(0x0010, 0x0010)]: name,
        [tag(0x0010, 0x0020)]: `MRN${100 + p}`,
        [tag(0x0020, 0x000d)]: study,
        [tag(0x0020, 0x000e)]: `${study}.${se}`,
        [tag(0x0008, 0x0018)]: `${study}.${se}.1`,
        [tag(0x0020, 0x0011)]: String(se),
        [tag(0x0008, 0x0020)]: `2024031${s}`,
      };
      const nodes: Node[] = nestedPatientNameDataset({ depth: 2, undefinedLength: true })
        .map((x) => ("tag" in x && values[x.tag] !== undefined ? { ...x, value: values[x.tag] } as Node : x));
      nodes.push(
        { tag: tag(0x0008, 0x103e), vr: "LO", value: ["T1 MPRAGE", "FLAIR", "DWI"][se - 1] },
        { tag: tag(0x0029, 0x0010), vr: "LO", value: "ACME PRIVATE" }, // a private block with PHI
        { tag: tag(0x0029, 0x1001), vr: "LO", value: `${name} called on 555-0100` },
      );
      await Deno.writeFile(
        `${raw}/export${n % 2 ? "/usb" : ""}/IMG${String(++n).padStart(5, "0")}`,
        buildDicom(nodes),
      );
    }
  }
}
await Deno.writeTextFile(`${raw}/export/readme.txt`, "exported by the PACS\n");
const whole = await Deno.readFile(`${raw}/export/IMG00001`);
await Deno.writeFile(`${raw}/export/broken.dcm`, whole.subarray(0, whole.length - 9));

const protocol = `${dir}/study.yaml`;
await Deno.writeTextFile(
  protocol,
  (await Deno.readTextFile(new URL("./research.yaml", import.meta.url)))
    .replace("key: ./secure/key.csv", `key: ${dir}/secure/key.csv`)
    .replace("burned_in: quarantine", "burned_in: warn"),
);
// A demo salt: a real study keeps its own secret out of git and out of this script.
Deno.env.set("DCMTIDY_SALT", "demo-salt-not-for-real-data-0001");

const step = async (title: string, args: string[]) => {
  console.log(`\n$ dcmtidy ${args.map((a) => a.replace(dir, "$DEMO")).join(" ")}   # ${title}`);
  const code = await main(args);
  console.log(`(exit code ${code})`);
};

console.log(`demo folder: ${dir} (raw dump of ${n} DICOM files, a text file and a cut file)`);
await step("what would happen", ["plan", protocol]);
await step("do it (exit 3: the cut file is quarantined)", ["run", "--yes", protocol]);
await step("read every output back and check it against its input (exit 0: no findings)", [
  "verify",
  protocol,
]);
await step("one output file; PHI would be masked anyway", ["dump", ...(await firstOutput(`${dir}/tidy`))]);
console.log(`\n# ${dir}/tidy/report.csv`.replace(dir, "$DEMO"));
console.log(await Deno.readTextFile(`${dir}/tidy/report.csv`));
await Deno.remove(dir, { recursive: true });
console.log("demo done; its temporary folder is removed.");

async function firstOutput(root: string): Promise<string[]> {
  for await (const e of Deno.readDir(root)) {
    if (e.isDirectory && !e.name.startsWith(".")) return firstOutput(`${root}/${e.name}`);
    if (e.isFile && e.name.endsWith(".dcm")) return [`${root}/${e.name}`];
  }
  return [];
}
