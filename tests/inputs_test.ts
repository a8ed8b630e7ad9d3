/**
 * The input listing (`walkInputs`) against a plain reference walk written here with `join` and
 * `relative`: the same paths, relative paths and order, for a root given with a trailing
 * separator or `.` segments, dot files, exclude globs, links followed or not, and a link loop.
 */
import assert from "node:assert/strict";
import { join, relative, sep } from "node:path";
import { type Listed, walkInputs } from "../src/scan/inputs.ts";

/** The reference: every regular file or link under `root`, sorted by name within each folder. */
function reference(root: string, follow: boolean): { rel: string; path: string; regular: boolean }[] {
  const out: { rel: string; path: string; regular: boolean }[] = [];
  const seen = new Set<string>();
  const walk = (dir: string) => {
    const real = Deno.realPathSync(dir);
    if (seen.has(real)) return;
    seen.add(real);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const name of names) {
      const path = join(dir, name);
      const rel = relative(root, path).split(sep).join("/");
      const l = Deno.lstatSync(path);
      let st: Deno.FileInfo | undefined = l;
      if (l.isSymlink) {
        try {
          st = Deno.statSync(path);
        } catch {
          st = undefined;
        }
        if (!follow || !st) {
          out.push({ rel, path, regular: false });
          continue;
        }
      }
      if (st!.isDirectory) walk(path);
      else out.push({ rel, path, regular: st!.isFile });
    }
  };
  walk(root);
  return out;
}

const shape = (l: Iterable<Listed>) =>
  [...l].map((f) => ({ rel: f.rel, path: f.path, regular: !f.notRegular }));

