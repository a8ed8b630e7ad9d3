/** The small pieces of de-identification: date arithmetic, keyed values, free-text cleaning, lookups. */
import assert from "node:assert/strict";
import { shiftDA, shiftDT, yearOnly } from "../src/deid/dates.ts";
import { Keys } from "../src/deid/keys.ts";
import { cleanText, removeKnownPHI } from "../src/deid/clean.ts";
import { readLookupTable } from "../src/protocol/lookup.ts";
import { isWellKnownUID } from "../src/deid/uids.ts";
import { createHmac } from "node:crypto";
import { deidConfig } from "../src/deid/config.ts";
import { openSession } from "../src/deid/session.ts";

Deno.test("dates: shifting DA, DT and ranges, across months and leap days", () => {
  assert.equal(shiftDA("20240301", -1), "20240229");
  assert.equal(shiftDA("20230301", -1), "20230228");
  assert.equal(shiftDA("20200101", -365), "20190101");
  assert.equal(shiftDA("20200101-20200201", 10), "20200111-20200211");
  assert.equal(shiftDA("-20200201", 1), "-20200202");
  assert.equal(shiftDA("20201301", 1), undefined); // month 13: not a date, so not kept
  assert.equal(shiftDA("2020", 1), undefined);
  assert.equal(shiftDT("20240301120000.123456+0100", -1), "20240229120000.123456+0100");
  assert.equal(shiftDT("20240301", 1), "20240302");
  assert.equal(shiftDT("2024", 1), undefined);
  assert.equal(yearOnly("19370412"), "19370101");
});

Deno.test("keys: pseudonyms, UIDs and offsets are keyed, stable and well formed", () => {
  const a = new Keys(new TextEncoder().encode("salt-a"));
  const b = new Keys(new TextEncoder().encode("salt-b"));
  const p = a.pseudonym("", "PID001", "SUBJ-", 8);
  assert.match(p, /^SUBJ-[A-Z2-7]{8}$/);
  assert.equal(a.pseudonym("", "PID001", "SUBJ-", 8), p);
  assert.notEqual(b.pseudonym("", "PID001", "SUBJ-", 8), p);
  assert.notEqual(a.pseudonym("ISSUER", "PID001", "SUBJ-", 8), p, "the issuer is part of the key");
  const uid = a.uid("1.2.3.4");
  assert.match(uid, /^2\.25\.[1-9][0-9]*$/);
  assert.ok(uid.length <= 64);
  assert.notEqual(b.uid("1.2.3.4"), uid);
  for (let i = 0; i < 200; i++) {
    const d = a.dayOffset(`p${i}`, -730, -30);
    assert.ok(d >= -730 && d <= -30 && Number.isInteger(d));
  }
  assert.throws(() => new Keys(new Uint8Array(0)));
});

Deno.test("keys and session: a UID maps as HMAC-SHA256 says, whatever the session saw between", () => {
  const salt = new TextEncoder().encode("salt-a");
  // Independently of src/: 2.25. and the decimal of the first 128 bits of HMAC(salt, label NUL uid).
  const expected = (uid: string) =>
    `2.25.${
      BigInt("0x" + createHmac("sha256", salt).update(`dcmtidy/uid\0${uid}`).digest("hex").slice(0, 32))
    }`;
  const keys = new Keys(salt);
  assert.equal(keys.uid("1.2.3.4"), expected("1.2.3.4"));
  const session = openSession(deidConfig(), keys, { hooks: "stub" });
  const series = "1.2.826.0.1.3680043.10.1000.61.1";
  assert.equal(session.uid(series), expected(series));
  // Thousands of UIDs met once (instances), with the series' again and again: each maps the same.
  for (let i = 0; i < 10_000; i++) {
    const instance = `${series}.${i}`;
    assert.equal(session.uid(instance), expected(instance));
    if (i % 997 === 0) assert.equal(session.uid(series), expected(series));
  }
  assert.equal(session.uid(`${series}.0`), expected(`${series}.0`));
  assert.equal(session.uid("1.2.840.10008.1.2.1"), "1.2.840.10008.1.2.1", "a well-known UID is kept");
});

Deno.test("clean: known PHI, dates and IDs leave free text, the rest stays readable", () => {
  const phi = ["Doe^John", "John Doe", "Doe", "John", "12345678", "1937-04-12"];
  assert.equal(
    cleanText("CT head for John Doe, MRN 12345678, born 1937-04-12", phi),
    "CT head for, MRN, born",
  );
  assert.equal(cleanText("follow-up 2021/03/04 ref A1234567", []), "follow-up ref");
  assert.equal(cleanText("T1 MPRAGE sagittal", phi), "T1 MPRAGE sagittal");
});

Deno.test("clean: values are found whatever their case, in ASCII and in Unicode text", () => {
  // The ASCII shortcut must still ignore case.
  assert.equal(removeKnownPHI("ref. DOE, jOhN: ok", ["Doe", "John"]), "ref. , : ok");
  assert.equal(cleanText("for DOE JOHN", ["John Doe", "Doe", "John"]), "for");
  // Non-ASCII text goes through the case-folding expression: the Kelvin sign is a "k".
  assert.equal(removeKnownPHI("Dr \u212Aim said", ["Kim"]), "Dr said");
  assert.equal(removeKnownPHI("Müller^Jürgen read by MÜLLER", ["Müller"]), "^Jürgen read by");
  // Whole words only, and a value that is not there changes nothing.
  assert.equal(removeKnownPHI("T-12000 axial", ["12"]), "T-12000 axial");
  assert.equal(removeKnownPHI("T1 axial", ["Doe"]), "T1 axial");
  // A value removed from between two others can join them into a third: it is removed too.
  assert.equal(cleanText("xAB12CDx", ["12", "AB CD"]), "x x");
});

Deno.test("uids: registry and coding-scheme UIDs are well known, instance UIDs are not", () => {
  assert.ok(isWellKnownUID("1.2.840.10008.5.1.4.1.1.2"));
  assert.ok(isWellKnownUID("2.16.840.1.113883.6.96"));
  assert.ok(!isWellKnownUID("1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"));
});

Deno.test("lookup tables: separators, header rows, and refusals", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dcmtidy-lookup-" });
  try {
    const cases: [string, string][] = [
      ["csv.csv", "old,new\nP1,S1\nP2,S2\n"],
      ["tsv.tsv", "P1\tS1\nP2\tS2\n"],
      ["ws.txt", "# comment\nP1   S1\n\nP2 S2\n"],
    ];
    for (const [name, text] of cases) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
      assert.deepEqual([...(await readLookupTable(`${dir}/${name}`))], [["P1", "S1"], ["P2", "S2"]], name);
    }
    await Deno.writeTextFile(`${dir}/short.csv`, "P1\n");
    await assert.rejects(() => readLookupTable(`${dir}/short.csv`), /needs two values/);
    await assert.rejects(() => readLookupTable(`${dir}/none.csv`), /does not exist/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
