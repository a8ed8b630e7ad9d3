/**
 * The spill map (src/util/spill_map.ts): past its bound, records go to a temporary file that is
 * never seen in its folder, and every operation gives what a plain Map would.
 */
import assert from "node:assert/strict";
import { sharingCodec } from "../src/util/spill_codec.ts";
import { SpillMap } from "../src/util/spill_map.ts";

interface Rec {
  readonly index: number;
  readonly name: string;
  readonly counts?: Record<string, number>;
}

const rec = (i: number, tag = ""): Rec => ({
  index: i,
  name: `Müller^${"é".repeat(i % 5)}\t${tag}\n${i}`,
  ...(i % 3 === 0 ? { counts: { X: i, D: 2 } } : {}),
});

Deno.test("spill map: behaves as a Map across its bound, with overwrites and deletes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    using spill = new SpillMap<Rec>(dir, 7);
    const plain = new Map<number, Rec>();
    // Keys out of order and sparse, some far past the first arrays' size.
    const keys = Array.from({ length: 300 }, (_, i) => (i * 37) % 300 + (i % 4 === 0 ? 5000 : 0));
    for (const k of keys) {
      spill.set(k, rec(k));
      plain.set(k, rec(k));
    }
    // Overwrite some that are on file, delete others, add after deletes.
    for (const k of keys.slice(0, 40)) {
      spill.set(k, rec(k, "again"));
      plain.set(k, rec(k, "again"));
    }
    for (const k of keys.slice(50, 90)) {
      assert.equal(spill.delete(k), plain.delete(k));
    }
    assert.equal(spill.delete(123456), false);
    spill.set(777777, rec(777777));
    plain.set(777777, rec(777777));
    assert.equal(spill.size, plain.size);
    for (const k of [...keys, 777777, 1, 99999]) {
      assert.deepEqual(spill.get(k), plain.get(k), `key ${k}`);
      assert.equal(spill.has(k), plain.has(k), `key ${k}`);
    }
    const seen = new Map([...spill]);
    assert.equal(seen.size, plain.size, "each record once");
    assert.deepEqual(seen, plain);
    assert.deepEqual(new Set(spill.keys()), new Set(plain.keys()));
    assert.equal([...spill.values()].length, plain.size);
    // The file is open but not in the folder.
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spill map: without a folder it never writes; a bad key is refused", () => {
  using spill = new SpillMap<Rec>(undefined, 2);
  for (let i = 0; i < 10; i++) spill.set(i, rec(i));
  assert.equal(spill.size, 10);
  assert.deepEqual(spill.get(9), rec(9));
  assert.throws(() => spill.set(-1, rec(1)), RangeError);
  assert.throws(() => spill.set(1.5, rec(1)), RangeError);
});

