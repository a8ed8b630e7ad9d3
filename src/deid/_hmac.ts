/**
 * HMAC-SHA256 for the short messages keyed pseudonyms, UIDs and date offsets are made of, keyed once
 * with the salt: `@noble/hashes` (audited, in plain JavaScript), whose keyed state is cloned for each
 * message. A `node:crypto` `createHmac` per value cost about twice as much (12 to 17 us a call
 * against 6 to 9) as a call into the runtime, and a small file asks for one or two fresh MACs. Private
 * to src/deid/; `keys.ts` uses it, and its test checks it against `node:crypto` byte for byte.
 *
 * @module
 */
import { hmac } from "@noble/hashes/hmac";
import { sha256 } from "@noble/hashes/sha2";

/** HMAC-SHA256 with one key: `mac(message)` gives the 32 bytes `createHmac("sha256", key)` would. */
export class Hmac256 {
  readonly #keyed: ReturnType<typeof hmac.create>;

  constructor(key: Uint8Array) {
    this.#keyed = hmac.create(sha256, key);
  }

  /** The MAC of `message`. */
  mac(message: Uint8Array): Uint8Array {
    return this.#keyed.clone().update(message).digest();
  }
}
