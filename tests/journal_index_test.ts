/**
 * The journal as a run reads it back (`src/run/journal_index.ts`): the same answers as replaying
 * every line into memory (the reference below, which is what dcmtidy did before), from a journal of
 * claims, entries, removals and series lines in any order, with a line cut by a crash, a line that
 * does not parse, names in several scripts, and a line longer than the pieces the file is read in.
 */
import assert from "node:assert/strict";
import { readJournal } from "../src/run/journal_index.ts";
import type { JournalEntry, SeriesEntry } from "../src/run/journal.ts";

/** The replay the index must agree with: every line parsed, in order, into maps. */
function reference(text: string) {
  const done = new Map<string, JournalEntry>();
  const claimed = new Set<string>();
  const series = new Map<string, SeriesEntry>();
  const claimedSeries = new Set<string>();
  for (const line of text.split("\n")) {
    let e;
    try {
      e = JSON.parse(line);
    } catch {
      continue;
    }
    if ("claim" in e) claimed.add(e.claim);
    else if ("claimSeries" in e) claimedSeries.add(e.claimSeries);
    else if ("removed" in e) {
      done.delete(e.removed);
      claimed.delete(e.removed);
    } else if ("removedSeries" in e) {
      series.delete(e.removedSeries);
      claimedSeries.delete(e.removedSeries);
    } else if ("inputs" in e) series.set(e.series, e);
    else done.set(e.dest, e);
  }
  return { done, claimed, series, claimedSeries };
}

