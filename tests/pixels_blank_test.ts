/**
 * `burned_in: blank` end to end: images with text at known boxes (native, RLE, JPEG-LS, JPEG 2000,
 * JPEG baseline YBR_FULL_422, RGB and multi-frame, MONOCHROME1, an ultrasound-regions image) run
 * through the CLI: inside every region the value that displays black, outside exactly the source's
 * decoded pixels, BurnedInAnnotation NO and 113101 in the method codes; the suspect no rule
 * matches is quarantined; a file no rule matches keeps the header de-identification it had.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { DicomFile } from "../src/dicom/model.ts";
import { readDicomFile } from "../src/dicom/read_file.ts";
import { decodeStrings } from "../src/dicom/values.ts";
import { decodeFrame, prepareDecoder } from "../src/pixels/decode.ts";
import { readPixelFormat } from "../src/pixels/format.ts";
import { openPixelSource } from "../src/pixels/source.ts";
import { tags } from "../src/standard/tags.ts";
import { parseCsv } from "../src/util/csv.ts";
import { type Box, type BurnedImage, burnedImage } from "./fixtures/burned_in_fixtures.ts";
import { buildDicom, sampleDataset } from "./fixtures/builder.ts";
import { hasTool, runCli, runTool } from "./helpers.ts";

const ENV = { DCMTIDY_SALT: "pixels-blank-test-salt-0123456789" };

const ACME: Omit<BurnedImage, "name" | "photometric" | "frames"> = {
  modality: "US",
  manufacturer: "ACME Imaging",
  model: "SONO 5",
  rows: 48,
  columns: 64,
  text: [[2, 1, 40, 7], [40, 38, 20, 8]],
};
const SC: Omit<BurnedImage, "name" | "photometric" | "frames"> = {
  modality: "SC",
  manufacturer: "Screens Inc",
  model: "GRAB",
  rows: 32,
  columns: 32,
  text: [[1, 1, 28, 6]],
};

/** The protocol's rules, and where they put black in each image (after negatives are resolved). */
const RULES = `
  burned_in: blank
  pixels:
    - name: acme-sono5
      when: { Manufacturer: { contains: acme }, ManufacturerModelName: SONO 5, Rows: 48, Columns: 64 }
      blank: [[0, 0, 64, 9], [-24, -10, 24, 10]]
    - name: screen-32
      when: { Modality: [SC, OT], Rows: 32, Columns: 32 }
      blank: [[0, 0, 32, 8]]
    - name: us-regions
      when: { Modality: US, ManufacturerModelName: REGIONS 1 }
      blank: all
      keep: ultrasound-regions
    - name: us-regions-top
      when: { ManufacturerModelName: { matches: "^regions" } }
      blank: [[0, 0, 64, 16]]
`;
const ACME_REGIONS: Box[] = [[0, 0, 64, 9], [40, 38, 24, 10]];
const SC_REGIONS: Box[] = [[0, 0, 32, 8]];

const protocol = (deid: string) =>
  `version: 1\nname: blank-test\ninput: { root: ./raw }\noutput:\n  root: ./out\n` +
  `  path: "{SeriesNumber}"\n  file: "{InstanceNumber:04}.dcm"\nquarantine: ./quarantine\n` +
  `deidentify:\n  salt: { env: DCMTIDY_SALT }\n${deid}`;

async function csv(path: string): Promise<Record<string, string>[]> {
  const [header, ...rows] = parseCsv(await Deno.readTextFile(path));
  return rows.filter((r) => r.length > 1).map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
}

/** Every frame as numbers per pixel sample, and the photometric interpretation after decoding. */
async function decoded(file: DicomFile): Promise<{ photometric: string; frames: number[][]; spp: number }> {
  const fmt = readPixelFormat(file.dataset);
  const src = openPixelSource(file, fmt);
  try {
    await prepareDecoder(src);
    const frames: number[][] = [];
    let photometric = fmt.photometric;
    for (let i = 0; i < fmt.frames; i++) {
      const d = decodeFrame(src, i);
      photometric = d.photometric;
      const v = new DataView(d.bytes.buffer, d.bytes.byteOffset, d.bytes.byteLength);
      const w = fmt.bitsAllocated / 8;
      const out: number[] = [];
      for (let k = 0; k + w <= d.bytes.length; k += w) {
        out.push(w === 1 ? d.bytes[k] : v.getUint16(k, true) & 0xfff);
      }
      frames.push(out);
    }
    return { photometric, frames, spp: fmt.samplesPerPixel };
  } finally {
    src.close();
  }
}

function inside(x: number, y: number, boxes: readonly Box[]): boolean {
  return boxes.some(([bx, by, bw, bh]) => x >= bx && y >= by && x < bx + bw && y < by + bh);
}

