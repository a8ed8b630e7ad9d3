/**
 * `deno task demo`: builds a small raw dump in a temporary folder and runs what dcmtidy can do so
 * far on it (the engine: dump with masked PHI, then a batch rewrite with edits), printing each step.
 * It needs nothing but Deno. When plan/run land, the demo runs them on the same dump.
 */
import { buildDicom, nestedPatientNameDataset, sampleDataset } from "../tests/fixtures/builder.ts";
import { main } from "../cli.ts";

const dir = await Deno.makeTempDir({ prefix: "dcmtidy-demo-" });
const raw = `${dir}/raw`;
await Deno.mkdir(raw);
await Deno.writeFile(
  `${raw}/IM0001`,
  buildDicom(nestedPatientNameDataset({ depth: 3, undefinedLength: true })),
);
await Deno.writeFile(`${raw}/IM0002`, buildDicom(sampleDataset(), { ts: "implicit-le" }));
await Deno.writeFile(`${raw}/IM0003`, buildDicom(sampleDataset(), { ts: "explicit-be" }));
await Deno.writeTextFile(`${raw}/notes.txt`, "not a DICOM file\n");

const step = async (title: string, args: string[]) => {
  console.log(`\n$ dcmtidy ${args.map((a) => a.replace(dir, "$DEMO")).join(" ")}   # ${title}`);
  const code = await main(args);
  console.log(`(exit code ${code})`);
};

console.log(`demo folder: ${dir}`);
await step("identifying values are masked", ["dump", `${raw}/IM0001`]);
await step("rewrite every file with an edit; the text file is reported as not DICOM (exit 1)", [
  "modify",
  `${raw}/IM0001`,
  `${raw}/IM0002`,
  `${raw}/IM0003`,
  `${raw}/notes.txt`,
  "--out",
  `${dir}/out`,
  "--set",
  "PatientName=Demo^Subject",
]);
await step("an edit two sequences deep", [
  "modify",
  `${dir}/out/IM0001`,
  "--out",
  `${dir}/out2`,
  "--set",
  "RequestAttributesSequence[0].RequestAttributesSequence[0].PatientName=Nested^Too",
]);
await step("the result, PHI shown on purpose", ["dump", "--show-phi", `${dir}/out2/IM0001`]);
await Deno.remove(dir, { recursive: true });
console.log("\ndemo done; its temporary folder is removed.");
