/**
 * Stats packed into numbers to cross from another thread (src/util/file_identity.ts): what comes back
 * tells the same stamp and identity as the stat itself, and nothing at a path stays nothing.
 */
import assert from "node:assert/strict";
import {
  identityOf,
  isIdentity,
  lstatOrUndefined,
  PACKED_STAT,
  packStat,
  stampOf,
  statOrUndefined,
  unpackStat,
} from "../src/util/file_identity.ts";

Deno.test("file identity: a packed stat gives the stat's stamp, identity and kind; nothing stays nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-identity-" });
  try {
    const file = `${dir}/f`;
    await Deno.writeTextFile(file, "some bytes");
    await Deno.symlink(file, `${dir}/link`);
    const packed = new Float64Array(4 * PACKED_STAT).fill(-1);
    const stats = [statOrUndefined(file), lstatOrUndefined(`${dir}/link`), statOrUndefined(dir), undefined];
    stats.forEach((st, k) => packStat(st, packed, k * PACKED_STAT));
    const back = stats.map((_, k) => unpackStat(packed, k * PACKED_STAT));

    assert.deepEqual(stampOf(back[0]!), stampOf(stats[0]!));
    assert.ok(back[0]!.isFile && !back[0]!.isSymlink);
    assert.ok(isIdentity(back[0], identityOf(file)));
    assert.ok(back[1]!.isSymlink && !back[1]!.isFile);
    assert.ok(!isIdentity(back[1], identityOf(file)), "the link is not the file");
    assert.ok(!back[2]!.isFile && !back[2]!.isSymlink, "a folder is neither");
    assert.equal(back[3], undefined);
    assert.ok(!isIdentity(back[3], identityOf(file)));

    // The file changed: its identity is another.
    const before = identityOf(file);
    await Deno.writeTextFile(file, "more bytes than before");
    const now = new Float64Array(PACKED_STAT);
    packStat(statOrUndefined(file), now, 0);
    assert.ok(!isIdentity(unpackStat(now, 0), before));
    assert.ok(isIdentity(unpackStat(now, 0), before, { inodeOnly: true }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
