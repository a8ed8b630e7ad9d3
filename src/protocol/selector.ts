/**
 * Tag selectors in protocols: a keyword (`PatientName`), a tag (`(0010,0010)`), a repeating group
 * or private block with `x` wildcards (`(60xx,4000)`, `(0019,xx0C)`), or a private element by its
 * creator (`(0029,"SIEMENS CSA HEADER",10)`), which matches whatever block the creator got.
 */
import { lookupTag, parseTag, suggestKeywords, tagForKeyword } from "../standard/dictionary.ts";
import { SelectorError } from "./errors.ts";

/** A parsed selector. */
export type Selector =
  | { readonly kind: "tag"; readonly text: string; readonly tag: number }
  | { readonly kind: "mask"; readonly text: string; readonly value: number; readonly mask: number }
  | {
    readonly kind: "private";
    readonly text: string;
    readonly group: number;
    readonly creator: string;
    /** The element's low byte (its offset within the creator's block). */
    readonly element: number;
  };

const MASKED = /^\(([0-9A-Fa-fxX]{4}),([0-9A-Fa-fxX]{4})\)$/;
const PRIVATE = /^\(([0-9A-Fa-f]{4}),\s*"([^"]+)"\s*,\s*([0-9A-Fa-f]{2})\)$/;

/** Parse a selector as written in a protocol's `tags:`. */
export function parseSelector(text: string): Selector {
  const t = text.trim();
  const exact = parseTag(t);
  if (exact !== undefined) return { kind: "tag", text, tag: exact };
  const priv = t.match(PRIVATE);
  if (priv) {
    const group = parseInt(priv[1], 16);
    if (group % 2 === 0) throw new SelectorError(`"${text}": private creators only exist in odd groups`);
    return { kind: "private", text, group, creator: priv[2].trim(), element: parseInt(priv[3], 16) };
  }
  const masked = t.match(MASKED);
  if (masked) {
    const hex = masked[1] + masked[2];
    let value = 0;
    let mask = 0;
    for (const c of hex) {
      const wild = c === "x" || c === "X";
      value = value * 16 + (wild ? 0 : parseInt(c, 16));
      mask = mask * 16 + (wild ? 0 : 15);
    }
    return { kind: "mask", text, value: value >>> 0, mask: mask >>> 0 };
  }
  if (/^[A-Za-z][A-Za-z0-9]*$/.test(t)) {
    const tag = tagForKeyword(t);
    if (tag !== undefined) return { kind: "tag", text, tag };
    const hints = suggestKeywords(t, 3);
    throw new SelectorError(
      `"${t}" is not a DICOM keyword` +
        (hints.length ? ` (did you mean ${hints.map((h) => `"${h}"`).join(", ")}?)` : ""),
    );
  }
  throw new SelectorError(
    `"${text}" is not a tag selector: use a keyword, (gggg,eeee), (60xx,4000) or (gggg,"CREATOR",ee)`,
  );
}

/** Whether a selector picks an element (its private creator is needed for creator selectors). */
export function selects(sel: Selector, tag: number, privateCreator?: string): boolean {
  switch (sel.kind) {
    case "tag":
      return sel.tag === tag;
    case "mask":
      return ((tag & sel.mask) >>> 0) === sel.value;
    case "private":
      return tag >>> 16 === sel.group && (tag & 0xff) === sel.element && (tag & 0xff00) >= 0x1000 &&
        privateCreator?.trim() === sel.creator;
  }
}

/** The VRs an element picked by the selector can have, when the dictionary knows (for action checks). */
export function selectorVRs(sel: Selector): readonly string[] | undefined {
  if (sel.kind === "tag") return lookupTag(sel.tag)?.vrs;
  if (sel.kind === "mask") return lookupTag(sel.value)?.vrs;
  return undefined;
}
