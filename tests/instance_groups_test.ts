/**
 * Files that share a SOP Instance UID, found in input order (src/plan/instance_groups.ts): the same
 * decisions as the scan's `sharedInstances`, which sees every file at once.
 */
import assert from "node:assert/strict";
import { InstanceGroups } from "../src/plan/instance_groups.ts";
import { sharedInstances } from "../src/scan/scan.ts";
import type { ScannedFile } from "../src/scan/scan.ts";
import { hash32, hash32b } from "../src/util/hash.ts";

/** Two different UIDs with the same `hash32` (FNV-1a): found by trying, a birthday search. */
function collidingUids(): [string, string] {
  const seen = new Map<number, string>();
  for (let n = 0;; n++) {
    const uid = `1.2.826.0.1.3680043.10.${n}`;
    const h = hash32(uid);
    const other = seen.get(h);
    if (other !== undefined) return [other, uid];
    seen.set(h, uid);
  }
}

Deno.test("instance groups: duplicates, same UID with other bytes, and UIDs that share a hash, as the scan finds them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-instances-" });
  try {
    const [a, b] = collidingUids();
    assert.notEqual(a, b);
    assert.equal(hash32(a), hash32(b));
    assert.notEqual(hash32b(a), hash32b(b), "the second hash tells them apart");
    // name, UID, bytes: two copies of one file, a third with its UID and other bytes, a file whose
    // UID shares the first hash only, one without a UID, and a copy of the third.
    const files: [string, string | undefined, string][] = [
      ["one", "1.2.3", "first bytes"],
      ["one-copy", "1.2.3", "first bytes"],
      ["one-other", "1.2.3", "other bytes"],
      ["a", a, "a"],
      ["b", b, "a"],
      ["no-uid", undefined, "first bytes"],
      ["one-other-copy", "1.2.3", "other bytes"],
      ["a-copy", a, "a"],
    ];
    const scanned: ScannedFile[] = [];
    for (const [name, uid, bytes] of files) {
      const path = `${dir}/${name}`;
      await Deno.writeTextFile(path, bytes);
      scanned.push({
        root: dir,
        rel: name,
        path,
        size: bytes.length,
        kind: uid ? "dicom" : "other",
        ...(uid ? { header: { sopInstanceUID: uid } } : {}),
      } as ScannedFile);
    }
    const hashed: number[] = [];
    const groups = new InstanceGroups((i) => {
      hashed.push(i);
      return scanned[i];
    });
    const reasons: (string | undefined)[] = [];
    let promises = 0;
    for (const [i, f] of scanned.entries()) {
      const r = groups.check(i, f.kind === "dicom" ? f.header?.sopInstanceUID : undefined, f.path, f.size);
      if (r instanceof Promise) promises++;
      reasons.push(await r);
    }
    assert.deepEqual(reasons, [
      undefined,
      "same SOP Instance UID and bytes as {{input:0}}",
      undefined,
      undefined,
      undefined,
      undefined,
      "same SOP Instance UID and bytes as {{input:2}}",
      "same SOP Instance UID and bytes as {{input:3}}",
    ]);
    assert.deepEqual(groups.sameInstance, [[2, 0]]);
    // Bytes are hashed only where a UID comes again: files 1, 2, 6 and 7 (and the earlier files of
    // their UIDs, each asked for once).
    assert.equal(promises, 4);
    assert.deepEqual(hashed, [0, 3]);
    // What the scan decides, seeing every file at once.
    const all = await sharedInstances({ entries: () => scanned.entries(), at: (i) => scanned[i] });
    assert.deepEqual(
      reasons.flatMap((r, i) => (r ? [[i, r]] : [])),
      [...all.duplicates].sort(([x], [y]) => x - y),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("instance groups: a table past its first size finds every file of a UID", async () => {
  const groups = new InstanceGroups(() => ({ path: "/nonexistent/dcmtidy", size: 0 }));
  for (let i = 0; i < 5000; i++) {
    assert.equal(groups.check(i, `1.2.3.${i}`, "/nonexistent/dcmtidy", 0), undefined);
  }
  // A UID met again far into the table: unreadable bytes on both sides make the same key.
  const again = groups.check(5000, "1.2.3.17", "/nonexistent/dcmtidy", 0);
  assert.ok(again instanceof Promise);
  assert.equal(await again, "same SOP Instance UID and bytes as {{input:17}}");
});
