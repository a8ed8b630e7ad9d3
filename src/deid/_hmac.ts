/**
 * HMAC-SHA256 for the short messages keyed pseudonyms, UIDs and date offsets are made of, keyed once
 * with the salt: `@noble/hashes` (audited, in plain JavaScript), whose keyed state is copied for each
 * message into one scratch state kept for it (`_cloneInto`: a fresh clone allocated four buffers, 4 us
 * a MAC against 2 us). A `node:crypto` `createHmac` per value cost about twice as much (12 to 17 us a call
 * against 6 to 9) as a call into the runtime, and a small file asks for one or two fresh MACs. Private
 * to src/deid/; `keys.ts` uses it, and its test checks it against `node:crypto` byte for byte.
 *
 * @module
 */
import { type _HMAC, hmac } from "@noble/hashes/hmac";
import { sha256 } from "@noble/hashes/sha2";

/** HMAC-SHA256 with one key: `mac(message)` gives the 32 bytes `createHmac("sha256", key)` would. */
type Keyed = _HMAC<ReturnType<typeof sha256.create>>;

export class Hmac256 {
  readonly #keyed: Keyed;
  /** Where the keyed state is copied for each message: a clone made anew allocated its buffers each time. */
  readonly #scratch: Keyed;

  constructor(key: Uint8Array) {
    this.#keyed = hmac.create(sha256, key) as unknown as Keyed;
    this.#scratch = this.#keyed.clone();
  }

  /** The MAC of `message`, in a new array of its own. */
  mac(message: Uint8Array): Uint8Array {
    const out = new Uint8Array(32);
    this.#keyed._cloneInto(this.#scratch).update(message).digestInto(out);
    return out;
  }
}
