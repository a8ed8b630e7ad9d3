/**
 * Keep a JavaScript heap near what is live. V8 lets the old generation grow to three or four times
 * what survived its last full collection before it collects again: for a plan of 300,000 files the
 * main thread held 120 MB live and 400 MB of heap. Where the process runs with `--expose-gc` (the
 * CLI's narrowed process does), `boundHeap` collects once the heap is 30 % larger than it was after
 * the last collection (and at least 16 MB larger): in a plan of 300,000 files a full collection
 * every few thousand files in each thread, tens of milliseconds each. Without `--expose-gc` it does
 * nothing.
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

import { getHeapStatistics } from "node:v8";

const collect = (globalThis as { gc?: () => void }).gc;

/**
 * The heap's used size. Not `Deno.memoryUsage()`, which also reads the process's RSS: 4 to 25 us a
 * call against 0.5 us, and a worker checks after every message.
 */
const heapUsed = () => getHeapStatistics().used_heap_size;

/** Growth past the live heap allowed before a collection: a factor, and at least this many bytes. */
const GROWTH = 1.3;
const SLACK = 16 * 1024 * 1024;

let limit = 48 * 1024 * 1024;

/** Collect if the heap has grown past its bound (see the module's documentation). */
export function boundHeap(): void {
  if (!collect) return;
  if (heapUsed() < limit) return;
  collect();
  const live = heapUsed();
  limit = Math.max(live * GROWTH, live + SLACK);
}
