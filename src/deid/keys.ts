/**
 * Keyed pseudonyms: everything derived from the salt with HMAC-SHA256, so the same salt gives the
 * same pseudonyms, UIDs and date offsets on every file, run and machine, and nothing can be
 * reversed without the salt. Each use has its own label so values never collide across uses.
 */
import { Memo } from "../util/memo.ts";
import { Hmac256 } from "./_hmac.ts";

/**
 * What a MAC is made of: the label, NUL, part, NUL, part... (a NUL between any two, so no surrogate
 * pair is made across them, and no two lists of parts give one key).
 */
function macKey(label: string, ...parts: string[]): string {
  return [label, ...parts].join("\0");
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function base32(bytes: Uint8Array): string {
  let out = "";
  let bits = 0;
  let acc = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1; // keep only the bits not yet used, so acc never overflows
  }
  if (bits > 0) out += BASE32[(acc << (5 - bits)) & 31];
  return out;
}

const encoder = new TextEncoder();

/** Two hexadecimal digits for each byte value. */
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/**
 * Where `utf8` writes ASCII: one buffer, reused. The MAC's input holds original IDs and UIDs, so it
 * is kept apart from the arrays `smallBytes` shares with what is written out, and it is consumed
 * (hashed) before the next call.
 */
let scratch = new Uint8Array(256);

/**
 * UTF-8 bytes of `text`: ASCII without a call into the runtime (into the reused scratch: valid
 * until the next call), anything else by `TextEncoder`.
 */
function utf8(text: string): Uint8Array {
  if (scratch.length < text.length) scratch = new Uint8Array(Math.max(text.length, scratch.length * 2));
  const out = scratch.subarray(0, text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) return encoder.encode(text);
    out[i] = c;
  }
  return out;
}

/** The keyed functions of one run. Holds the salt; never prints or exposes it. */
export class Keys {
  /** HMAC-SHA256 keyed with the salt (which it keeps only as the key's padded hash states). */
  readonly #hmac: Hmac256;

  /** `salt`: the secret bytes (see `readSalt`), kept private to the instance. Throws when empty. */
  constructor(salt: Uint8Array) {
    if (salt.length === 0) throw new Error("the salt is empty");
    this.#hmac = new Hmac256(salt);
  }

  /**
   * Results by input: a study's files ask for the same patient's pseudonym and offset again and
   * again. Bounded: 1,024 kept, the rest for a few files (see `Memo` and `formsCache`).
   */
  readonly #memo = new Memo<string, Uint8Array>(1024);

  /** `#macOf`, remembered (see `#memo`). */
  #mac(label: string, ...parts: string[]): Uint8Array {
    const key = macKey(label, ...parts);
    const known = this.#memo.get(key);
    if (known) return known;
    const mac = this.#macOf(key);
    this.#memo.set(key, mac);
    return mac;
  }

  /** HMAC over a `macKey` in UTF-8. */
  #macOf(key: string): Uint8Array {
    return this.#hmac.mac(utf8(key));
  }

  /** prefix + `length` base32 characters of HMAC(issuer, id). */
  pseudonym(issuer: string, id: string, prefix: string, length: number): string {
    return prefix + base32(this.#mac("dcmtidy/patient", issuer, id)).slice(0, length);
  }

  /** `2.25.` + the decimal of 128 bits of HMAC(uid): a valid UID of at most 44 characters. */
  uid(original: string): string {
    // Not remembered here: most UIDs come once (an instance's), and the session remembers those that
    // come again (see `DeidSession.uid`).
    const mac = this.#macOf(macKey("dcmtidy/uid", original));
    let hex = "0x";
    for (let i = 0; i < 16; i++) hex += HEX[mac[i]];
    return `2.25.${BigInt(hex)}`;
  }

  /** A day offset in [min, max] for a patient (uniform enough: a 48-bit value modulo the range). */
  dayOffset(patientKey: string, min: number, max: number): number {
    const mac = this.#mac("dcmtidy/dates", patientKey);
    let n = 0;
    for (const b of mac.subarray(0, 6)) n = n * 256 + b;
    return min + (n % (max - min + 1));
  }

  /** A keyed hash of a text value (the `hash` action): 16 base32 characters. */
  hashValue(value: string): string {
    return base32(this.#mac("dcmtidy/value", value)).slice(0, 16);
  }

  /**
   * Tells whether two runs used the same salt and nothing else: a keyed hash of a fixed label, never
   * the salt or a plain hash of it.
   */
  fingerprint(): string {
    return this.hashValue("dcmtidy/salt-fingerprint");
  }

  /**
   * 32 bytes derived from the salt for `purpose` (HMAC): a key for what only holders of the salt may
   * read, such as a scan part's original values. Never the salt, and other for every purpose.
   */
  derivedKey(purpose: string): Uint8Array {
    return this.#mac("dcmtidy/derived-key", purpose).slice();
  }
}
