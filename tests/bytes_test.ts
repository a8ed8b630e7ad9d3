/**
 * util/bytes.ts: `smallBytes` hands out zeroed views that never overlap, aligned to 8 bytes, and
 * gives large requests an array of their own; values written through the views stay apart.
 */
import assert from "node:assert/strict";
import { SMALL_BYTES, smallBytes } from "../src/util/bytes.ts";
import { encodeValue } from "../src/dicom/values.ts";
import { EXPLICIT_LE_ENCODING } from "../src/dicom/model.ts";

Deno.test("smallBytes: zeroed, aligned views that never overlap, across buffers", () => {
  const seen = new Map<ArrayBufferLike, [number, number][]>();
  for (let i = 0; i < 5000; i++) {
    const n = (i * 37) % 300;
    const b = smallBytes(n);
    assert.equal(b.length, n);
    assert.equal(b.byteOffset % 8, 0);
    assert.ok(b.every((x) => x === 0), "a new view is zeroed");
    b.fill(0xff); // a later view must not see this
    const ranges = seen.get(b.buffer) ?? [];
    for (const [s, e] of ranges) assert.ok(b.byteOffset >= e || b.byteOffset + n <= s, "views overlap");
    ranges.push([b.byteOffset, b.byteOffset + n]);
    seen.set(b.buffer, ranges);
  }
  assert.ok(seen.size > 1, "the requests span more than one shared buffer");
  for (const bad of [-1, 1.5, NaN]) assert.throws(() => smallBytes(bad), RangeError);
  const after = smallBytes(8); // a refused length moved nothing: the next view is fresh and zeroed
  assert.ok(after.every((x) => x === 0));
  const big = smallBytes(SMALL_BYTES + 1);
  assert.equal(big.byteOffset, 0);
  assert.equal(big.buffer.byteLength, SMALL_BYTES + 1);
});

Deno.test("smallBytes: encoded values and numbers read back through their own offsets", () => {
  const ds = { elements: [], encoding: EXPLICIT_LE_ENCODING };
  const a = encodeValue("UL", [0x01020304, 7], ds);
  const b = encodeValue("UI", "1.2.3", ds);
  const c = encodeValue("US", 0xbeef, ds);
  assert.deepEqual([...a], [4, 3, 2, 1, 7, 0, 0, 0]);
  assert.equal(new TextDecoder().decode(b), "1.2.3\0");
  assert.deepEqual([...c], [0xef, 0xbe]);
  assert.equal(new DataView(a.buffer, a.byteOffset).getUint32(4, true), 7);
});