/** A small deterministic generator (mulberry32): the same journal every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DESTS = [
  ...Array.from({ length: 40 }, (_, i) => `P${i % 7}/2024010${i % 9}/${i}/000${i}.dcm`),
  "Ünïcødé/ßeries/0001.dcm",
  "患者/検査/0001.dcm",
  "x".repeat(300) + "/long.dcm",
  // What the index cuts a line at to read its head (see `finishedFrom`), inside a name.
  'odd","outcome":{"status":"quarantined"}/0001.dcm',
];
const INPUTS = Array.from({ length: 25 }, (_, i) => `/data/raw/${i % 5}/IM${i}`);

function entry(rnd: () => number, dest: string, n: number): JournalEntry {
  const input = INPUTS[Math.floor(rnd() * INPUTS.length)];
  const link = rnd() < 0.15 ? (rnd() < 0.5 ? "hard" : "symbolic") : undefined;
  return {
    input,
    dest,
    ...(link
      ? { link }
      : { output: { dev: 1, ino: 1000 + n, size: 100 + n, mtimeMs: 1_700_000_000_000 + n } }),
    inputMtime: 1_690_000_000_000 + n,
    outcome: {
      index: n,
      status: "written",
      bytes: 100 + n,
      pseudoId: `PSEUDO${n % 5}`,
      fields: { Modality: "CT", SeriesDescription: `séries ${n}` },
      counts: { K: n % 30, X: 3 },
    },
  } as JournalEntry;
}

function journalText(seed: number, lines: number): string {
  const rnd = random(seed);
  const out: string[] = [];
  for (let n = 0; n < lines; n++) {
    const dest = DESTS[Math.floor(rnd() * DESTS.length)];
    const r = rnd();
    if (r < 0.35) out.push(JSON.stringify({ claim: dest }));
    else if (r < 0.75) out.push(JSON.stringify(entry(rnd, dest, n)));
    else if (r < 0.85) out.push(JSON.stringify({ removed: dest }));
    else if (r < 0.9) out.push(JSON.stringify({ claimSeries: `S${n % 4}/stem` }));
    else if (r < 0.95) {
      out.push(
        JSON.stringify({
          series: `S${n % 4}/stem`,
          inputs: INPUTS.slice(0, 3),
          outcome: { files: [], volumes: [] },
        }),
      );
    } else if (r < 0.97) out.push(JSON.stringify({ removedSeries: `S${n % 4}/stem` }));
    else out.push(rnd() < 0.5 ? "{not json" : JSON.stringify({ dest: 7, claim: null }));
  }
  // Cut by a crash in the middle of its last line.
  return out.join("\n") + "\n" + JSON.stringify(entry(rnd, DESTS[0], lines)).slice(0, 40);
}

Deno.test("journal index: the same answers as replaying every line, read back from the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-journal-index-" });
  try {
    for (const seed of [1, 2, 3, 4, 5]) {
      const text = journalText(seed, 600);
      const path = `${dir}/journal-${seed}.jsonl`;
      await Deno.writeTextFile(path, text);
      const want = reference(text);
      using journal = await readJournal(path);
      assert.equal(journal.finished, want.done.size, `seed ${seed}: finished outputs`);
      for (const dest of [...DESTS, "never/written.dcm"]) {
        const done = journal.done(dest);
        assert.deepEqual(done, want.done.get(dest), `seed ${seed}: done(${dest})`);
        // Asked only of outputs not finished (what a run does).
        if (!done) {
          assert.equal(journal.claimed(dest), want.claimed.has(dest), `seed ${seed}: claimed(${dest})`);
        }
      }
      const byDest = (a: JournalEntry, b: JournalEntry) => a.dest < b.dest ? -1 : 1;
      assert.deepEqual([...journal.entries()].sort(byDest), [...want.done.values()].sort(byDest));
      for (const input of INPUTS) {
        const wanted = [...want.done.values()]
          .filter((e) => e.input === input && e.output && !e.link)
          .map((e) => ({ input, dest: e.dest, inputMtime: e.inputMtime, output: e.output }));
        assert.deepEqual(journal.finishedFrom(input).sort(byDest as never), wanted.sort(byDest as never));
      }
      assert.deepEqual(journal.series, want.series);
      assert.deepEqual(journal.claimedSeries, want.claimedSeries);
      // Outputs a run says it makes are left out of the entries it asks for unmade.
      const made = DESTS.filter((_, i) => i % 3 === seed % 3);
      for (const dest of made) journal.done(dest, true);
      assert.deepEqual(
        [...journal.entries({ unmade: true })].sort(byDest),
        [...want.done.values()].filter((e) => !made.includes(e.dest)).sort(byDest),
      );
      assert.deepEqual([...journal.entries()].sort(byDest), [...want.done.values()].sort(byDest));
    }
    // No journal yet: nothing finished, nothing claimed.
    using none = await readJournal(`${dir}/absent.jsonl`);
    assert.equal(none.finished, 0);
    assert.equal(none.done(DESTS[0]), undefined);
    assert.equal(none.claimed(DESTS[0]), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("journal index: a line longer than the pieces it is read in; an older journal's originals are dropped", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-journal-index-" });
  try {
    const path = `${dir}/journal.jsonl`;
    const rnd = random(9);
    // A NIfTI series of thousands of files: one line of about 1.6 MB (the file is read 1 MiB at a time).
    const inputs = Array.from({ length: 40_000 }, (_, i) => `/data/raw/series/${i}.dcm`);
    const older = {
      ...entry(rnd, DESTS[2], 2),
      outcome: { ...entry(rnd, DESTS[2], 2).outcome, originalPatientId: "PID-7" },
    };
    const lines = [
      JSON.stringify({ claim: DESTS[0] }),
      JSON.stringify(entry(rnd, DESTS[0], 0)),
      JSON.stringify({ series: "S/stem", inputs, outcome: { files: [], volumes: [] } }),
      JSON.stringify(entry(rnd, DESTS[1], 1)),
      JSON.stringify(older),
      // An output's line over 64 KiB (its length no longer fits the index's 16 bits).
      JSON.stringify({ ...entry(rnd, DESTS[4], 4), pad: "p".repeat(70_000) }),
    ];
    await Deno.writeTextFile(path, lines.join("\n") + "\n");
    const want = reference(lines.join("\n"));
    {
      using journal = await readJournal(path);
      assert.equal(journal.series.get("S/stem")?.inputs.length, 40_000);
      for (const dest of [...DESTS.slice(0, 2), DESTS[4]]) {
        assert.deepEqual(journal.done(dest), want.done.get(dest));
      }
      const { originalPatientId: _, ...outcome } = older.outcome;
      assert.deepEqual(journal.done(DESTS[2]), { ...older, outcome });
    }
    // The older journal was rewritten without the original identity, and reads the same.
    const text = await Deno.readTextFile(path);
    assert.ok(!text.includes("originalPatientId") && !text.includes("PID-7"));
    using again = await readJournal(path);
    assert.equal(again.finished, 4);
    assert.equal(again.series.get("S/stem")?.inputs.length, 40_000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("journal index: original identities in a line that does not parse are dropped too; a rewrite happens once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-journal-index-" });
  try {
    const path = `${dir}/journal.jsonl`;
    const rnd = random(11);
    const withOriginals = (dest: string, n: number) => {
      const e = entry(rnd, dest, n);
      return {
        ...e,
        outcome: { ...e.outcome, originalPatientId: "DOE^JOHN-123", originalStudyUID: "1.2.3.4" },
      };
    };
    // An older dcmtidy killed in the middle of a line that held originals; a later run appended a claim to it.
    const cut = JSON.stringify(withOriginals(DESTS[1], 1));
    await Deno.writeTextFile(
      path,
      JSON.stringify(entry(rnd, DESTS[0], 0)) + "\n" + cut.slice(0, -10) +
        JSON.stringify({ claim: DESTS[2] }) + "\n",
    );
    {
      using journal = await readJournal(path);
      assert.equal(journal.finished, 1);
    }
    let text = await Deno.readTextFile(path);
    assert.ok(
      !text.includes("DOE^JOHN-123") && !text.includes("1.2.3.4"),
      "the cut line's originals are gone",
    );
    // A line with an original identity outside its outcome (not ours to drop): rewritten once, not forever.
    const odd = { ...entry(rnd, DESTS[3], 3), originalStudyUID: "5.6.7" };
    await Deno.writeTextFile(path, JSON.stringify(odd) + "\n");
    using journal = await readJournal(path);
    assert.equal(journal.done(DESTS[3])?.dest, DESTS[3]);
    text = await Deno.readTextFile(path);
    assert.equal(text.trim().split("\n").length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
