/**
 * The parser's view of one buffer: bounded reads of tags and lengths, and errors that name the
 * file and the byte offset. Private to the reader (`reader.ts`, `_parse.ts`, `_meta.ts`).
 *
 * @module
 */
import { type DicomErrorCode, DicomReadError } from "./errors.ts";

/** Read state for one buffer in one encoding. */
export interface Ctx {
  readonly src: Uint8Array;
  readonly view: DataView;
  readonly file?: string;
  /** Added to offsets in messages (the file offset of `src[0]`). */
  readonly base: number;
  /** Appended to messages about positions that are not file offsets (inflated data). */
  readonly where: string;
}

export function makeCtx(src: Uint8Array, file: string | undefined, base = 0, where = ""): Ctx {
  return { src, view: new DataView(src.buffer, src.byteOffset, src.byteLength), file, base, where };
}

export function fail(ctx: Ctx, code: DicomErrorCode, at: number, message: string): never {
  throw new DicomReadError(code, message + ctx.where, { file: ctx.file, offset: ctx.base + at });
}

export function need(ctx: Ctx, at: number, n: number, limit: number, what: string): void {
  if (at + n > limit) {
    fail(ctx, "truncated", at, `${what} needs ${n} bytes but only ${Math.max(0, limit - at)} remain`);
  }
}

export function u16(ctx: Ctx, at: number, le: boolean): number {
  return ctx.view.getUint16(at, le);
}

export function u32(ctx: Ctx, at: number, le: boolean): number {
  return ctx.view.getUint32(at, le);
}

export function readTag(ctx: Ctx, at: number, le: boolean): number {
  return ((u16(ctx, at, le) << 16) | u16(ctx, at + 2, le)) >>> 0;
}

/** `(GGGG,EEEE)`, upper case, for messages. */
export function hex(tag: number): string {
  const h = tag.toString(16).toUpperCase().padStart(8, "0");
  return `(${h.slice(0, 4)},${h.slice(4)})`;
}
