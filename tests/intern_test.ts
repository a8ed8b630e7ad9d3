/**
 * scan/intern.ts: one copy of each value that many files share, whatever copy a message made, and
 * a value it keeps handed back as it is.
 */
import assert from "node:assert/strict";
import { Interner } from "../src/scan/intern.ts";

Deno.test("Interner: equal values give the first copy; a kept one comes back as it is", () => {
  const pool = new Interner();
  const counts = { K: 27, U: 4 };
  // The first of a content is kept as a copy of it (its strings the pool's, at any depth).
  const first = pool.data(counts);
  assert.deepEqual(first, counts);
  assert.deepEqual(Object.keys(first), Object.keys(counts), "its fields in their order");
  const copy = structuredClone(counts);
  assert.equal(pool.data(copy), first, "an equal copy gives the first");
  assert.equal(pool.data(first), first, "the kept value itself");
  assert.notEqual(pool.data({ K: 27, U: 5 }), first, "another value is its own");
  const nested = { fields: { PatientID: "P1", StudyDate: "20200101" }, pairs: [["A", "\u0000B"]], n: null };
  const kept = pool.data(nested);
  assert.deepEqual(kept, nested);
  assert.equal(pool.data(structuredClone(nested)), kept);
  // Strings the same way; undefined and numbers pass through.
  const uid = ["2.25", "123"].join(".");
  assert.equal(pool.string(uid), "2.25.123");
  assert.equal(pool.string(undefined), undefined);
  assert.equal(pool.data(7), 7);
  // A record: shared fields through the pool, its own as they are.
  const own = { K: 27, U: 4 };
  const rec = pool.record({ counts: structuredClone(counts), output: own, name: "x" }, new Set(["output"]));
  assert.equal(rec.counts, first);
  assert.equal(rec.output, own);
  // Two pools keep their own copies.
  const other = new Interner();
  const theirs = other.data(copy);
  assert.deepEqual(theirs, copy);
  assert.notEqual(theirs, first);
});
