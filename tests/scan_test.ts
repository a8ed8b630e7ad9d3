/** Scanning: every file under the roots is found and classified; globs, symlinks and duplicates. */
import assert from "node:assert/strict";
import { buildDicom, sampleDataset, tag } from "./fixtures/builder.ts";
import { inputRef, renderRefs, scan, type ScannedFile } from "../src/scan/scan.ts";

Deno.test("scan: classifies DICOM, junk, cut files, duplicates; honours globs; accounts for links and FIFOs", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-scan-" }));
  try {
    const a = buildDicom(sampleDataset());
    const other = buildDicom(
      sampleDataset().map((n) =>
        "tag" in n && n.tag === tag(0x0010, 0x0010) ? { ...n, value: "Other^Name" } : n
      ),
    );
    await Deno.mkdir(`${dir}/in/sub`, { recursive: true });
    await Deno.writeFile(`${dir}/in/a.dcm`, a);
    await Deno.writeFile(`${dir}/in/sub/a-copy`, a); // same UID, same bytes: a duplicate
    await Deno.writeFile(`${dir}/in/sub/a-edited`, other); // same UID, other bytes: not a duplicate
    await Deno.writeFile(`${dir}/in/cut.dcm`, a.subarray(0, a.length - 10)); // Pixel Data cut short
    await Deno.writeTextFile(`${dir}/in/notes.txt`, "hello");
    await Deno.writeTextFile(`${dir}/in/readme.md`, "# not DICOM");
    await Deno.symlink(`${dir}/in/a.dcm`, `${dir}/in/link.dcm`);
    await Deno.symlink(`${dir}/in/gone.dcm`, `${dir}/in/dangling.dcm`);
    const fifo = await new Deno.Command("mkfifo", { args: [`${dir}/in/pipe.dcm`] }).output().then(
      (o) => o.success,
      () => false,
    );
    const files = await scan({
      roots: [`${dir}/in`],
      include: ["**/*"],
      exclude: ["**/*.txt"],
      followSymlinks: false,
    });
    // Links not followed, dangling links and FIFOs are in the result (never read): nothing goes unaccounted.
    const all = files.filter((f) => f.rel !== "pipe.dcm" || fifo);
    assert.deepEqual(all.map((f) => [f.rel, f.kind]), [
      ["a.dcm", "dicom"],
      ["cut.dcm", "unreadable"],
      ["dangling.dcm", "not-regular"],
      ["link.dcm", "not-regular"],
      ...(fifo ? [["pipe.dcm", "not-regular"]] : []),
      ["readme.md", "not-dicom"],
      ["sub/a-copy", "duplicate"],
      ["sub/a-edited", "dicom"],
    ]);
    const byRel = new Map(files.map((f) => [f.rel, f]));
    assert.match(byRel.get("cut.dcm")!.reason!, /cut short/);
    assert.match(byRel.get("dangling.dcm")!.reason!, /dangling/);
    assert.match(byRel.get("link.dcm")!.reason!, /not followed \(follow_symlinks is off\)/);
    if (fifo) assert.match(byRel.get("pipe.dcm")!.reason!, /not a regular file/);
    // The reason refers to the other input without naming it; whoever prints it decides.
    const copy = byRel.get("sub/a-copy")!;
    assert.equal(copy.reason, `same SOP Instance UID and bytes as ${inputRef(0)}`);
    assert.equal(renderRefs(copy.reason!, files, true), "same SOP Instance UID and bytes as a.dcm");
    assert.equal(renderRefs(copy.reason!, files, false), "same SOP Instance UID and bytes as input #1");
    const followed = await scan({
      roots: [`${dir}/in`],
      include: ["*.dcm"],
      exclude: [],
      followSymlinks: true,
    });
    assert.deepEqual(followed.map((f) => [f.rel, f.kind]), [
      ["a.dcm", "dicom"],
      ["cut.dcm", "unreadable"],
      ["dangling.dcm", "not-regular"],
      ["link.dcm", "duplicate"],
      ...(fifo ? [["pipe.dcm", "not-regular"]] : []),
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scan: files that share a SOP Instance UID are grouped by UID, not by its hash", async () => {
  const { sharedInstances } = await import("../src/scan/scan.ts");
  const { hash32 } = await import("../src/util/hash.ts");
  // Two UIDs with one 32-bit hash (found by search): alike by hash, not the same instance.
  const [x, y] = ["1.2.826.0.1.3680043.10.1000.149599", "1.2.826.0.1.3680043.10.1000.312382"];
  assert.equal(hash32(x), hash32(y));
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-scan-uids-" }));
  try {
    const uids = [x, "1.2.3", y, x, "1.2.4", "1.2.3", y, "", x];
    const files: ScannedFile[] = await Promise.all(uids.map(async (uid, i) => {
      const path = `${dir}/f${i}`;
      // Files 3 and 8 have the bytes of file 0: duplicates of it; the others' bytes differ.
      await Deno.writeTextFile(path, i === 3 || i === 8 ? "same" : `file ${i}`);
      return {
        root: dir,
        rel: `f${i}`,
        path,
        size: (await Deno.stat(path)).size,
        kind: i === 4 ? "not-dicom" as const : "dicom" as const,
        header: uid ? { sopInstanceUID: uid } as ScannedFile["header"] : undefined,
      };
    }));
    await Deno.writeTextFile(files[0].path, "same");
    files[0] = { ...files[0], size: 4 };
    // Read as a spilled store reads: each record a new object, its UID a new string.
    const store = {
      *entries() {
        for (const [i, f] of files.entries()) yield [i, structuredClone(f)] as const;
      },
      at: (i: number) => structuredClone(files[i]),
    };
    const expected = {
      groups: [[0, 3, 8], [1, 5], [2, 6]],
      duplicates: [
        [3, `same SOP Instance UID and bytes as ${inputRef(0)}`],
        [8, `same SOP Instance UID and bytes as ${inputRef(0)}`],
      ],
    };
    const { groups, duplicates } = await sharedInstances(store);
    assert.deepEqual({ groups, duplicates: [...duplicates].sort() }, expected);
    // The same from keys gathered as the files came (in another order, one of them twice), without
    // a pass over the files.
    const { InstanceKeys } = await import("../src/scan/scan.ts");
    const known = new InstanceKeys(files.length);
    known.add(3, files[0]); // replaced below
    for (const i of [8, 2, 0, 5, 1, 7, 3, 6, 4]) known.add(i, files[i]);
    const noPass = { ...store, entries: (): never => assert.fail("no pass over the files") };
    const fromKeys = await sharedInstances(noPass, known);
    assert.deepEqual({ groups: fromKeys.groups, duplicates: [...fromKeys.duplicates].sort() }, expected);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