Deno.test("walkInputs: the paths, relative paths and order of a plain join/relative walk", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-inputs-" });
  try {
    const root = join(dir, "dump");
    for (
      const f of ["b/2.dcm", "b/10.dcm", "a/x/.hidden", "a/x/y/z.dcm", "A.dcm", "c d/é.dcm", "skip/1.dcm"]
    ) {
      await Deno.mkdir(join(root, f, ".."), { recursive: true });
      await Deno.writeTextFile(join(root, f), f);
    }
    await Deno.mkdir(join(dir, "elsewhere"));
    await Deno.writeTextFile(join(dir, "elsewhere", "linked.dcm"), "x");
    await Deno.symlink(join(dir, "elsewhere"), join(root, "link-to-folder"));
    await Deno.symlink(join(root, "b", "2.dcm"), join(root, "b", "link-to-file"));
    await Deno.symlink(join(root, "nowhere"), join(root, "dangling"));
    await Deno.symlink(root, join(root, "a", "loop"));

    for (const follow of [false, true]) {
      const expected = reference(root, follow);
      assert.ok(expected.length >= 9, "the tree has what the test means to list");
      for (const given of [root, root + sep, `${dir}${sep}.${sep}dump${sep}${sep}`]) {
        const listed = await walkInputs({
          roots: [given],
          include: ["**"],
          exclude: [],
          followSymlinks: follow,
        });
        assert.deepEqual(shape(listed), expected, `root ${given}, links ${follow ? "" : "not "}followed`);
        for (const f of listed) assert.equal(f.root, given, "each file names the root as given");
      }
      const excluded = await walkInputs({
        roots: [root],
        include: ["**"],
        exclude: ["skip/**", "**/*.hidden", ".hidden"],
        followSymlinks: follow,
      });
      assert.deepEqual(
        shape(excluded),
        expected.filter((f) => !f.rel.startsWith("skip/") && !f.rel.endsWith(".hidden")),
      );
    }
    // A relative root, as join() writes paths under it ("a/b", not "./a/b").
    const cwd = Deno.cwd();
    try {
      Deno.chdir(root);
      const expected = reference(".", false);
      for (const given of [".", "./", "x/.."]) {
        const listed = await walkInputs({
          roots: [given],
          include: ["**"],
          exclude: [],
          followSymlinks: false,
        });
        assert.deepEqual(shape(listed), expected, `root ${given}`);
      }
      assert.ok(expected.some((f) => f.path === join("b", "2.dcm")));
    } finally {
      Deno.chdir(cwd);
    }
    // Two roots: in the order given, each sorted within.
    const two = await walkInputs({
      roots: [join(root, "b"), join(root, "a")],
      include: ["**/*.dcm", "*.dcm"],
      exclude: [],
      followSymlinks: false,
    });
    assert.deepEqual([...two].map((f) => f.path), [
      join(root, "b", "10.dcm"),
      join(root, "b", "2.dcm"),
      join(root, "a", "x", "y", "z.dcm"),
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("walkInputs: an entry's paths and reason pass to a worker as a plain object (plainListed)", async () => {
  const { plainListed } = await import("../src/scan/inputs.ts");
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-listed-" }));
  try {
    await Deno.mkdir(`${dir}/a/b`, { recursive: true });
    await Deno.writeTextFile(`${dir}/a/b/one.dcm`, "x");
    await Deno.writeTextFile(`${dir}/top.dcm`, "x");
    await Deno.symlink(`${dir}/gone`, `${dir}/a/dangling`);
    const listed: Listed[] = [
      ...await walkInputs({
        roots: [dir],
        include: ["**"],
        exclude: [],
        followSymlinks: false,
      }),
    ];
    const plain = listed.map(plainListed);
    assert.deepEqual(plain, [
      { root: dir, rel: "a/b/one.dcm", path: `${dir}/a/b/one.dcm` },
      {
        root: dir,
        rel: "a/dangling",
        path: `${dir}/a/dangling`,
        notRegular: "a symbolic link to nothing (dangling)",
      },
      { root: dir, rel: "top.dcm", path: `${dir}/top.dcm` },
    ]);
    // What a worker gets is what the entry says.
    assert.deepEqual(structuredClone(plain), plain);
    for (const [i, f] of listed.entries()) {
      assert.equal(f.rel, plain[i].rel);
      assert.equal(f.path, plain[i].path);
      assert.equal(f.notRegular, plain[i].notRegular);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("walkInputs: the listing is compact; an entry let go is gone, its folder's others stay", async () => {
  const { letGo } = await import("../src/scan/inputs.ts");
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "dcmtidy-listing-" }));
  try {
    // A folder whose files come before and after a folder of its own (its entries are not together
    // in the listing), names of several lengths and scripts, and an entry that is not a file.
    for (const f of ["a/1.dcm", "a/b/x.dcm", "a/b/yy.dcm", "a/c.dcm", "a/é ü.dcm", "z.dcm"]) {
      await Deno.mkdir(join(dir, f, ".."), { recursive: true });
      await Deno.writeTextFile(join(dir, f), f);
    }
    await Deno.symlink(join(dir, "gone"), join(dir, "a", "d-dangling"));
    const found: number[] = [];
    const listing = await walkInputs(
      { roots: [dir], include: ["**"], exclude: [], followSymlinks: false },
      (n) => found.push(n),
    );
    const rels = ["a/1.dcm", "a/b/x.dcm", "a/b/yy.dcm", "a/c.dcm", "a/d-dangling", "a/é ü.dcm", "z.dcm"];
    assert.deepEqual([...listing].map((f) => f.rel), rels);
    assert.equal(listing.length, rels.length);
    assert.equal(listing.at(4)!.notRegular, "a symbolic link to nothing (dangling)");
    assert.equal(listing.at(3)!.notRegular, undefined);
    assert.equal(listing.at(-1), undefined);
    assert.equal(listing.at(1.5), undefined, "not a position: nothing, not a throw");
    // Told of the regular files found, one by one: the dangling link is listed but not counted.
    assert.deepEqual(found, [1, 2, 3, 4, 5, 6]);
    assert.equal(listing.at(rels.length), undefined);
    // Let go in another order than listed: each entry is gone, the rest are as they were.
    const left = new Set(rels.keys());
    for (const i of [3, 0, 6, 1, 5, 2, 4]) {
      letGo(listing, i);
      left.delete(i);
      assert.equal(listing.at(i), undefined, `entry ${i} let go`);
      for (const j of left) {
        assert.equal(listing.at(j)!.rel, rels[j]);
        assert.equal(listing.at(j)!.path, join(dir, rels[j]));
      }
    }
    assert.deepEqual([...listing], []);
    // An array of entries (a share of a listing) is let go of entry by entry too.
    const share: (Listed | undefined)[] = [{ root: dir, rel: "z.dcm", path: join(dir, "z.dcm") }];
    letGo(share, 0);
    assert.deepEqual(share, [undefined]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
