/**
 * The bench's profile summary (`bench/profile.ts` `categorise`): busy time by kind of work, from a
 * made-up profile whose samples are known. Waiting (idle, a worker waiting for the debugger, which
 * the profiler itself causes) is not busy time.
 */
import assert from "node:assert/strict";
import { categorise, type CpuProfile } from "../bench/profile.ts";

Deno.test("bench profile: busy time by kind of work, waiting left out", () => {
  // dcmtidy's own code is known by this checkout's src/ URLs; a package's own src/ is a library.
  const src = (path: string) => new URL(`../src/${path}`, import.meta.url).href;
  const frames: [string, string][] = [
    ["(root)", ""],
    ["(idle)", ""],
    ["op_worker_maybe_wait_for_debugger", ""],
    ["(garbage collector)", ""],
    ["op_close", ""],
    ["serialize", "ext:core/01_core.js"],
    ["deidentify", src("deid/session.ts")],
    ["encodeFile", src("dicom/writer.ts")],
    ["planFile", src("plan/survey.ts")],
    ["recordOutcome", src("run/write_files.ts")],
    ["parse", "file:///root/.cache/deno/npm/registry.npmjs.org/pkg/1.0.0/src/util/parse.js"],
  ];
  const nodes = frames.map(([functionName, url], id) => ({
    id,
    callFrame: { functionName, url, lineNumber: 0 },
    children: id === 0 ? frames.slice(1).map((_, i) => i + 1) : undefined,
  }));
  // A sample's time is the delta after it (how the summaries read a profile): node i gets i ms.
  const samples: number[] = [];
  const timeDeltas: number[] = [0];
  for (let id = 1; id < frames.length; id++) {
    samples.push(id);
    timeDeltas.push(id * 1000);
  }
  const p: CpuProfile = { nodes, samples, timeDeltas, startTime: 0, endTime: 100_000 };
  const c = categorise(p);
  const kinds = Object.fromEntries(c.byCategory);
  assert.deepEqual(kinds, {
    "GC": 3,
    "file system": 4,
    "messages": 5,
    "de-identification": 6,
    "DICOM read and write": 7,
    "planning": 8,
    "running": 9,
    "runtime and libraries": 10,
  });
  assert.equal(
    c.busyMs,
    3 + 4 + 5 + 6 + 7 + 8 + 9 + 10,
    "idle (1 ms) and the debugger wait (2 ms) are not busy",
  );
  assert.equal(c.durationMs, 100);
  assert.deepEqual(c.byFunction[0], ["parse", 10]);
  assert.equal(c.byCategory[0][0], "runtime and libraries", "largest first");
});
