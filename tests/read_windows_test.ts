/**
 * Reads a window at a time (src/util/read_windows.ts): every read gives the file's bytes, reads in
 * about the file's order cost one read of the file a window, and the windows kept follow the runs of
 * reads.
 */
import assert from "node:assert/strict";
import { ReadWindows } from "../src/util/read_windows.ts";

/** A file of `n` bytes (each its offset's low byte) whose reads are counted. */
function file(n: number) {
  const bytes = Uint8Array.from({ length: n }, (_, i) => i & 0xff);
  const reads: number[] = [];
  const readAt = (offset: number, into: Uint8Array) => {
    reads.push(offset);
    const piece = bytes.subarray(offset, offset + into.length);
    into.set(piece);
    return piece.length;
  };
  return { bytes, reads, readAt };
}

Deno.test("read windows: reads in the file's order give its bytes, one read of the file a window", () => {
  const f = file(10_000);
  const w = new ReadWindows(f.readAt, { size: 1000 });
  for (let at = 0; at + 37 <= 10_000; at += 37) {
    assert.deepEqual(w.read(at, 37), f.bytes.subarray(at, at + 37));
  }
  // 270 reads of 37 bytes over 10,000: a window read each time the next read is past the last one.
  assert.ok(f.reads.length >= 10 && f.reads.length <= 11, `${f.reads.length} reads of the file`);
});

Deno.test("read windows: a read longer than a window, and one past the end of the file", () => {
  const f = file(5000);
  const w = new ReadWindows(f.readAt, { size: 100 });
  assert.deepEqual(w.read(10, 3000), f.bytes.subarray(10, 3010));
  // What the window holds serves a read inside it without reading again.
  const before = f.reads.length;
  assert.deepEqual(w.read(2000, 500), f.bytes.subarray(2000, 2500));
  assert.equal(f.reads.length, before);
  // The file ends before the bytes asked for: fewer come back.
  assert.deepEqual(w.read(4990, 50), f.bytes.subarray(4990, 5000));
  assert.equal(w.read(6000, 10).length, 0);
});

Deno.test("read windows: runs of reads in turn keep a window each, up to the count, then the least used goes", () => {
  const f = file(100_000);
  const w = new ReadWindows(f.readAt, { size: 1000, count: 3 });
  // Three runs read in turn: 3 windows, each read again only as its run moves past it.
  for (let i = 0; i < 100; i++) {
    for (const base of [0, 30_000, 60_000]) {
      const at = base + i * 20;
      assert.deepEqual(w.read(at, 20), f.bytes.subarray(at, at + 20));
    }
  }
  assert.equal(f.reads.length, 6, "2,000 bytes of each run: two windows each");
  // A fourth run takes the least recently used window (the first run's), whose next read reads again.
  f.reads.length = 0;
  w.read(90_000, 20);
  w.read(30_000 + 1990, 10);
  w.read(60_000 + 1990, 10);
  assert.equal(f.reads.length, 1);
  w.read(1990, 10);
  assert.deepEqual(f.reads, [90_000, 1990]);
  // Cleared, every read reads the file again.
  w.clear();
  w.read(90_000, 20);
  assert.equal(f.reads.length, 3);
});

Deno.test("read windows: a file appended to after a window was read: its new bytes are read, not taken from the window", () => {
  let bytes = new TextEncoder().encode("first line\n");
  const w = new ReadWindows((offset, into) => {
    const piece = bytes.subarray(offset, offset + into.length);
    into.set(piece);
    return piece.length;
  }, { size: 1000 });
  const text = (offset: number, length: number) => new TextDecoder().decode(w.read(offset, length));
  assert.equal(text(0, 10), "first line");
  // Read past the end while the file was shorter: nothing there yet.
  assert.equal(text(11, 11), "");
  const grown = new Uint8Array(bytes.length + 12);
  grown.set(bytes);
  grown.set(new TextEncoder().encode("second line\n"), bytes.length);
  bytes = grown;
  assert.equal(text(11, 11), "second line");
  assert.equal(text(0, 10), "first line");
});
