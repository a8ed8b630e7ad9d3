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

Deno.test("bench small case: the phase a memory peak fell in, from when each phase's last progress line came", async () => {
  const { phaseAt, progressPhases } = await import("../bench/small.ts");
  // A run's stderr in a pipe: each phase ends with its final line (its duration), a plain line
  // every 5 s before that.
  const lines = [
    { atMs: 5_500, line: "scanning and writing: 20000/30000 files (66%), 3000 files/s, ETA 0:03" },
    { atMs: 7_000, line: "scanning and writing: 30000/30000 files in 6.0 s, 4400 files/s" },
    { atMs: 7_300, line: "dry-run diff: 20/20 files in 0.1 s" },
    { atMs: 8_900, line: "writing: 30000/30000 files in 1.2 s, 83 MB/s" },
    { atMs: 9_200, line: "done in 9.2 s: 30000 written, 0 already done, 0 skipped, 0 quarantined" },
  ];
  assert.equal(phaseAt(lines, 500), "before scanning and writing");
  assert.equal(phaseAt(lines, 4_000), "during scanning and writing");
  assert.equal(phaseAt(lines, 7_100), "between scanning and writing and dry-run diff");
  assert.equal(phaseAt(lines, 7_250), "during dry-run diff");
  assert.equal(phaseAt(lines, 7_500), "between dry-run diff and writing");
  assert.equal(phaseAt(lines, 8_000), "during writing");
  assert.equal(phaseAt(lines, 9_100), "after writing");
  assert.equal(phaseAt([], 1_000), undefined);
  assert.deepEqual(progressPhases(lines.map((l) => l.line).join("\r")), [
    { name: "scanning and writing", seconds: 6 },
    { name: "dry-run diff", seconds: 0.1 },
    { name: "writing", seconds: 1.2 },
  ]);
});
