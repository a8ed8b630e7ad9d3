/**
 * The HMAC-SHA256 that keys pseudonyms, UIDs and date offsets (`src/deid/_hmac.ts`, @noble/hashes)
 * against `node:crypto`, byte for byte: every length around the block boundaries, keys longer than
 * a block, and `Keys` against the `createHmac` construction it replaced (UTF-8 of each part, NUL
 * between them), non-ASCII and lone surrogates included. A change here would change every output.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { Hmac256 } from "../src/deid/_hmac.ts";
import { Keys } from "../src/deid/keys.ts";

/** RFC 4648 base32 without padding, bit by bit (the reference for `Keys`' own). */
function base32(bytes: Uint8Array): string {
  const bits = Array.from(bytes, (b) => b.toString(2).padStart(8, "0")).join("");
  let out = "";
  for (let i = 0; i < bits.length; i += 5) {
    out += "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[parseInt(bits.slice(i, i + 5).padEnd(5, "0"), 2)];
  }
  return out;
}

/** A deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 0x100000000;
  };
}

Deno.test("Hmac256 gives node:crypto's bytes for every message length up to 300 and long keys", () => {
  const rnd = random(7);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
  for (const keyLength of [1, 16, 40, 63, 64, 65, 100, 200]) {
    const key = bytes(keyLength);
    const h = new Hmac256(key);
    for (let n = 0; n <= 300; n++) {
      const msg = bytes(n);
      assert.deepEqual(
        h.mac(msg),
        new Uint8Array(createHmac("sha256", key).update(msg).digest()),
        `${keyLength}/${n}`,
      );
    }
  }
});

Deno.test("Keys gives the values of the createHmac construction: ASCII, other scripts, lone surrogates", () => {
  const salt = new TextEncoder().encode("dcmtidy-test-salt-0123456789");
  const keys = new Keys(salt);
  const mac = (label: string, ...parts: string[]) => {
    const h = createHmac("sha256", salt);
    h.update(label);
    for (const p of parts) h.update("\0").update(p, "utf8");
    return new Uint8Array(h.digest());
  };
  const rnd = random(11);
  const alphabet = [
    "1",
    ".",
    "2",
    "a",
    "Z",
    " ",
    "^",
    "é",
    "漢",
    "\u{1f600}",
    "\ud800",
    "\udc00",
    "\0",
    "\\",
  ];
  const text = () =>
    Array.from({ length: Math.floor(rnd() * 80) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join(
      "",
    );
  for (let i = 0; i < 500; i++) {
    const a = text();
    const b = text();
    let n = 0n;
    for (const x of mac("dcmtidy/uid", a).subarray(0, 16)) n = (n << 8n) | BigInt(x);
    assert.deepEqual(keys.uid(a), `2.25.${n}`, JSON.stringify(a));
    let d = 0;
    for (const x of mac("dcmtidy/dates", a).subarray(0, 6)) d = d * 256 + x;
    assert.deepEqual(keys.dayOffset(a, -100, -10), -100 + (d % 91));
    assert.deepEqual(keys.derivedKey(b), mac("dcmtidy/derived-key", b));
    assert.deepEqual(keys.pseudonym(a, b, "P", 8), "P" + base32(mac("dcmtidy/patient", a, b)).slice(0, 8));
    assert.deepEqual(keys.hashValue(a), base32(mac("dcmtidy/value", a)).slice(0, 16));
  }
});
