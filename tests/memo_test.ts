/** `Memo`: the first entries kept for good, the others in two generations that come and go. */
import assert from "node:assert/strict";
import { Memo } from "../src/util/memo.ts";

Deno.test("memo: the first entries are kept for good, whatever comes after", () => {
  const memo = new Memo<string, number>(3, 2);
  for (const [i, k] of ["a", "b", "c"].entries()) memo.set(k, i);
  for (let i = 0; i < 1000; i++) memo.set(`x${i}`, i);
  assert.deepEqual(["a", "b", "c"].map((k) => memo.get(k)), [0, 1, 2]);
  assert.ok(memo.size <= 3 + 2 * 2, `bounded: ${memo.size}`);
  memo.set("b", 10); // a kept entry is replaced in place
  assert.equal(memo.get("b"), 10);
});

Deno.test("memo: past its capacity an entry lives at least a generation, and longer while it is used", () => {
  const memo = new Memo<string, number>(0, 4);
  memo.set("old", 1);
  for (let i = 0; i < 3; i++) memo.set(`n${i}`, i);
  assert.equal(memo.get("old"), 1, "within its own generation");
  for (let i = 3; i < 7; i++) memo.set(`n${i}`, i);
  assert.equal(memo.get("old"), 1, "in the older generation: found, and moved to the newest");
  for (let i = 7; i < 10; i++) memo.set(`n${i}`, i);
  assert.equal(memo.get("old"), 1, "still there: it was used");
  for (let i = 10; i < 30; i++) memo.set(`n${i}`, i);
  assert.equal(memo.get("old"), undefined, "unused for two generations: gone");
  assert.equal(memo.get("n29"), 29);
  assert.ok(memo.size <= 8);
});

Deno.test("memo: undefined is not remembered; a key set again takes its new value", () => {
  const memo = new Memo<string, number | undefined>(1, 1);
  memo.set("u", undefined);
  assert.equal(memo.size, 0);
  memo.set("k", 1);
  memo.set("p", 2);
  memo.set("p", 3);
  assert.equal(memo.get("p"), 3);
  assert.equal(memo.get("k"), 1);
});

Deno.test("memo: a generation turned by hand keeps the last one's entries and lets the ones before go", () => {
  const memo = new Memo<string, number>(0, 100);
  memo.set("file1", 1);
  memo.turn();
  memo.set("file2", 2);
  assert.equal(memo.get("file1"), 1, "the last generation's entry is found (and moved to the newest)");
  memo.turn();
  memo.turn();
  assert.equal(memo.get("file2"), undefined, "two turns later: gone");
  assert.equal(memo.get("file1"), undefined);
  assert.equal(memo.size, 0);
});