Deno.test("spill map: lines longer than the read piece, and lines across pieces, come back whole", async () => {
  const dir = await Deno.makeTempDir();
  try {
    using spill = new SpillMap<Rec>(dir, 2);
    // Short lines on file first: their places are kept when the first line past 64 KiB needs wider ones.
    for (let i = 100; i < 110; i++) spill.set(i, rec(i));
    const big = (i: number): Rec => ({ index: i, name: "x".repeat(150_000 + i * 70_000) });
    for (let i = 0; i < 30; i++) spill.set(i, big(i));
    const seen = [...spill];
    assert.equal(seen.length, 40);
    for (const [k, v] of seen) assert.deepEqual(v, k >= 100 ? rec(k) : big(k));
    for (let i = 0; i < 30; i++) assert.deepEqual(spill.get(i), big(i));
    for (let i = 100; i < 110; i++) assert.deepEqual(spill.get(i), rec(i));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spill map: records set from many sorted sources in turn come back right in any order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // 40 sources (more than the pieces get keeps), each setting its keys in order, one source after
    // another (as a split scan's shares or a merge's parts): keys 0, 40, 80... then 1, 41, 81...
    const sources = 40;
    const n = 8000;
    using spill = new SpillMap<Rec>(dir, 16);
    for (let s = 0; s < sources; s++) for (let i = s; i < n; i += sources) spill.set(i, rec(i));
    // In key order (each read continues one source's run), backwards, and at random.
    for (let i = 0; i < n; i++) assert.deepEqual(spill.get(i), rec(i));
    for (let i = n - 1; i >= 0; i -= 7) assert.deepEqual(spill.get(i), rec(i));
    let x = 12345;
    for (let j = 0; j < 3000; j++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      const i = x % n;
      assert.deepEqual(spill.get(i), rec(i));
    }
    // Set again (a new line on file), then read: the new value, whatever piece held the old one.
    for (let i = 0; i < n; i += 3) spill.set(i, { ...rec(i), name: `again ${i}` });
    for (let i = 0; i < n; i++) {
      assert.deepEqual(spill.get(i), i % 3 ? rec(i) : { ...rec(i), name: `again ${i}` });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spill map: what is on disk is encrypted", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // The file has no name once open: it is read through /proc (Linux), else the check is skipped.
    using spill = new SpillMap<Rec>(dir, 1);
    for (let i = 0; i < 50; i++) spill.set(i, { index: i, name: `DOE^JANE ${i}` });
    let bytes: Uint8Array | undefined;
    try {
      for (const fd of Deno.readDirSync("/proc/self/fd")) {
        const target = Deno.readLinkSync(`/proc/self/fd/${fd.name}`);
        if (target.startsWith(dir) && target.includes(".spill-")) {
          bytes = Deno.readFileSync(`/proc/self/fd/${fd.name}`);
        }
      }
    } catch { /* no /proc */ }
    if (!bytes) {
      console.log("spill map: no /proc/self/fd here: the encryption check is skipped");
      return;
    }
    assert.ok(bytes.length > 50 * 20);
    assert.ok(!new TextDecoder("latin1").decode(bytes).includes("DOE"), "no name in clear");
    assert.deepEqual(spill.get(7), { index: 7, name: "DOE^JANE 7" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spill map: a folder function that gives none keeps every record in memory", () => {
  let asked = 0;
  using spill = new SpillMap<Rec>(() => {
    asked++;
    return undefined;
  }, 2);
  for (let i = 0; i < 20; i++) spill.set(i, rec(i));
  assert.equal(spill.size, 20);
  assert.deepEqual([...spill.keys()].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
  assert.equal(asked, 1, "asked once");
});

Deno.test("spill map: bad keys are refused or absent, not a parse error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    using spill = new SpillMap<Rec>(dir, 1);
    for (let i = 0; i < 5; i++) spill.set(i, rec(i));
    for (const key of [-1, 1.5, 2 ** 40, NaN]) {
      assert.equal(spill.get(key), undefined);
      assert.equal(spill.has(key), false);
    }
    assert.throws(() => spill.set(2 ** 31, rec(1)), RangeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("planSpill: under plan's narrowed permissions, the state folder, and the output root when missing", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    const script = `${dir}/child.ts`;
    await Deno.writeTextFile(
      script,
      `import { planSpill } from ${JSON.stringify(new URL("../src/run/state_dir.ts", import.meta.url).href)};
       console.log(JSON.stringify(Deno.args.map((root) => planSpill(root).dir() ?? null)));`,
    );
    await Deno.mkdir(`${dir}/out`);
    // What `dcmtidy permissions --command plan` gives a plan: write the state folders alone (read
    // is left wide here: the code and the module cache).
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "--config",
        new URL("../deno.json", import.meta.url).pathname,
        "--allow-read",
        `--allow-write=${dir}/out/.dcmtidy,${dir}/missing/.dcmtidy`,
        script,
        `${dir}/out`,
        `${dir}/missing`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, err);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), [
      `${dir}/out/.dcmtidy`,
      `${dir}/missing/.dcmtidy`,
    ]);
    for (const root of ["out", "missing"]) {
      assert.equal((await Deno.stat(`${dir}/${root}/.dcmtidy`)).mode! & 0o777, 0o700);
      // The root keeps the usual mode (the umask's), not the state folder's.
      assert.notEqual((await Deno.stat(`${dir}/${root}`)).mode! & 0o777, 0o700);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spill map: a sharing codec writes what records share once and gives each record back whole", async () => {
  const dir = await Deno.makeTempDir();
  try {
    interface Out {
      index: number;
      status: string;
      pseudoId?: string;
      counts?: Record<string, number>;
      bytes?: number;
      reason?: string;
    }
    const codec = sharingCodec<Out>(["status", "pseudoId", "counts"]);
    using spill = new SpillMap<Out>(dir, 1, codec);
    const records: Out[] = Array.from({ length: 40 }, (_, i) => ({
      index: i,
      status: i % 7 === 0 ? "quarantined" : "written",
      ...(i % 7 === 0
        ? { reason: `bad ${i}` }
        : { pseudoId: `P${i % 3}`, counts: { X: i % 2 }, bytes: 100 + i }),
    }));
    for (const r of records) spill.set(r.index, r);
    for (const r of records) assert.deepEqual(spill.get(r.index), r);
    assert.deepEqual(new Map(spill), new Map(records.map((r) => [r.index, r])));
    // A line holds the number and the record's own fields, not what it shares.
    const line = JSON.stringify(codec.encode(records[1]));
    assert.ok(!line.includes("P1") && line.includes("101"), line);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sharingCodec: one number per combination of shared values, whatever their objects' identity", () => {
  type R = { a?: string; b?: string; o?: Record<string, number>; own: number };
  const codec = sharingCodec<R>(["a", "b", "o"]);
  const id = (r: R) => (codec.encode(r) as [number, unknown])[0];
  const counts = { X: 1 };
  const first = id({ a: "x", b: "y", o: counts, own: 1 });
  // The same values: the same number, with an equal object that is not the same one too.
  assert.equal(id({ a: "x", b: "y", o: counts, own: 2 }), first);
  assert.equal(id({ a: "x", b: "y", o: { X: 1 }, own: 3 }), first);
  // Other values: other numbers, also where their text run together would read the same.
  const others = [
    { a: "x", b: "y", o: { X: 2 }, own: 4 },
    { a: "x;b:1:y", own: 5 },
    { a: "x", b: "1:y", own: 6 },
    { a: "x", own: 7 },
    { b: "x", own: 8 },
    { a: "x", b: "y", own: 9 },
  ];
  const numbers = others.map(id);
  assert.equal(new Set([first, ...numbers]).size, others.length + 1, JSON.stringify(numbers));
  for (const r of others) assert.deepEqual(codec.decode(codec.encode(r)), r);
});

Deno.test("sharingCodec: an object's content is looked up once, however many others come between", () => {
  type R = { o: Record<string, number>; own: number };
  const codec = sharingCodec<R>(["o"]);
  // Objects whose field counts its reads: a lookup by content reads it (JSON, comparisons).
  let reads = 0;
  const objects = Array.from({ length: 6000 }, (_, i) => {
    const o = {} as Record<string, number>;
    Object.defineProperty(o, "n", { enumerable: true, get: () => (reads++, i) });
    return o;
  });
  // The files of 6,000 series in turn, three times over (more than a bounded cache of 4,096 held).
  for (let round = 0; round < 3; round++) objects.forEach((o, own) => codec.encode({ o, own }));
  assert.ok(reads <= objects.length, `${reads} reads of ${objects.length} objects' contents`);
  // What the codec remembers on an object is seen by no copy of it, and a frozen object still works.
  const o = objects[0];
  assert.deepEqual(Object.keys(o), ["n"]);
  assert.equal(JSON.stringify({ ...o }), '{"n":0}');
  assert.deepEqual(structuredClone(o), { n: 0 });
  const frozen = Object.freeze({ n: 0 });
  assert.equal(
    (codec.encode({ o: frozen, own: 1 }) as [number])[0],
    (codec.encode({ o, own: 2 }) as [number])[0],
  );
});

Deno.test("spill map: sharingCodec gives back every combination of shared values as it was", () => {
  type R = { a?: string; b?: string; n?: number; o?: Record<string, number>; own: number };
  const codec = sharingCodec<R>(["a", "b", "n", "o"]);
  // Values that a key built from the values themselves could run together.
  const tricky = ["", "x", "x;b$0;", "b$1", "1", "a:1:x", "#0", "=1"];
  const records: R[] = [];
  let own = 0;
  for (const a of tricky) {
    for (const b of tricky) {
      records.push({ a, b, own: own++ });
      records.push({ a, b, n: own % 3, o: { X: own % 2 }, own: own++ });
    }
  }
  records.push({ own: own++ }, { b: "x", own: own++ }, { a: "x", own: own++ });
  const stored = records.map((r) => JSON.parse(JSON.stringify(codec.encode(r))));
  stored.forEach((s, i) => assert.deepEqual(codec.decode(s), records[i]));
  // Equal combinations share one part.
  const parts = new Set(stored.map((s) => s[0]));
  const combos = new Set(records.map(({ own: _, ...shared }) => JSON.stringify(shared)));
  assert.equal(parts.size, combos.size);
});

Deno.test("sharingCodec: combinations whose hashes are alike are told apart", () => {
  // 200,000 combinations: their 30-bit hashes meet (about 19 pairs are expected to), and each must
  // still be its own, and found again as its own.
  type R = { a: string; b: string; n: number; own: number };
  const codec = sharingCodec<R>(["a", "b", "n"]);
  const strings = Array.from({ length: 500 }, (_, i) => `s${i}`);
  const records: R[] = [];
  for (let i = 0; i < 200_000; i++) {
    records.push({
      a: strings[i % 500],
      b: strings[Math.floor(i / 500) % 400],
      n: i % 7 === 0 ? i : 0,
      own: i,
    });
  }
  const numbers = records.map((r) => (codec.encode(r) as [number])[0]);
  const combos = new Set(records.map((r) => `${r.a} ${r.b} ${r.n}`));
  assert.equal(new Set(numbers).size, combos.size);
  // Again, in another order: the same numbers.
  for (let i = records.length - 1; i >= 0; i -= 7) {
    assert.equal((codec.encode({ ...records[i], own: -1 }) as [number])[0], numbers[i]);
  }
  for (let i = 0; i < records.length; i += 997) {
    assert.deepEqual(codec.decode(codec.encode(records[i])), records[i]);
  }
});

Deno.test("spill map: keys said to be below a number, and keys past it, come back across the bound", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-spill-keys-" });
  try {
    const map = new SpillMap<{ i: number }>(dir, 4, undefined, 3000);
    for (let i = 0; i < 3000; i += 7) map.set(i, { i });
    map.set(5000, { i: 5000 }); // past what was said: the places grow
    for (let i = 0; i < 3000; i += 7) assert.deepEqual(map.get(i), { i });
    assert.deepEqual(map.get(5000), { i: 5000 });
    assert.equal(map.size, Math.ceil(3000 / 7) + 1);
    map.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spill map: keys said after records went to the file (expect), and keys past them, come back", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-spill-keys-later-" });
  try {
    const map = new SpillMap<{ i: number }>(dir, 4);
    for (let i = 0; i < 2000; i += 3) map.set(i, { i }); // the places have grown by doubling
    map.expect(1000, 3000);
    for (let i = 2001; i < 3000; i += 3) map.set(i, { i }); // to the number said, at once
    map.set(7000, { i: 7000 }); // past it: doubled again
    map.expect(10, 100); // fewer than it has: changes nothing
    map.set(8191, { i: 8191 });
    for (let i = 0; i < 3000; i += 3) assert.deepEqual(map.get(i), { i });
    assert.deepEqual(map.get(7000), { i: 7000 });
    assert.deepEqual(map.get(8191), { i: 8191 });
    assert.equal(map.size, Math.ceil(3000 / 3) + 2);
    map.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spill map: a map said to get more keys than the default bound holds fewer in memory", async () => {
  const { SPILL_BOUND, SPILL_BOUND_PAST } = await import("../src/util/spill_map.ts");
  const dir = await Deno.makeTempDir();
  try {
    using past = new SpillMap<Rec>(dir, undefined, undefined, SPILL_BOUND + 1);
    using under = new SpillMap<Rec>(dir, undefined, undefined, SPILL_BOUND);
    for (let i = 0; i <= SPILL_BOUND_PAST; i++) {
      past.set(i, rec(i));
      under.set(i, rec(i));
    }
    assert.equal(past.held, 0, "past its bound: every record went to the file");
    assert.equal(under.held, SPILL_BOUND_PAST + 1, "under the default bound: every record in memory");
    assert.deepEqual(past.get(SPILL_BOUND_PAST), rec(SPILL_BOUND_PAST));
    // Told its bound, a map keeps it whatever its keys.
    using told = new SpillMap<Rec>(dir, SPILL_BOUND_PAST + 10, undefined, SPILL_BOUND + 1);
    for (let i = 0; i <= SPILL_BOUND_PAST; i++) told.set(i, rec(i));
    assert.equal(told.held, SPILL_BOUND_PAST + 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spill map: told its number of records after it was made, a map holds as if told when made", async () => {
  const { SPILL_BOUND, SPILL_BOUND_PAST } = await import("../src/util/spill_map.ts");
  const dir = await Deno.makeTempDir();
  try {
    using later = new SpillMap<Rec>(dir);
    using few = new SpillMap<Rec>(dir);
    using given = new SpillMap<Rec>(dir, SPILL_BOUND_PAST + 10);
    for (let i = 0; i < 100; i++) [later, few, given].forEach((m) => m.set(i, rec(i)));
    later.expect(SPILL_BOUND + 1);
    few.expect(SPILL_BOUND);
    given.expect(SPILL_BOUND + 1);
    for (let i = 100; i <= SPILL_BOUND_PAST; i++) [later, few, given].forEach((m) => m.set(i, rec(i)));
    assert.equal(later.held, 0, "past the bound: every record went to the file");
    assert.equal(few.held, SPILL_BOUND_PAST + 1, "under it: every record in memory");
    assert.equal(given.held, SPILL_BOUND_PAST + 1, "a bound of its own is kept");
    for (let i = 0; i <= SPILL_BOUND_PAST; i++) assert.deepEqual(later.get(i), rec(i));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spill map: closed, a map lets go of what was on file and takes records again, past its bound too", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-spill-reopen-" });
  try {
    using map = new SpillMap<Rec>(dir, 4, undefined, 5000);
    for (let i = 0; i < 5003; i++) map.set(i, rec(i));
    const held = map.held;
    assert.ok(held > 0 && held < 5003);
    map.close();
    assert.equal(map.size, held, "those in memory stay");
    assert.deepEqual(map.get(5002), rec(5002));
    assert.equal(map.get(0), undefined, "those on file are gone");
    for (let i = 0; i < 6000; i += 3) map.set(i, rec(i));
    for (let i = 0; i < 6000; i += 3) assert.deepEqual(map.get(i), rec(i));
    assert.equal(map.get(1), undefined);
    assert.equal([...map.keys()].length, map.size);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
