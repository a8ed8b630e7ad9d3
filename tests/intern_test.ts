/**
 * scan/intern.ts: one copy of each value that many files share, whatever copy a message made, and
 * a value it keeps handed back as it is.
 */
import assert from "node:assert/strict";
import { Interner } from "../src/scan/intern.ts";

Deno.test("Interner: equal values give the first copy; a kept one comes back as it is", () => {
  const pool = new Interner();
  const counts = { K: 27, U: 4 };
  const first = pool.data(counts);
  assert.equal(first, counts);
  const copy = structuredClone(counts);
  assert.equal(pool.data(copy), counts, "an equal copy gives the first");
  assert.equal(pool.data(first), counts, "the kept value itself");
  assert.notEqual(pool.data({ K: 27, U: 5 }), counts, "another value is its own");
  // Strings the same way; undefined and numbers pass through.
  const uid = ["2.25", "123"].join(".");
  assert.equal(pool.string(uid), "2.25.123");
  assert.equal(pool.string(undefined), undefined);
  assert.equal(pool.data(7), 7);
  // A record: shared fields through the pool, its own as they are.
  const own = { K: 27, U: 4 };
  const rec = pool.record({ counts: structuredClone(counts), output: own, name: "x" }, new Set(["output"]));
  assert.equal(rec.counts, counts);
  assert.equal(rec.output, own);
  // Two pools keep their own copies.
  const other = new Interner();
  assert.equal(other.data(copy), copy);
});
