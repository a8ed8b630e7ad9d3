/**
 * The codecs keep the sandbox as tight as it was: a worker without any read permission decodes
 * when the main thread hands it the WebAssembly bytes, and without them it is refused (it cannot
 * read the module cache), with a message that says so, never a crash.
 *
 * @module
 */
import assert from "node:assert/strict";
import { encodeFrame, prepareEncoder } from "../src/pixels/encode.ts";
import type { PixelFormat } from "../src/pixels/format.ts";
import { codecBinaries } from "../src/pixels/wasm.ts";
import { askSandboxedWorker } from "./helpers.ts";

const FMT: PixelFormat = {
  rows: 16,
  columns: 24,
  samplesPerPixel: 1,
  bitsAllocated: 16,
  bitsStored: 12,
  highBit: 11,
  signed: false,
  photometric: "MONOCHROME2",
  planar: 0,
  frames: 1,
};

function decodeInWorker(
  codestream: Uint8Array,
  codecs?: unknown,
): Promise<{ ok: boolean; bytes?: Uint8Array; error?: string }> {
  return askSandboxedWorker(new URL("./fixtures/codec_worker.ts", import.meta.url), {
    codecs,
    codestream,
    fmt: FMT,
  });
}

Deno.test("sandbox: a worker that may read nothing decodes with the codec bytes it is handed, and is refused without", async () => {
  const samples = new Uint16Array(FMT.rows * FMT.columns).map((_, i) => (i * 37) % 4096);
  const plain = new Uint8Array(samples.buffer);
  await prepareEncoder("jpeg-ls");
  const codestream = encodeFrame("jpeg-ls", plain, FMT);

  const given = await decodeInWorker(codestream, await codecBinaries());
  assert.ok(given.ok, given.error);
  assert.deepEqual(given.bytes, plain);

  const none = await decodeInWorker(codestream);
  assert.equal(none.ok, false);
  assert.match(
    none.error!,
    /PixelError: the charls codec's WebAssembly could not be read .*Requires read access/,
  );
  assert.match(none.error!, /a sandboxed worker must be handed the bytes/);
});
