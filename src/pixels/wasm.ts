/**
 * The WebAssembly codecs from npm (cornerstone's builds of CharLS, OpenJPEG, OpenJPH and
 * libjpeg-turbo), instantiated once per thread. A sandboxed worker may not read the module cache:
 * the main thread reads the `.wasm` bytes (`codecBinaries`) and hands them over
 * (`provideCodecBinaries`), so the codecs load without any read permission of their own.
 *
 * @module
 */
import { PixelError } from "./errors.ts";

/** The WebAssembly codecs. */
export type WasmCodec = "charls" | "openjpeg" | "openjph" | "libjpeg-turbo";

/** Every codec, for `codecBinaries`. */
export const WASM_CODECS: readonly WasmCodec[] = ["charls", "openjpeg", "openjph", "libjpeg-turbo"];

/** The `.wasm` file of each codec, as a specifier resolved through deno.json's imports. */
function wasmUrl(codec: WasmCodec): URL {
  switch (codec) {
    case "charls":
      return new URL(import.meta.resolve("@cornerstonejs/codec-charls/wasm"));
    case "openjpeg":
      return new URL(import.meta.resolve("@cornerstonejs/codec-openjpeg/decodewasm"));
    case "openjph":
      return new URL(import.meta.resolve("@cornerstonejs/codec-openjph/wasm"));
    case "libjpeg-turbo":
      return new URL(import.meta.resolve("@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasm"));
  }
}

type Factory = (opts: {
  wasmBinary: Uint8Array;
  print: (s: string) => void;
  printErr: (s: string) => void;
  // deno-lint-ignore no-explicit-any
}) => Promise<any>;

/** The last line each codec printed as an error (OpenJPEG reports its reasons that way). */
const lastError = new Map<WasmCodec, string>();

/** Keep the first error line a codec prints (OpenJPEG prints its reasons, and info besides). */
function note(codec: WasmCodec, line: string): void {
  if (/^\[ERROR\]/.test(line) && !lastError.has(codec)) lastError.set(codec, line.slice(7).trim());
}

/** What a codec last reported as an error, cleared by reading it. */
export function takeCodecError(codec: WasmCodec): string | undefined {
  const e = lastError.get(codec);
  lastError.delete(codec);
  return e;
}

/** The Emscripten factory of each codec (its JavaScript glue, loaded on first use). */
async function factory(codec: WasmCodec): Promise<Factory> {
  switch (codec) {
    case "charls":
      return (await import("@cornerstonejs/codec-charls/wasmjs")).default;
    case "openjpeg":
      return (await import("@cornerstonejs/codec-openjpeg/decodewasmjs")).default;
    case "openjph":
      return (await import("@cornerstonejs/codec-openjph/wasmjs")).default;
    case "libjpeg-turbo":
      return (await import("@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs")).default;
  }
}

const provided = new Map<WasmCodec, Uint8Array>();
// deno-lint-ignore no-explicit-any
const loaded = new Map<WasmCodec, Promise<any>>();

/** Read every codec's `.wasm` bytes (about 1.3 MB), to hand to workers. */
export async function codecBinaries(): Promise<Record<WasmCodec, Uint8Array>> {
  const out = {} as Record<WasmCodec, Uint8Array>;
  for (const c of WASM_CODECS) out[c] = await Deno.readFile(wasmUrl(c));
  return out;
}

/** Give this thread the codecs' bytes (a worker calls it with what `codecBinaries` read). */
export function provideCodecBinaries(binaries: Partial<Record<WasmCodec, Uint8Array>>): void {
  for (const c of WASM_CODECS) {
    const b = binaries[c];
    if (b) provided.set(c, b);
  }
}

/**
 * The instantiated codec module, loaded once per thread: from the bytes provided, or read from
 * the module cache. A thread that may not read it and was given no bytes gets a `PixelError`.
 */
// deno-lint-ignore no-explicit-any
export function loadCodec(codec: WasmCodec): Promise<any> {
  let p = loaded.get(codec);
  if (!p) {
    p = (async () => {
      let bytes = provided.get(codec);
      if (!bytes) {
        try {
          bytes = await Deno.readFile(wasmUrl(codec));
        } catch (e) {
          throw new PixelError(
            `the ${codec} codec's WebAssembly could not be read (${(e as Error).message}); ` +
              "a sandboxed worker must be handed the bytes by the main thread",
          );
        }
      }
      return (await factory(codec))({
        wasmBinary: bytes,
        print: (line) => note(codec, line),
        printErr: (line) => note(codec, line),
      });
    })();
    p.catch(() => loaded.delete(codec));
    loaded.set(codec, p);
  }
  return p;
}

/** The codec module if this thread has loaded it already (the decoders are synchronous). */
// deno-lint-ignore no-explicit-any
const ready = new Map<WasmCodec, any>();

/** Load the codecs a coding needs before decoding synchronously. */
export async function prepareCodec(codec: WasmCodec): Promise<void> {
  if (!ready.has(codec)) ready.set(codec, await loadCodec(codec));
}

/** A loaded codec module; throws when `prepareCodec` was not awaited first. */
// deno-lint-ignore no-explicit-any
export function codecModule(codec: WasmCodec): any {
  const m = ready.get(codec);
  if (!m) throw new Error(`codec ${codec} used before prepareCodec`);
  return m;
}
