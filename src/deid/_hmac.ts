/**
 * HMAC-SHA256 in JavaScript, for the short messages keyed pseudonyms and UIDs are made of: the
 * key's inner and outer states are computed once, so each MAC is a few compression rounds with
 * no call into the runtime (`node:crypto`'s `createHmac` cost about as much per call as the rest
 * of a small file's de-identification of UIDs). Private to src/deid/; `keys.ts` uses it, and its
 * test checks it against `node:crypto` byte for byte.
 *
 * @module
 */

const K = new Int32Array(
  new Uint32Array([
    0x428a2f98,
    0x71374491,
    0xb5c0fbcf,
    0xe9b5dba5,
    0x3956c25b,
    0x59f111f1,
    0x923f82a4,
    0xab1c5ed5,
    0xd807aa98,
    0x12835b01,
    0x243185be,
    0x550c7dc3,
    0x72be5d74,
    0x80deb1fe,
    0x9bdc06a7,
    0xc19bf174,
    0xe49b69c1,
    0xefbe4786,
    0x0fc19dc6,
    0x240ca1cc,
    0x2de92c6f,
    0x4a7484aa,
    0x5cb0a9dc,
    0x76f988da,
    0x983e5152,
    0xa831c66d,
    0xb00327c8,
    0xbf597fc7,
    0xc6e00bf3,
    0xd5a79147,
    0x06ca6351,
    0x14292967,
    0x27b70a85,
    0x2e1b2138,
    0x4d2c6dfc,
    0x53380d13,
    0x650a7354,
    0x766a0abb,
    0x81c2c92e,
    0x92722c85,
    0xa2bfe8a1,
    0xa81a664b,
    0xc24b8b70,
    0xc76c51a3,
    0xd192e819,
    0xd6990624,
    0xf40e3585,
    0x106aa070,
    0x19a4c116,
    0x1e376c08,
    0x2748774c,
    0x34b0bcb5,
    0x391c0cb3,
    0x4ed8aa4a,
    0x5b9cca4f,
    0x682e6ff3,
    0x748f82ee,
    0x78a5636f,
    0x84c87814,
    0x8cc70208,
    0x90befffa,
    0xa4506ceb,
    0xbef9a3f7,
    0xc67178f2,
  ]).buffer,
);

const INITIAL = new Int32Array(
  new Uint32Array([
    0x6a09e667,
    0xbb67ae85,
    0x3c6ef372,
    0xa54ff53a,
    0x510e527f,
    0x9b05688c,
    0x1f83d9ab,
    0x5be0cd19,
  ]).buffer,
);

/** The message schedule, reused: one thread computes one block at a time. */
const W = new Int32Array(64);

/** One compression of the 64-byte block at `at` of `data` into `state`. */
function compress(state: Int32Array, data: Uint8Array, at: number): void {
  for (let i = 0; i < 16; i++) {
    const j = at + i * 4;
    W[i] = (data[j] << 24) | (data[j + 1] << 16) | (data[j + 2] << 8) | data[j + 3];
  }
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15];
    const w2 = W[i - 2];
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
  }
  let a = state[0], b = state[1], c = state[2], d = state[3];
  let e = state[4], f = state[5], g = state[6], h = state[7];
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + S1 + ch + K[i] + W[i]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0] + a) | 0;
  state[1] = (state[1] + b) | 0;
  state[2] = (state[2] + c) | 0;
  state[3] = (state[3] + d) | 0;
  state[4] = (state[4] + e) | 0;
  state[5] = (state[5] + f) | 0;
  state[6] = (state[6] + g) | 0;
  state[7] = (state[7] + h) | 0;
}

/**
 * SHA-256 of `message`, continuing from `state` after `prefixBytes` bytes already compressed (a
 * multiple of 64); `state` is left as it was.
 */
function finish(start: Int32Array, prefixBytes: number, message: Uint8Array): Uint8Array {
  const state = start.slice();
  const full = message.length - (message.length % 64);
  for (let at = 0; at < full; at += 64) compress(state, message, at);
  const rest = message.length - full;
  const tail = new Uint8Array(rest < 56 ? 64 : 128);
  tail.set(message.subarray(full));
  tail[rest] = 0x80;
  const bits = (prefixBytes + message.length) * 8;
  const view = new DataView(tail.buffer);
  view.setUint32(tail.length - 8, Math.floor(bits / 0x100000000));
  view.setUint32(tail.length - 4, bits >>> 0);
  for (let at = 0; at < tail.length; at += 64) compress(state, tail, at);
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) ov.setInt32(i * 4, state[i]);
  return out;
}

/** SHA-256 of `message`. */
export function sha256(message: Uint8Array): Uint8Array {
  return finish(INITIAL, 0, message);
}

/** HMAC-SHA256 with one key: `mac(message)` gives the 32 bytes `createHmac("sha256", key)` would. */
export class Hmac256 {
  readonly #inner: Int32Array;
  readonly #outer: Int32Array;

  constructor(key: Uint8Array) {
    const k = new Uint8Array(64);
    k.set(key.length > 64 ? sha256(key) : key);
    const pad = new Uint8Array(64);
    this.#inner = INITIAL.slice();
    for (let i = 0; i < 64; i++) pad[i] = k[i] ^ 0x36;
    compress(this.#inner, pad, 0);
    this.#outer = INITIAL.slice();
    for (let i = 0; i < 64; i++) pad[i] = k[i] ^ 0x5c;
    compress(this.#outer, pad, 0);
  }

  /** The MAC of `message`. */
  mac(message: Uint8Array): Uint8Array {
    return finish(this.#outer, 64, finish(this.#inner, 64, message));
  }
}
