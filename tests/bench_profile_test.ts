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

Deno.test("bench small case: a step's times come from the run nothing sampled, its memory from the sampled one", async () => {
  const { stepOf } = await import("../bench/small.ts");
  const measured = (wallMs: number, cpuS: number, pssKiB: number | null, stderr: string) => ({
    success: true,
    wallMs,
    cpuS,
    maxRssKiB: pssKiB && pssKiB + 30_000,
    treeRssKiB: pssKiB && pssKiB + 29_000,
    treePssKiB: pssKiB,
    peakPss: pssKiB ? [{ depth: 1, command: "deno run --no-prompt cli.ts run", pssKiB }] : [],
    peakAtMs: pssKiB ? 1_000 : null,
    threads: pssKiB ? [{ name: "worker-1", count: 1, cpuS: 1.9 }, { name: "deno", count: 1, cpuS: 1.2 }] : [],
    stdout: "",
    stderr,
    stderrLines: stderr.split("\n").map((line, i) => ({ atMs: 2_000 * (i + 1), line })),
  });
  const timedErr =
    "scanning and writing: 300/300 files in 1.5 s, 200 files/s\nwriting: 300/300 files in 0.4 s";
  const sampledErr =
    "scanning and writing: 300/300 files in 1.9 s, 158 files/s\nwriting: 300/300 files in 0.5 s";
  const step = stepOf(
    { m: measured(2_100, 3.5, null, timedErr), ok: true, check: "300 files written" },
    { m: measured(2_600, 3.6, 150_000, sampledErr), ok: true, check: "300 files written" },
    true,
  );
  assert.equal(step.wallMs, 2_100);
  assert.equal(step.cpuS, 3.5);
  assert.equal(step.sampledWallMs, 2_600);
  assert.equal(step.treePssKiB, 150_000);
  assert.equal(step.maxRssKiB, 180_000);
  assert.deepEqual(step.phases, [{ name: "scanning and writing", seconds: 1.5 }, {
    name: "writing",
    seconds: 0.4,
  }]);
  assert.equal(step.peakPhase, "during scanning and writing");
  assert.deepEqual(step.threads?.map((t) => t.name), ["worker-1", "deno"], "the threads of the sampled run");
  assert.equal(step.ok, true);
  const failed = stepOf(
    { m: measured(2_100, 3.5, null, timedErr), ok: true, check: "300 files written" },
    { m: measured(2_600, 3.6, 150_000, sampledErr), ok: false, check: "299 files written" },
    false,
  );
  assert.equal(failed.ok, false, "a sampled run that failed its check fails the step");
  assert.match(failed.check, /the sampled run: 299 files written/);
  assert.equal(failed.phases, undefined);
});

Deno.test("bench measureTree: unsampled, GNU time only; sampled, the tree's memory too", async (t) => {
  const { GNU_TIME } = await import("../bench/rss.ts");
  if (!(await Deno.stat(GNU_TIME).then(() => true, () => false))) {
    console.log(`bench measureTree: ${GNU_TIME} absent (Debian package time); skipped`);
    return;
  }
  const { measureTree } = await import("../bench/tree_rss.ts");
  const args = ["-c", "sleep 0.2; echo done >&2"];
  await t.step("unsampled", async () => {
    const m = await measureTree("sh", args, undefined, { sample: false });
    assert.ok(m.success && m.wallMs >= 200 && m.cpuS !== null && m.maxRssKiB! > 0);
    assert.equal(m.treePssKiB, null);
    assert.equal(m.treeRssKiB, null);
    assert.equal(m.peakAtMs, null);
    assert.equal(m.stderr, "done\n");
  });
  await t.step("sampled", async () => {
    const m = await measureTree("sh", args);
    assert.ok(m.success && m.treePssKiB! > 0 && m.treeRssKiB! > 0 && m.peakAtMs !== null);
  });
  await t.step("sampled: each thread's CPU, by name, GNU time's left out", async () => {
    // A shell that counts for a while, then starts a child shell that does too: two processes, one
    // thread each, both named "sh" (`; true` after the child: a shell may run its last command in
    // its own process instead of a child).
    const busy = "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done";
    const m = await measureTree("sh", ["-c", `${busy}; sh -c '${busy}'; true`]);
    assert.ok(m.success);
    const sh = m.threads.find((t) => t.name === "sh");
    assert.ok(sh, `a thread named sh: ${JSON.stringify(m.threads)}`);
    assert.equal(sh.count, 2);
    assert.ok(sh.cpuS > 0.05 && sh.cpuS <= m.cpuS! + 0.02, `${sh.cpuS} s of ${m.cpuS} s`);
    assert.equal(m.threads.find((t) => t.name === "time"), undefined);
    const unsampled = await measureTree("sh", args, undefined, { sample: false });
    assert.deepEqual(unsampled.threads, []);
  });
});

Deno.test("bench small case: a run's CPU by thread, named as a reader knows them", async () => {
  const { threadsLine } = await import("../bench/small.ts");
  assert.equal(threadsLine("run", undefined), "");
  assert.equal(threadsLine("run", [{ name: "tokio-runtime-w", count: 9, cpuS: 0.01 }]), "");
  assert.equal(
    threadsLine("dcmtidy run --yes (basic profile)", [
      { name: "worker-1", count: 1, cpuS: 35.04 },
      { name: "deno", count: 2, cpuS: 31.3 },
      { name: "V8 DefaultWorke", count: 4, cpuS: 11 },
      { name: "tokio-runtime-w", count: 9, cpuS: 0.01 },
    ], { cpuS: 80.1, wallMs: 45_210 }),
    "CPU by thread in the sampled run of dcmtidy run --yes (basic profile) (80.1 s of CPU in 45.21 s): " +
      "worker-1 35.0 s, deno (2) 31.3 s, V8 DefaultWorke (4) 11.0 s; threads under 0.05 s left out",
  );
});
