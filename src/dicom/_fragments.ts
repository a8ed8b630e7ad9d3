/**
 * Where encapsulated Pixel Data ends when only its start is in memory (a streamed read): the
 * fragment headers are read one by one from the file, their data is skipped. Private to the file
 * reader (`read_plan.ts`).
 *
 * @module
 */
import { hex } from "./_cursor.ts";
import { DicomReadError } from "./errors.ts";
import { ITEM, SEQUENCE_DELIMITATION, UNDEFINED_LENGTH } from "./model.ts";

/** A byte range a reader step needs from the file; the bytes are sent back into the generator. */
export interface ReadRequest {
  readonly offset: number;
  readonly length: number;
}

/**
 * Find where encapsulated bulk data ends when only its start is in memory, as steps: yields the
 * 8-byte fragment headers it needs (absolute file offsets) and returns the end offset. The file
 * reader drives it with synchronous or asynchronous reads.
 */
export function* encapsulatedEnd(
  start: number,
  fileSize: number,
  littleEndian: boolean,
  file?: string,
): Generator<ReadRequest, number, Uint8Array> {
  let pos = start;
  while (true) {
    if (pos + 8 > fileSize) {
      throw new DicomReadError("truncated", "encapsulated pixel data has no sequence delimitation item", {
        file,
        offset: pos,
      });
    }
    const head = yield { offset: pos, length: 8 };
    if (head.length < 8) {
      throw new DicomReadError("truncated", "the file shrank while it was read", { file, offset: pos });
    }
    const view = new DataView(head.buffer, head.byteOffset, 8);
    const t = ((view.getUint16(0, littleEndian) << 16) | view.getUint16(2, littleEndian)) >>> 0;
    const length = view.getUint32(4, littleEndian);
    if (t === SEQUENCE_DELIMITATION) return pos + 8;
    if (t !== ITEM) {
      throw new DicomReadError("bad-structure", `expected a fragment item (FFFE,E000), found ${hex(t)}`, {
        file,
        offset: pos,
      });
    }
    if (length === UNDEFINED_LENGTH || pos + 8 + length > fileSize) {
      throw new DicomReadError("truncated", `fragment declares ${length} bytes past the end of the file`, {
        file,
        offset: pos,
      });
    }
    pos += 8 + length;
  }
}
