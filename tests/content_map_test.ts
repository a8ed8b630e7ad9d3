/**
 * util/content_map.ts: plain-data values by content, without their JSON held.
 */
import assert from "node:assert/strict";
import { ContentMap, sameData } from "../src/util/content_map.ts";
import { hash32 } from "../src/util/hash.ts";

Deno.test("content map: values equal in content share an entry, whatever the object", () => {
  const ids = new ContentMap<number>();
  const file = () => ({ PatientID: "ABC", counts: { K: 29, X: 3 }, uids: ["1.2", "1.3"] });
  const a = ids.getOrAdd(file(), () => ids.size);
  const b = ids.getOrAdd(file(), () => ids.size);
  assert.deepEqual([a, b, ids.size], [0, 0, 1]);
  // A value that differs anywhere, in a nested field, an element, a type or the order of its fields.
  const others = [
    { PatientID: "ABC", counts: { K: 29, X: 4 }, uids: ["1.2", "1.3"] },
    { PatientID: "ABC", counts: { K: 29, X: 3 }, uids: ["1.2"] },
    { PatientID: "ABC", counts: { K: 29, X: "3" }, uids: ["1.2", "1.3"] },
    { counts: { K: 29, X: 3 }, PatientID: "ABC", uids: ["1.2", "1.3"] },
    { PatientID: "ABC", counts: { K: 29, X: 3 }, uids: ["1.2", "1.3"], more: 1 },
    ["ABC"],
  ];
  for (const o of others) assert.deepEqual(ids.getOrAdd(o, () => ids.size), ids.size - 1);
  assert.deepEqual(ids.size, 1 + others.length);
  assert.deepEqual(ids.getOrAdd(file(), () => -1), 0);
});

Deno.test("content map: values whose JSON hash alike stay apart", () => {
  // Two JSON texts with the same 32-bit hash (found by a search over {"v":"<n>"}).
  const x = { v: "1149599" };
  const y = { v: "1312382" };
  assert.deepEqual(hash32(JSON.stringify(x)), hash32(JSON.stringify(y)));
  const ids = new ContentMap<string>();
  assert.deepEqual(ids.getOrAdd(x, () => "x"), "x");
  assert.deepEqual(ids.getOrAdd(y, () => "y"), "y");
  assert.deepEqual(ids.getOrAdd({ v: "1312382" }, () => "again"), "y");
  assert.deepEqual(ids.getOrAdd({ v: "1149599" }, () => "again"), "x");
  assert.deepEqual(ids.size, 2);
});

Deno.test("sameData: what it calls the same is the same as JSON", () => {
  const values: unknown[] = [
    "a",
    1,
    "1",
    true,
    null,
    [],
    {},
    [1, [2, 3]],
    [1, [2, 4]],
    { a: { b: [1, "x"] } },
    { a: { b: [1, "y"] } },
    { a: 1, b: 2 },
    { b: 2, a: 1 },
    new Date(0),
    new Date(1),
    new Uint8Array([1]),
    new Uint8Array([2]),
  ];
  for (const a of values) {
    for (const b of values) {
      const same = sameData(a, structuredClone(b));
      if (same) assert.deepEqual(JSON.stringify(a), JSON.stringify(b));
      // A plain value is the same as its copy; any other object only as itself.
      const plain = !(a instanceof Date || a instanceof Uint8Array);
      if (a === b) assert.equal(same, plain, `${JSON.stringify(a)} and its copy`);
      if (a === b) assert.ok(sameData(a, a), `${JSON.stringify(a)} is itself`);
    }
  }
});
