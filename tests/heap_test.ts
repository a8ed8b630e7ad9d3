/**
 * The heap bound (src/util/heap.ts): with `--expose-gc` a thread that makes garbage which outlives
 * the young generation keeps its heap near what is live; without it the call does nothing.
 */
import assert from "node:assert/strict";
import { boundHeap } from "../src/util/heap.ts";

const CHILD = `
import { boundHeap } from ${JSON.stringify(new URL("../src/util/heap.ts", import.meta.url).href)};
// 600 MB made in all, about 25 MB live at any time: each piece outlives a few young collections.
// Without the bound V8 let this heap reach 123 MB; with it, 50 MB.
const live = [];
let peak = 0;
for (let i = 0; i < 6000; i++) {
  live.push(Array.from({ length: 1000 }, (_, k) => ({ i, k, s: "x" + k })));
  if (live.length > 250) live.shift();
  boundHeap();
  peak = Math.max(peak, Deno.memoryUsage().heapUsed);
}
console.log(Math.round(peak / 1e6));
`;

/** Run `source` as a script with `--expose-gc` and small semi-spaces; the first number it prints. */
async function firstNumberOf(source: string): Promise<number> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/child.ts`, source);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--v8-flags=--expose-gc,--max-semi-space-size=1", "--allow-read", `${dir}/child.ts`],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    assert.equal(out.code, 0);
    return Number(new TextDecoder().decode(out.stdout).trim().split(" ")[0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("heap: with --expose-gc the heap stays near what is live", async () => {
  const peakMB = await firstNumberOf(CHILD);
  // Live: about 25 MB of pieces and the runtime's own; the bound lets the heap grow 30 % or 16 MB
  // past it (and starts at 48 MB).
  assert.ok(peakMB > 25 && peakMB < 75, `peak heap ${peakMB} MB`);
});

/**
 * A thread whose heap hardly grows but whose buffers die old (as a survey worker's `smallBytes`
 * buffers do): 64 KB buffers, each kept while a few hundred KB of short-lived objects are made.
 */
const BUFFERS_CHILD = `
import { boundHeap } from ${JSON.stringify(new URL("../src/util/heap.ts", import.meta.url).href)};
import { getHeapStatistics } from "node:v8";
const kept = [];
let peak = 0;
let sink = 0;
for (let i = 0; i < 4000; i++) {
  const b = new Uint8Array(64 * 1024);
  b[i % b.length] = 1;
  kept.push(b);
  if (kept.length > 16) kept.shift();
  for (let k = 0; k < 2000; k++) sink += { k, s: "y" + k }.s.length;
  boundHeap();
  peak = Math.max(peak, getHeapStatistics().external_memory);
}
console.log(Math.round(peak / 1e6), sink > 0);
`;

Deno.test("heap: with --expose-gc the memory of buffers that die old stays bounded too", async () => {
  const peakMB = await firstNumberOf(BUFFERS_CHILD);
  // Live: 1 MB of buffers. The bound lets them grow 8 MB past the least they took since the last
  // collection, and V8 frees what a collection found dead a little later: 16 to 18 MB, and 25 MB
  // once in a suite run whose other tests kept both cores busy (the freeing thread lagged). Bounding
  // the heap alone let them reach 82 and 92 MB.
  assert.ok(peakMB < 40, `peak of the buffers' memory ${peakMB} MB`);
});

Deno.test("heap: without --expose-gc boundHeap does nothing", () => {
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, "undefined");
  boundHeap();
});
