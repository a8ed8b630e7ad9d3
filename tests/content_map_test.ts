/**
 * util/content_map.ts: plain-data values by content, without their JSON held.
 */
import assert from "node:assert/strict";
import { ContentMap, hashData, sameData } from "../src/util/content_map.ts";

Deno.test("content map: values equal in content share an entry, whatever the object", () => {
  const ids = new ContentMap();
  const file = () => ({ PatientID: "ABC", counts: { K: 29, X: 3 }, uids: ["1.2", "1.3"] });
  const first = file();
  const a = ids.numberOf(first);
  const b = ids.numberOf(file());
  assert.deepEqual([a, b, ids.size], [0, 0, 1]);
  assert.equal(ids.example(0), first, "the first value met is the example");
  // A value that differs anywhere, in a nested field, an element, a type or the order of its fields.
  const others = [
    { PatientID: "ABC", counts: { K: 29, X: 4 }, uids: ["1.2", "1.3"] },
    { PatientID: "ABC", counts: { K: 29, X: 3 }, uids: ["1.2"] },
    { PatientID: "ABC", counts: { K: 29, X: "3" }, uids: ["1.2", "1.3"] },
    { counts: { K: 29, X: 3 }, PatientID: "ABC", uids: ["1.2", "1.3"] },
    { PatientID: "ABC", counts: { K: 29, X: 3 }, uids: ["1.2", "1.3"], more: 1 },
    ["ABC"],
  ];
  for (const [n, o] of others.entries()) assert.equal(ids.numberOf(o), n + 1);
  assert.equal(ids.size, 1 + others.length);
  assert.equal(ids.numberOf(file()), 0);
});

Deno.test("content map: values that hash alike stay apart", () => {
  // Two values with the same 32-bit hash (found by a search over { v: "<n>" }).
  const x = { v: "129331" };
  const y = { v: "1053400" };
  assert.deepEqual(hashData(x), hashData(y));
  const ids = new ContentMap();
  assert.equal(ids.numberOf(x), 0);
  assert.equal(ids.numberOf(y), 1);
  assert.equal(ids.numberOf({ v: "1053400" }), 1);
  assert.equal(ids.numberOf({ v: "129331" }), 0);
  assert.equal(ids.size, 2);
});

Deno.test("sameData: what it calls the same is the same as JSON, and hashes alike", () => {
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
      const copy = structuredClone(b);
      const same = sameData(a, copy);
      if (same) assert.deepEqual(JSON.stringify(a), JSON.stringify(b));
      // What is the same hashes alike (what hashes alike need not be the same).
      if (same) assert.equal(hashData(a), hashData(copy), `${JSON.stringify(a)}'s hash`);
      // A plain value is the same as its copy; any other object only as itself.
      const plain = !(a instanceof Date || a instanceof Uint8Array);
      if (a === b) assert.equal(same, plain, `${JSON.stringify(a)} and its copy`);
      if (a === b) assert.ok(sameData(a, a), `${JSON.stringify(a)} is itself`);
    }
  }
});

Deno.test("hashData: the kind of a value, the order of its fields and where strings end count", () => {
  const apart: [unknown, unknown][] = [
    ["1", 1],
    [true, "true"],
    [null, "null"],
    [{ a: 1, b: 2 }, { b: 2, a: 1 }],
    [["ab", "c"], ["a", "bc"]],
    [{ ab: "c" }, { a: "bc" }],
    [[], {}],
    [[1, [2]], [[1], 2]],
  ];
  for (const [a, b] of apart) {
    assert.notEqual(hashData(a), hashData(b), `${JSON.stringify(a)} and ${JSON.stringify(b)}`);
  }
  const fields = { PatientID: "DC24HDOM", SeriesInstanceUID: "2.25.262654309941168088267899560459290416591" };
  assert.equal(hashData(fields), hashData(structuredClone(fields)));
  assert.ok(Number.isInteger(hashData(fields)) && hashData(fields) >= 0 && hashData(fields) < 2 ** 32);
});
