/**
 * Keep a JavaScript heap near what is live. V8 lets the old generation grow to three or four times
 * what survived its last full collection before it collects again: for a plan of 300,000 files the
 * main thread held 120 MB live and 400 MB of heap. Where the process runs with `--expose-gc` (the
 * CLI's narrowed process does), `boundHeap` collects once the old generation (what survived the
 * young generation's collections) is 30 % larger than it was after the last collection, and at
 * least 6 MB larger; the first time at 16 MB. In a plan of 30,000 files that is 11 full collections
 * in its three threads, 220 ms in all (4 and 94 ms with a first bound of 48 MB and 16 MB of slack on
 * the whole heap), and 21 MB less at the peak (bench/README.md, "One process"). Without
 * `--expose-gc` it does nothing.
 *
 * It bounds the memory of the thread's `ArrayBuffer`s too (their bytes are outside the heap, in
 * glibc's), which the heap's own size does not show: it collects once they take 8 MB more than the
 * least they took since the last collection. A buffer that outlives the young generation is freed
 * only by a full collection, and V8 lets them grow by 64 MB before it makes one of its own. A survey
 * worker's small arrays of edited values (`smallBytes`' 64 KB buffers, a few hundred files each)
 * outlive it, and where the worker writes nothing ahead (a plan; a second run, whose files are
 * finished) its heap grows too little to be collected: 14 to 18 MB of them were found at a second
 * run's peak, and bounding them took the peaks of plans and second runs of 300,000 files from 219 to
 * 240 MB to 196 to 209 MB (bench/README.md, "Dead buffers").
 *
 * Call it from loops that go through many files, every few hundred files; each thread (a worker is
 * its own heap) keeps its own bound.
 *
 * @example
 * ```ts ignore
 * import { boundHeap } from "./heap.ts";
 *
 * for (const [i, file] of files.entries()) {
 *   work(file);
 *   if (i % 256 === 0) boundHeap();
 * }
 * ```
 *
 * @module
 */

import { getHeapSpaceStatistics, getHeapStatistics } from "node:v8";

const collect = (globalThis as { gc?: () => void }).gc;

/** The young generation's spaces: emptied by every scavenge, so not what the bound is about. */
const YOUNG: ReadonlySet<string> = new Set(["new_space", "new_large_object_space"]);

/**
 * The used size of the heap less the young generation (6 us a call): what survived scavenges,
 * which only a full collection frees. The young generation alone moves by up to its size (6 MB
 * with the narrowed process's 2 MiB semi-spaces) between two calls, so a bound on the whole heap
 * needs that much slack or collects for nothing.
 */
const oldUsed = () => {
  let n = 0;
  for (const s of getHeapSpaceStatistics()) if (!YOUNG.has(s.space_name)) n += s.space_used_size;
  return n;
};

/** Growth past the live heap allowed before a collection: a factor, and at least this many bytes. */
const GROWTH = 1.3;
const SLACK = 6 * 1024 * 1024;

/** Growth of the `ArrayBuffer`s' memory past the least it was since the last collection. */
const EXTERNAL_SLACK = 8 * 1024 * 1024;

/** The first bound: above what a thread holds once its code is loaded (10 to 20 MB). */
let limit = 16 * 1024 * 1024;

/**
 * The least memory of `ArrayBuffer`s seen since the last collection: V8 frees the buffers a
 * collection found dead on another thread, a little later, so the count just after it is not yet
 * what is live, and the least one seen since is.
 */
let externalFloor = Infinity;

/** Collect if the heap, or its buffers, have grown past their bound (see the module's documentation). */
export function boundHeap(): void {
  if (!collect) return;
  // Not `Deno.memoryUsage()`, which also reads the process's RSS: 4 to 25 us a call against 0.5 us,
  // and a worker checks after every message.
  const stats = getHeapStatistics();
  const external = stats.external_memory;
  if (external < externalFloor) externalFloor = external;
  // The old generation is part of the heap: under the bound, so is it (the cheap check first).
  const heapUnder = stats.used_heap_size < limit || oldUsed() < limit;
  if (heapUnder && external < externalFloor + EXTERNAL_SLACK) return;
  collect();
  const live = oldUsed();
  limit = Math.max(live * GROWTH, live + SLACK);
  externalFloor = getHeapStatistics().external_memory;
}
