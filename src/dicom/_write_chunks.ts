/**
 * Writing an encoded file's chunks to an open file: small pieces gathered into few writes, source
 * ranges (Pixel Data left in the input) copied from the input in 1 MiB pieces. Private to
 * `write_file.ts`.
 *
 * @module
 */
import { DicomError, DicomReadError } from "./errors.ts";
import { ReusableBuffer } from "./reusable_buffer.ts";
import { smallBytes } from "../util/bytes.ts";
import type { Chunk } from "./writer.ts";

const COPY_CHUNK = 1024 * 1024;
/** Encoded pieces smaller than this are gathered into one buffer; larger ones are written as they are. */
const GATHER_LIMIT = 64 * 1024;

/**
 * The writes for a list of chunks: runs of small pieces (headers, edited values) gathered into one
 * buffer, so a file is a handful of write calls; large pieces (an unchanged stretch of the input,
 * Pixel Data read into memory) are written from where they are, never copied; source ranges stay
 * ranges.
 */
export function gather(chunks: Chunk[]): Chunk[] {
  const out: Chunk[] = [];
  let run: Uint8Array[] = [];
  let runBytes = 0;
  const close = () => {
    if (run.length === 1) out.push(run[0]);
    else if (run.length > 1) {
      const all = smallBytes(runBytes);
      let at = 0;
      for (const p of run) {
        all.set(p, at);
        at += p.length;
      }
      out.push(all);
    }
    run = [];
    runBytes = 0;
  };
  for (const c of chunks) {
    if (c instanceof Uint8Array && c.length < GATHER_LIMIT) {
      if (c.length === 0) continue;
      if (runBytes + c.length > GATHER_LIMIT) close();
      run.push(c);
      runBytes += c.length;
      continue;
    }
    close();
    out.push(c);
  }
  close();
  return out;
}

async function writeAll(out: Deno.FsFile, bytes: Uint8Array, onWrite?: (b: Uint8Array) => void) {
  onWrite?.(bytes);
  let at = 0;
  while (at < bytes.length) at += await out.write(bytes.subarray(at));
}

function writeAllSync(out: Deno.FsFile, bytes: Uint8Array, onWrite?: (b: Uint8Array) => void) {
  onWrite?.(bytes);
  let at = 0;
  while (at < bytes.length) at += out.writeSync(bytes.subarray(at));
}

/** Write chunks; source ranges are copied from `source` in 1 MiB pieces. Returns bytes written. */
export async function writeChunks(
  out: Deno.FsFile,
  chunks: Chunk[],
  source?: string,
  onWrite?: (b: Uint8Array) => void,
): Promise<number> {
  let total = 0;
  let src: Deno.FsFile | undefined;
  try {
    for (const c of chunks) {
      if (c instanceof Uint8Array) {
        await writeAll(out, c, onWrite);
        total += c.length;
        continue;
      }
      if ("generated" in c) {
        for (const b of c.generated.chunks()) {
          await writeAll(out, b, onWrite);
          total += b.length;
        }
        continue;
      }
      if (!source) throw new DicomError("unsupported", "bulk data without a source file");
      src ??= await Deno.open(source, { read: true });
      const buf = new Uint8Array(Math.min(COPY_CHUNK, c.length));
      let left = c.length;
      await src.seek(c.offset, Deno.SeekMode.Start);
      while (left > 0) {
        const r = await src.read(buf.subarray(0, Math.min(buf.length, left)));
        if (r === null) {
          throw new DicomReadError("truncated", "source file shrank while copying", { file: source });
        }
        await writeAll(out, buf.subarray(0, r), onWrite);
        left -= r;
      }
      total += c.length;
    }
  } finally {
    src?.close();
  }
  return total;
}

/**
 * The blocking writer's copy buffer: nothing else runs in this thread while a blocking write
 * copies, so one buffer serves every file (a new one per file was 512 KB of garbage per CT slice).
 */
const copyBuffer = new ReusableBuffer(COPY_CHUNK);

/** `writeChunks`, blocking. */
export function writeChunksSync(
  out: Deno.FsFile,
  chunks: Chunk[],
  source?: string,
  onWrite?: (b: Uint8Array) => void,
): number {
  let total = 0;
  let src: Deno.FsFile | undefined;
  try {
    for (const c of chunks) {
      if (c instanceof Uint8Array) {
        writeAllSync(out, c, onWrite);
        total += c.length;
        continue;
      }
      if ("generated" in c) {
        for (const b of c.generated.chunks()) {
          writeAllSync(out, b, onWrite);
          total += b.length;
        }
        continue;
      }
      if (!source) throw new DicomError("unsupported", "bulk data without a source file");
      src ??= Deno.openSync(source, { read: true });
      const buf = copyBuffer.take(Math.min(COPY_CHUNK, c.length));
      let left = c.length;
      src.seekSync(c.offset, Deno.SeekMode.Start);
      while (left > 0) {
        const r = src.readSync(buf.subarray(0, Math.min(buf.length, left)));
        if (r === null) {
          throw new DicomReadError("truncated", "source file shrank while copying", { file: source });
        }
        writeAllSync(out, buf.subarray(0, r), onWrite);
        left -= r;
      }
      total += c.length;
    }
  } finally {
    src?.close();
  }
  return total;
}
