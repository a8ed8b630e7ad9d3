/**
 * The one walk over a data set tree: every element of every item of every sequence, depth first in
 * file order, each with where it is (its path and the data set that holds it) and, for a private
 * element, the private creator of its block.
 *
 * @module
 */
import { formatTag, lookupTag } from "../standard/dictionary.ts";
import { type DataSet, type Element, isPrivateCreator, isPrivateTag } from "./model.ts";
import { decodeStrings } from "./values.ts";

/** What `walk` tells the visitor about where an element is. */
export interface WalkContext {
  /** The data set the element is in (the top level or an item): where to edit or remove it. */
  readonly dataset: DataSet;
  /**
   * Where the element is, e.g. `RequestAttributesSequence[0].PatientName`: the keyword of each
   * standard element, `(gggg,eeee)` for private and unknown ones, `[i]` for each enclosing item, and
   * `#n` after the name of the n-th (n >= 2) element with the same tag in one data set (malformed,
   * but read). The same path `flattenDataSet` lists and `parsePath` reads (without `#n`).
   */
  readonly path: string;
  /** 0 at the top level, 1 inside the items of a top-level sequence, ... */
  readonly depth: number;
  /** The element's position in `dataset.elements` when it is visited. */
  readonly index: number;
  /**
   * For a private element (a creator included), the creator string of its block, as
   * `privateCreatorOf` gives it; undefined for standard elements and for a private element whose
   * block has no creator element.
   */
  readonly privateCreator?: string;
}

/** What a visitor returns: nothing to go on, "skip" to not go into the element's items, "remove" to delete it. */
export type WalkVerdict = void | "skip" | "remove";

/** The private creator that owns a private element, from its block's (gggg,00xx) element. */
export function privateCreatorOf(ds: DataSet, tag: number): string | undefined {
  if (!isPrivateTag(tag)) return undefined;
  const group = tag >>> 16;
  const block = isPrivateCreator(tag) ? tag & 0xff : (tag >>> 8) & 0xff;
  if (block < 0x10) return undefined;
  const creator = ds.elements.find((e) => e.tag === ((group << 16) | block) >>> 0);
  return creator ? (decodeStrings(creator, ds)[0] ?? "") : undefined;
}

/** The name of an element in a path: its keyword, or `(gggg,eeee)` when private or unknown. */
export function elementName(tag: number): string {
  return isPrivateTag(tag) ? formatTag(tag) : lookupTag(tag)?.keyword ?? formatTag(tag);
}

/**
 * Visit every element, depth first in file order, going into every item of every sequence after the
 * sequence itself. Return "skip" to not go into an element's items, or "remove" to delete it from
 * its data set (the data set is marked modified). `prefix` and `depth` are where `ds` is, for a walk
 * that starts inside an item.
 *
 * @example Find every person name, at any depth, with where it is
 * ```ts
 * import { readDicomFile } from "./read_file.ts";
 * import { decodeStrings } from "./values.ts";
 * import { walk } from "./walk.ts";
 *
 * async function personNames(file: string): Promise<string[]> {
 *   const { dataset } = await readDicomFile(file);
 *   const found: string[] = [];
 *   walk(dataset, (el, { dataset: owner, path }) => {
 *     if (el.vr === "PN") found.push(`${path}: ${decodeStrings(el, owner).join("\\")}`);
 *   });
 *   return found;
 * }
 * ```
 *
 * @example Remove the elements of one private creator and skip sequences' insides
 * ```ts
 * import type { DataSet } from "./model.ts";
 * import { walk } from "./walk.ts";
 *
 * function dropCreator(dataset: DataSet, creator: string): void {
 *   walk(dataset, (el, ctx) => {
 *     if (ctx.privateCreator === creator) return "remove";
 *     if (el.vr === "SQ" && ctx.depth >= 2) return "skip";
 *   });
 * }
 * ```
 */
export function walk(
  ds: DataSet,
  visit: (el: Element, ctx: WalkContext) => WalkVerdict,
  prefix = "",
  depth = 0,
): void {
  walkIn(ds, visit, undefined, 0, prefix, depth);
}

/**
 * Where a visited element is, its path and private creator made only when asked for: most visitors
 * need the owning data set alone, and naming every element (a dictionary look-up and a string
 * each) would cost them more than the rest of the walk.
 */
class Place implements WalkContext {
  #path?: string;
  constructor(
    readonly dataset: DataSet,
    readonly depth: number,
    readonly index: number,
    private readonly el: Element,
    private readonly nth: number,
    private readonly parent: Place | undefined,
    private readonly item: number,
    private readonly prefix: string,
  ) {}

  get path(): string {
    if (this.#path !== undefined) return this.#path;
    const name = `${elementName(this.el.tag)}${this.nth > 1 ? `#${this.nth}` : ""}`;
    const prefix = this.parent ? `${this.parent.path}[${this.item}]` : this.prefix;
    return (this.#path = prefix ? `${prefix}.${name}` : name);
  }

  get privateCreator(): string | undefined {
    return privateCreatorOf(this.dataset, this.el.tag);
  }
}

function walkIn(
  ds: DataSet,
  visit: (el: Element, ctx: WalkContext) => WalkVerdict,
  parent: Place | undefined,
  item: number,
  prefix: string,
  depth: number,
): void {
  const seen = new Map<number, number>();
  for (let i = 0; i < ds.elements.length; i++) {
    const el = ds.elements[i];
    const n = (seen.get(el.tag) ?? 0) + 1;
    seen.set(el.tag, n);
    const place = new Place(ds, depth, i, el, n, parent, item, prefix);
    const verdict = visit(el, place);
    if (verdict === "remove") {
      ds.elements.splice(i--, 1);
      ds.modified = true;
      continue;
    }
    if (verdict === "skip" || !el.items) continue;
    el.items.forEach((it, k) => walkIn(it.dataset, visit, place, k, "", depth + 1));
  }
}
