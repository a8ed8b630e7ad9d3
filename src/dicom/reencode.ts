/**
 * Re-encoding a data set tree for another encoding (implicit or big endian to explicit VR little
 * endian, and back): every element is marked to be written anew, binary values are byte-swapped
 * when the byte order changes. Items of a UN value keep their own (implicit little endian)
 * encoding, as PS3.5 6.2.2 requires. Bulk data left in the source file must be replaced by a
 * value first (`Element.generated`).
 *
 * @module
 */
import { DicomError } from "./errors.ts";
import type { DataSet, Element, Encoding, Item } from "./model.ts";
import { valueBytes } from "./values.ts";
import { NUMBER_VRS } from "./vr.ts";
import { swapBytes } from "../util/bytes.ts";

function reencodeElement(el: Element, from: Encoding, to: Encoding, parent: DataSet): Element {
  if (el.items) {
    const own = el.itemsEncoding;
    const itemEnc = own ?? to;
    const items: Item[] = el.items.map((it) => ({
      length: it.length,
      dataset: reencodeDataSet(it.dataset, own ?? from, itemEnc, parent),
    }));
    return { tag: el.tag, vr: el.vr, length: el.length, items, itemsEncoding: own, dirty: true };
  }
  if (el.generated) return { ...el, span: undefined, dirty: true };
  const bytes = valueBytes(el);
  if (!bytes) {
    throw new DicomError(
      "unsupported",
      `element ${el.tag.toString(16).padStart(8, "0")} has its value in the source file: replace it first`,
    );
  }
  const size = NUMBER_VRS[el.vr]?.size ?? 1;
  const value = from.littleEndian === to.littleEndian || el.encapsulated
    ? bytes.slice()
    : swapBytes(bytes, size);
  return {
    tag: el.tag,
    vr: el.vr,
    length: value.length,
    value,
    encapsulated: el.encapsulated,
    dirty: true,
  };
}

/**
 * A copy of `ds` encoded as `to` (`from`: its present encoding). Elements are written anew; values
 * are swapped to the new byte order; the VRs are the ones read or looked up.
 */
export function reencodeDataSet(ds: DataSet, from: Encoding, to: Encoding, parent?: DataSet): DataSet {
  const out: DataSet = { elements: [], encoding: to, parent, modified: true };
  out.elements = ds.elements.map((el) => reencodeElement(el, from, to, out));
  return out;
}