function values(file: DicomFile, tag: number): string[] {
  const el = file.dataset.elements.find((e) => e.tag === tag);
  return el ? decodeStrings(el, file.dataset) : [];
}

/** Compressed copies by dcmtk and gdcm (each when the tool is there). */
async function compressed(src: string, dir: string, name: string): Promise<string[]> {
  const made: string[] = [];
  const tools: [string, string[], string][] = [
    ["dcmcrle", [], "rle"],
    ["dcmcjpls", [], "jls"],
    ["dcmcjpeg", ["+eb"], "jpeg"],
    ["gdcmconv", ["--j2k"], "j2k"],
  ];
  for (const [tool, args, tag] of tools) {
    if (!(await hasTool(tool, ["--version"]))) continue;
    const out = `${dir}/${name}-${tag}`;
    const r = await runTool(tool, [...args, src, out]);
    if (r?.code === 0) made.push(out);
  }
  return made;
}

Deno.test("burned_in: blank: regions black in every syntax, the rest untouched, marks set, the unmatched suspect quarantined", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-blank-" }));
  try {
    await Deno.mkdir(`${dir}/raw`);
    await Deno.mkdir(`${dir}/made`);
    const images: [BurnedImage, Box[]][] = [
      [{ ...ACME, name: "us-rgb", photometric: "RGB", frames: 2 }, ACME_REGIONS],
      [{ ...SC, name: "sc-mono1", photometric: "MONOCHROME1", frames: 1 }, SC_REGIONS],
      [{ ...SC, name: "sc-mono2", photometric: "MONOCHROME2", frames: 3, modality: "OT" }, SC_REGIONS],
      [{
        ...ACME,
        name: "us-regions",
        model: "REGIONS 1",
        photometric: "RGB",
        frames: 1,
        usRegions: [[10, 12, 39, 35]],
      }, [[0, 0, 64, 48]]],
    ];
    // `always`: another rule's rectangles, blanked even inside the ultrasound region one rule keeps.
    const expected = new Map<string, { regions: Box[]; keep: Box[]; always: Box[] }>();
    let n = 0;
    for (const [img, regions] of images) {
      const native = `${dir}/made/${img.name}`;
      await Deno.writeFile(native, burnedImage(img, ++n));
      const keep: Box[] = (img.usRegions ?? []).map(([x0, y0, x1, y1]) => [x0, y0, x1 - x0 + 1, y1 - y0 + 1]);
      for (
        const path of [
          native,
          ...(img.photometric === "RGB" || img.frames === 1
            ? await compressed(native, `${dir}/made`, img.name)
            : []),
        ]
      ) {
        // Each copy is its own series (the run's names must not collide).
        const bytes = await Deno.readFile(path);
        const name = path.split("/").pop()!;
        await Deno.writeFile(`${dir}/raw/${name}`, bytes);
        expected.set(name, { regions, keep, always: img.usRegions ? [[0, 0, 64, 16]] : [] });
      }
    }
    // A suspect of a device no rule knows, and a CT no rule matches.
    await Deno.writeFile(
      `${dir}/raw/us-other`,
      burnedImage({ ...ACME, name: "o", manufacturer: "Other", photometric: "RGB", frames: 1 }, 90),
    );
    await Deno.writeFile(`${dir}/raw/ct`, buildDicom(sampleDataset()));
    await Deno.writeTextFile(`${dir}/p.yaml`, protocol(RULES));

    // Look before trusting: the plan lists the blanked files and writes before/after pictures.
    const plan = await runCli(["plan", "--preview", `${dir}/preview`, `${dir}/p.yaml`], ENV);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /pixels blanked by acme-sono5: \[0, 0, 64, 9\], \[40, 38, 24, 10\]/);
    assert.match(plan.stdout, /pixels blanked by us-regions, us-regions-top: .*keeping 1 ultrasound region/);
    const pictures = [...Deno.readDirSync(`${dir}/preview`)].map((e) => e.name).sort();
    assert.ok(
      pictures.length >= 2 && pictures.every((n) => /^series-\d+-(before|after)\.png$/.test(n)),
      `${pictures}`,
    );
    for (const n of pictures) {
      const head = (await Deno.readFile(`${dir}/preview/${n}`)).subarray(0, 8);
      assert.deepEqual([...head], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], n);
    }
    const json = JSON.parse((await runCli(["plan", "--json", `${dir}/p.yaml`], ENV)).stdout);
    const blanked = json.files.filter((f: { blank?: unknown }) => f.blank);
    assert.ok(blanked.length > 0);
    assert.ok(
      blanked.some((f: { blank: { regions: number[][] } }) =>
        JSON.stringify(f.blank.regions) === JSON.stringify(ACME_REGIONS)
      ),
    );
    assert.ok(
      json.files.some((f: { suspect?: { device?: string } }) =>
        f.suspect?.device === "Modality US, Manufacturer Other, ManufacturerModelName SONO 5, 64x48"
      ),
    );
    const refused = await runCli(["plan", "--preview", `${dir}/out/pics`, `${dir}/p.yaml`], ENV);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /overlaps the output root/);

    const run = await runCli(["run", "--yes", "--jobs", "2", `${dir}/p.yaml`], ENV);
    assert.equal(run.code, 3, run.stdout + run.stderr); // the unmatched suspect is quarantined
    const rows = await csv(`${dir}/out/.dcmtidy/files.csv`);
    const row = (input: string) => rows.find((r) => r.Input === input)!;
    assert.equal(row("us-other").Status, "quarantined");
    assert.match(
      row("us-other").Reason,
      /no pixels rule matches \(Modality US, Manufacturer Other, ManufacturerModelName SONO 5, 64x48\)/,
    );
    assert.equal(row("ct").Status, "written");

    const checked: string[] = [];
    for (const [name, { regions, keep, always }] of expected) {
      const r = row(name);
      assert.equal(r?.Status, "written", `${name}: ${r?.Reason}`);
      const source = await readDicomFile(`${dir}/raw/${name}`);
      const out = await readDicomFile(`${dir}/out/${r.Output}`);
      assert.deepEqual(values(out, tags.BurnedInAnnotation), ["NO"], name);
      const codes = out.dataset.elements.find((e) => e.tag === tags.DeidentificationMethodCodeSequence)!
        .items!;
      assert.ok(
        codes.some((it) => values({ ...out, dataset: it.dataset }, tags.CodeValue)[0] === "113101"),
        name,
      );
      const before = await decoded(source);
      const after = await decoded(out);
      assert.equal(after.frames.length, before.frames.length);
      const fmt = readPixelFormat(out.dataset);
      const black = after.photometric === "MONOCHROME1"
        ? [2 ** fmt.bitsStored - 1]
        : after.photometric === "RGB"
        ? [0, 0, 0]
        : [0];
      let blanked = 0;
      for (let f = 0; f < after.frames.length; f++) {
        for (let y = 0; y < fmt.rows; y++) {
          for (let x = 0; x < fmt.columns; x++) {
            for (let s = 0; s < after.spp; s++) {
              const k = (y * fmt.columns + x) * after.spp + s;
              if ((inside(x, y, regions) && !inside(x, y, keep)) || inside(x, y, always)) {
                assert.equal(after.frames[f][k], black[s], `${name} frame ${f} (${x}, ${y}) not black`);
                blanked++;
              } else {assert.equal(
                  after.frames[f][k],
                  before.frames[f][k],
                  `${name} frame ${f} (${x}, ${y}) changed`,
                );}
            }
          }
        }
      }
      assert.ok(blanked > 0, name);
      // Lossless sources stay in their syntax (or the lossless one of their family); lossy ones do not stay lossy.
      const ts = out.transferSyntax.uid;
      if (/\.4\.50$/.test(source.transferSyntax.uid)) {
        assert.equal(ts, "1.2.840.10008.1.2.4.80", name);
        assert.deepEqual(values(out, tags.LossyImageCompression), ["01"], name);
      } else if (/\.4\.9[01]$/.test(source.transferSyntax.uid)) {
        assert.equal(ts, "1.2.840.10008.1.2.4.80", name);
      } else assert.equal(ts, source.transferSyntax.uid, name);
      checked.push(`${name} (${ts})`);
    }
    console.log(`blanked and checked: ${checked.join(", ")}`);

    // The CT no rule matched: the same header de-identification as with burned_in: warn.
    await Deno.writeTextFile(`${dir}/q.yaml`, protocol("  burned_in: warn\n"));
    const warn = await runCli(["run", "--yes", "--output", `${dir}/warn`, `${dir}/q.yaml`], ENV);
    assert.ok(warn.code === 0 || warn.code === 3, warn.stderr);
    const ctRows = await csv(`${dir}/warn/.dcmtidy/files.csv`);
    const a = await readDicomFile(`${dir}/out/${row("ct").Output}`);
    const b = await readDicomFile(`${dir}/warn/${ctRows.find((r) => r.Input === "ct")!.Output}`);
    const dump = (f: DicomFile) =>
      f.dataset.elements.filter((e) => e.tag !== tags.DeidentificationMethod).map((e) =>
        `${e.tag}:${e.items ? e.items.length : decodeStrings(e, f.dataset).join("\\")}`
      );
    assert.deepEqual(dump(a), dump(b));

    const verify = await runCli(["verify", `${dir}/p.yaml`], ENV);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout + verify.stderr, /0 findings|no findings|clean/i);

    // Planted back: text inside a region of a written image; verify must see it.
    const us = `${dir}/out/${row("us-rgb").Output}`;
    const bytes = await Deno.readFile(us);
    const pixelsAt = bytes.length - 2 * 48 * 64 * 3; // two RGB frames, uncompressed, at the end
    bytes[pixelsAt] = 255; // pixel (0, 0) of frame 1, inside [0, 0, 64, 9]
    await Deno.writeFile(us, bytes);
    const dirty = await runCli(["verify", `${dir}/p.yaml`], ENV);
    assert.notEqual(dirty.code, 0);
    assert.match(
      dirty.stdout + dirty.stderr,
      /frame 1: 1 sample\(s\) inside the blanked regions are not black/,
    );
  } finally {
    if (Deno.env.get("DCMTIDY_KEEP_TEST_DIR")) console.log(`kept ${dir}`);
    else await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pixel rules: mistakes are refused at their line and column; rules shows them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-pixrules-" });
  try {
    await Deno.mkdir(`${dir}/raw`);
    const cases: [string, RegExp[]][] = [
      [
        `  burned_in: blank\n  pixels:\n    - name: a\n      when: { Manufactrer: ACME, Rows: { matches: "[" } }\n` +
        `      blank: [[0, 0, 10, 40]]\n    - name: a\n      when: { Modality: US }\n      blank: all\n`,
        [
          /p\.yaml:14:15: "Manufactrer" is not a DICOM keyword or tag \(did you mean "Manufacturer"\?\)/,
          /p\.yaml:14:51: not a regular expression/,
          /p\.yaml:16:13: a second rule named a/,
        ],
      ],
      ["  burned_in: blank\n", [/burned_in: blank needs `pixels` rules/]],
      [
        `  burned_in: blank\n  pixels:\n    - name: b\n      when: {}\n      blank: [[0, 0, 0, 4]]\n`,
        [/give at least one condition/, /the width is at least 1 pixel/],
      ],
    ];
    for (const [deid, expected] of cases) {
      await Deno.writeTextFile(`${dir}/p.yaml`, protocol(deid));
      const r = await runCli(["validate", `${dir}/p.yaml`], ENV);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      for (const e of expected) assert.match(r.stderr + r.stdout, e);
    }
    await Deno.writeTextFile(`${dir}/p.yaml`, protocol(RULES));
    const rules = await runCli(["rules", "--protocol", `${dir}/p.yaml`], ENV);
    assert.equal(rules.code, 0, rules.stderr);
    assert.match(rules.stdout, /# pixel rules \(burned_in: blank\)/);
    assert.match(
      rules.stdout,
      /us-regions: when Modality equals \["US"\] and ManufacturerModelName equals \["REGIONS 1"\]: blank all, keep ultrasound regions/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pixel rules: conditions that can never match, shapes, and rules without blank are refused in words", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-pixrules2-" });
  try {
    await Deno.mkdir(`${dir}/raw`);
    const cases: [string, RegExp][] = [
      [
        `  burned_in: blank\n  pixels:\n    - name: a\n      when: { Rows: abc }\n      blank: all\n`,
        /Rows holds numbers: "abc" can never match/,
      ],
      [
        `  burned_in: blank\n  pixels:\n    - name: a\n      when: { SequenceOfUltrasoundRegions: x }\n      blank: all\n`,
        /SequenceOfUltrasoundRegions is a sequence/,
      ],
      [
        `  burned_in: warn\n  pixels:\n    - name: a\n      when: { Modality: US }\n      blank: all\n`,
        /pixel rules are used with burned_in: blank/,
      ],
      [
        `  burned_in: blank\n  pixels:\n    - name: a\n      when: { Modality: { contains: US, matches: U } }\n      blank: all\n`,
        /a condition is a value, a list of values, \{ contains: TEXT \}/,
      ],
      [
        `  burned_in: blank\n  pixels:\n    - name: a\n      when: { Modality: US }\n      blank: [0, 0, 4, 4]\n`,
        /blank is all, or a list of rectangles/,
      ],
      [
        `  burned_in: blank\n  pixels:\n    - name: a\n      when: { Modality: US }\n      blank: [[0.5, 0, 4, 4]]\n`,
        /x is a whole number of pixels/,
      ],
    ];
    for (const [deid, why] of cases) {
      await Deno.writeTextFile(`${dir}/p.yaml`, protocol(deid));
      const r = await runCli(["validate", `${dir}/p.yaml`], ENV);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stderr + r.stdout, why);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
