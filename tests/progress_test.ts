/**
 * The progress reporter with a fake clock: a terminal bar redrawn at most every 100 ms and ended
 * with a newline; plain lines every 5 s and a final line elsewhere; rates and ETAs from the clock.
 */
import assert from "node:assert/strict";
import { formatDuration, Progress } from "../src/cli/progress.ts";

function harness(opts: { tty: boolean; total: number; totalBytes?: number }) {
  let now = 1000;
  const out: string[] = [];
  const p = new Progress({
    label: "writing",
    total: opts.total,
    totalBytes: opts.totalBytes,
    tty: opts.tty,
    write: (t) => out.push(t),
    now: () => now,
    columns: 80,
  });
  return { p, out, advance: (ms: number) => (now += ms) };
}

Deno.test("progress: a terminal bar is redrawn at most every 100 ms and ends with a newline", () => {
  const { p, out, advance } = harness({ tty: true, total: 100, totalBytes: 100e6 });
  advance(10);
  p.update(1, 1e6); // first update draws at once
  assert.equal(out.length, 1);
  for (let i = 2; i <= 10; i++) {
    advance(10); // 90 ms in all: no redraw
    p.update(i, i * 1e6);
  }
  assert.equal(out.length, 1, "no redraw within 100 ms");
  advance(10);
  p.update(11, 11e6);
  assert.equal(out.length, 2);
  const line = out[1];
  assert.ok(line.startsWith("\r\x1b[2Kwriting ["), "carriage return, erase line, label, bar");
  assert.match(line, /\[#+-+\] 11\/100 files {2}/);
  // 11 MB in 0.11 s = 100 MB/s; 89 MB left at that rate: 0.89 s, shown as 0:01.
  assert.match(line, /100 MB\/s {2}ETA 0:01$/);
  assert.ok(!line.includes("\n"), "a redraw stays on its line");
  const bar = line.match(/\[(#*)(-*)\]/)!;
  assert.equal(
    bar[1].length + bar[2].length,
    Math.min(40, 80 - "writing".length - line.split("] ")[1].length - 6),
  );
  advance(1000);
  p.update(100, 100e6);
  p.finish();
  p.finish(); // idempotent
  const last = out.at(-1)!;
  // 100 MB in 1.11 s.
  assert.match(last, /\[#{10,}\] 100\/100 files {2}90 MB\/s {2}1\.1 s\n$/);
  assert.equal(out.filter((o) => o.endsWith("\n")).length, 1, "exactly one newline, at the end");
  p.update(5, 5);
  assert.equal(out.at(-1), last, "nothing after finish");
});

Deno.test("progress: without a terminal, a line every 5 s and a final line", () => {
  const { p, out, advance } = harness({ tty: false, total: 1000 });
  for (let i = 1; i <= 1000; i++) {
    advance(12); // 12 s in all
    p.update(i);
  }
  // Lines at 5 s and 10 s (files/s: no bytes reported), then the final one.
  assert.equal(out.length, 2);
  assert.equal(out[0], "writing: 417/1000 files (41%), 83 files/s, ETA 0:07\n");
  assert.equal(out[1], "writing: 834/1000 files (83%), 83 files/s, ETA 0:02\n");
  p.finish();
  assert.equal(out.length, 3);
  assert.equal(out[2], "writing: 1000/1000 files in 12.0 s, 83 files/s\n");
  assert.ok(out.every((o) => !o.includes("\x1b") && !o.includes("\r")), "no escape codes in a log");
});

Deno.test("progress: a short step prints only its final line; rates by bytes when given", () => {
  const { p, out, advance } = harness({ tty: false, total: 3, totalBytes: 3e6 });
  advance(500);
  p.update(1, 1e6);
  advance(500);
  p.update(3, 3e6);
  p.finish();
  assert.deepEqual(out, ["writing: 3/3 files in 1.0 s, 3.0 MB/s\n"]);
});

Deno.test("progress: durations", () => {
  assert.equal(formatDuration(0), "0:00");
  assert.equal(formatDuration(59.4), "0:59");
  assert.equal(formatDuration(61), "1:01");
  assert.equal(formatDuration(3600 + 62), "1:01:02");
  assert.equal(formatDuration(-3), "0:00");
});

Deno.test("progress: nothing done yet shows no rate and no ETA", () => {
  const { p, out, advance } = harness({ tty: true, total: 5 });
  advance(50);
  p.update(0);
  assert.equal(out.length, 1);
  assert.match(out[0], /\[-+\] 0\/5 files$/);
});

Deno.test("progress: the first file, a millisecond in, shows no rate and no ETA yet", () => {
  const { p, out, advance } = harness({ tty: true, total: 30000, totalBytes: 97e6 });
  advance(1);
  p.update(1, 3200);
  assert.match(out[0], /\] 1\/30000 files$/, out[0]);
  advance(150);
  p.update(4097, 4097 * 3200);
  assert.match(out[1], /MB\/s {2}ETA 0:01$/, out[1]);
  // Work of less than 0.1 s still ends with its rate.
  const short = harness({ tty: false, total: 8, totalBytes: 8e6 });
  short.advance(40);
  short.p.update(8, 8e6);
  short.p.finish();
  assert.equal(short.out.at(-1), "writing: 8/8 files in 0.0 s, 200 MB/s\n");
});
