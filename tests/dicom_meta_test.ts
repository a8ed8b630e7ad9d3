/**
 * A file meta group without Transfer Syntax UID (0002,0010): the data set tells its encoding, as
 * dcmtk and pydicom read such files; compressed Pixel Data cannot be told apart and is refused with
 * the reason. A run writes such a file (with the transfer syntax it was read as) instead of
 * quarantining it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DicomReadError } from "../src/dicom/errors.ts";
import { parseDicom } from "../src/dicom/reader.ts";
import { buildDicom, sampleDataset, tag } from "./fixtures/builder.ts";
import { hasTool, runCli, runTool } from "./helpers.ts";

Deno.test("meta without Transfer Syntax UID: explicit and implicit data sets read; compressed pixels refused", () => {
  for (
    const [ts, uid] of [["explicit-le", "1.2.840.10008.1.2.1"], ["implicit-le", "1.2.840.10008.1.2"]] as const
  ) {
    const { file } = parseDicom(buildDicom(sampleDataset(), { ts, omitTransferSyntax: true }));
    assert.equal(file.transferSyntax.uid, uid, ts);
    assert.ok(
      file.warnings.some((w) => /no Transfer Syntax UID \(0002,0010\): the data set reads as/.test(w)),
      ts,
    );
    assert.ok(file.dataset.elements.some((e) => e.tag === tag(0x0010, 0x0010)), ts);
  }
  const compressed = sampleDataset().map((n) =>
    "tag" in n && n.tag === tag(0x7fe0, 0x0010)
      ? { tag: n.tag, vr: "OB" as const, fragments: [new Uint8Array([0xff, 0xd8, 0xff, 0xd9])] }
      : n
  );
  assert.throws(
    () => parseDicom(buildDicom(compressed, { omitTransferSyntax: true })),
    (e) =>
      e instanceof DicomReadError &&
      /Pixel Data is compressed: which compression cannot be told/.test(e.message),
  );
});

Deno.test("meta without Transfer Syntax UID: a run writes the file, which dcmtk reads", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-nots-" }));
  try {
    await Deno.mkdir(`${dir}/raw`);
    await Deno.writeFile(
      `${dir}/raw/a`,
      buildDicom(sampleDataset(), { ts: "implicit-le", omitTransferSyntax: true }),
    );
    await Deno.writeTextFile(
      `${dir}/p.yaml`,
      "version: 1\nname: nots\ninput: { root: ./raw }\noutput: { root: ./out }\n" +
        "deidentify:\n  salt: { env: DCMTIDY_SALT }\n",
    );
    const r = await runCli(["run", "--yes", `${dir}/p.yaml`], {
      DCMTIDY_SALT: "no-ts-salt-0123456789abcdef",
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const files = [...Deno.readDirSync(`${dir}/out`)].filter((e) => e.isDirectory);
    assert.ok(files.length > 0);
    if (await hasTool("dcmdump", ["--version"])) {
      const csv = await Deno.readTextFile(`${dir}/out/.dcmtidy/files.csv`);
      const out = csv.split("\n")[1].split(",").find((c) => c.endsWith(".dcm"))!;
      const d = await runTool("dcmdump", ["-q", `${dir}/out/${out}`]);
      assert.equal(d?.code, 0, d?.stderr);
      assert.match(d!.stdout, /\(0002,0010\) UI =LittleEndianImplicit/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
