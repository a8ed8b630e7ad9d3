/**
 * Which `deidentify.pixels` rules hold for a file, and the regions they blank in its pixel
 * coordinates: read from the original header (before de-identification changes it). Rectangles
 * with a negative x or y count from the right or bottom edge and are clipped to the image; `keep:
 * ultrasound-regions` keeps the rectangles of SequenceOfUltrasoundRegions.
 *
 * @module
 */
import type { DataSet, Element } from "../dicom/model.ts";
import { decodeNumbers, decodeStrings } from "../dicom/values.ts";
import { NUMBER_VRS } from "../dicom/vr.ts";
import type { Rect } from "../pixels/blank.ts";
import { firstNumber } from "../pixels/format.ts";
import type { PixelCondition, PixelRule } from "../protocol/pixel_rules.ts";
import { tags } from "../standard/tags.ts";

/** What the rules say for one file. */
export interface PixelMatch {
  /** The rules that hold, in protocol order. */
  readonly rules: readonly string[];
  /** The regions to fill, clipped to the image, each rule's kept regions already taken out. */
  readonly regions: readonly Rect[];
  /** The ultrasound regions rules keep (for messages: `regions` leave them out already). */
  readonly keep: readonly Rect[];
  /** A rule's rectangle that lies outside the image (the rule was written for another size). */
  readonly outside: readonly string[];
}

function values(ds: DataSet, el: Element): string[] {
  if (el.items) return [];
  if (NUMBER_VRS[el.vr] && el.vr !== "OW") return (decodeNumbers(el, ds) as (number | bigint)[]).map(String);
  return decodeStrings(el, ds).map((v) => v.trim());
}

function holds(ds: DataSet, c: PixelCondition): boolean {
  const el = ds.elements.find((e) => e.tag === c.tag);
  const t = c.test;
  if ("present" in t) return (el !== undefined) === t.present;
  if (!el) return false;
  const vs = values(ds, el);
  if ("equals" in t) {
    return t.equals.some((want) =>
      vs.some((v) =>
        typeof want === "number"
          ? v !== "" && Number(v) === want
          : v.toLowerCase() === want.trim().toLowerCase()
      )
    );
  }
  const whole = vs.join("\\");
  if ("contains" in t) return whole.toLowerCase().includes(t.contains.toLowerCase());
  return new RegExp(t.matches, "i").test(whole);
}

/** Clip a rectangle to the image; undefined when nothing of it is inside. */
function clip(x: number, y: number, w: number, h: number, columns: number, rows: number): Rect | undefined {
  const x0 = Math.max(0, x), y0 = Math.max(0, y);
  const x1 = Math.min(columns, x + w), y1 = Math.min(rows, y + h);
  return x1 > x0 && y1 > y0 ? { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } : undefined;
}

/** The rectangles of SequenceOfUltrasoundRegions (RegionLocationMinX0 ... MaxY1, inclusive). */
export function ultrasoundRegions(ds: DataSet): Rect[] {
  const seq = ds.elements.find((e) => e.tag === tags.SequenceOfUltrasoundRegions);
  const out: Rect[] = [];
  for (const item of seq?.items ?? []) {
    const [x0, y0, x1, y1] = [
      tags.RegionLocationMinX0,
      tags.RegionLocationMinY0,
      tags.RegionLocationMaxX1,
      tags.RegionLocationMaxY1,
    ].map((t) => firstNumber(item.dataset, t));
    if ([x0, y0, x1, y1].every((v) => v !== undefined && Number.isFinite(v)) && x1! >= x0! && y1! >= y0!) {
      out.push({ x: x0!, y: y0!, width: x1! - x0! + 1, height: y1! - y0! + 1 });
    }
  }
  return out;
}

/**
 * The rules of `rules` that hold for the (original) top-level data set `ds`, and their regions;
 * undefined when none holds.
 */
export function matchPixelRules(ds: DataSet, rules: readonly PixelRule[]): PixelMatch | undefined {
  // No pixels, nothing to blank (an SR or a presentation state a rule's conditions happen to fit).
  if (!ds.elements.some((e) => e.tag === tags.PixelData)) return undefined;
  const matched = rules.filter((r) => r.when.every((c) => holds(ds, c)));
  if (matched.length === 0) return undefined;
  const columns = firstNumber(ds, tags.Columns) ?? 0;
  const rows = firstNumber(ds, tags.Rows) ?? 0;
  const regions: Rect[] = [];
  const outside: string[] = [];
  const keep: Rect[] = [];
  const us = matched.some((r) => r.keepUltrasoundRegions)
    ? ultrasoundRegions(ds).map((k) => clip(k.x, k.y, k.width, k.height, columns, rows)).filter((k) =>
      k !== undefined
    )
    : [];
  for (const r of matched) {
    const own: Rect[] = [];
    if (r.blank === "all") own.push({ x: 0, y: 0, width: columns, height: rows });
    else {
      for (const [x, y, w, h] of r.blank) {
        const c = clip(x < 0 ? columns + x : x, y < 0 ? rows + y : y, w, h, columns, rows);
        if (c) own.push(c);
        else outside.push(`${r.name}: [${x}, ${y}, ${w}, ${h}] lies outside the ${columns}x${rows} image`);
      }
    }
    // A rule's `keep` limits its own regions only: another rule's rectangle is blanked whatever it keeps.
    const kept = r.keepUltrasoundRegions ? us : [];
    for (const k of kept) if (!keep.some((o) => same(o, k))) keep.push(k);
    for (const rect of own.flatMap((o) => subtract(o, kept))) {
      if (!regions.some((o) => same(o, rect))) regions.push(rect);
    }
  }
  return { rules: matched.map((r) => r.name), regions, keep, outside };
}

const same = (a: Rect, b: Rect) => a.x === b.x && a.y === b.y && a.width === b.width && a.height === b.height;

/**
 * `rect` minus the `holes`, as rectangles: the grid their edges make, cells outside every hole,
 * runs of cells along a band joined.
 */
export function subtract(rect: Rect, holes: readonly Rect[]): Rect[] {
  if (holes.length === 0) return [rect];
  const x1 = rect.x + rect.width, y1 = rect.y + rect.height;
  const cut = (vs: number[], lo: number, hi: number) =>
    [...new Set([lo, hi, ...vs.filter((v) => v > lo && v < hi)])].sort((a, b) => a - b);
  const xs = cut(holes.flatMap((h) => [h.x, h.x + h.width]), rect.x, x1);
  const ys = cut(holes.flatMap((h) => [h.y, h.y + h.height]), rect.y, y1);
  const inHole = (x: number, y: number) =>
    holes.some((h) => x >= h.x && x < h.x + h.width && y >= h.y && y < h.y + h.height);
  const out: Rect[] = [];
  for (let j = 0; j + 1 < ys.length; j++) {
    let run: Rect | undefined;
    for (let i = 0; i + 1 < xs.length; i++) {
      const free = !inHole(xs[i], ys[j]);
      if (free && run) run = { ...run, width: xs[i + 1] - run.x };
      else if (free) run = { x: xs[i], y: ys[j], width: xs[i + 1] - xs[i], height: ys[j + 1] - ys[j] };
      else if (run) {
        out.push(run);
        run = undefined;
      }
    }
    if (run) out.push(run);
  }
  return out;
}

/** What pixel rules look at in a file: for messages, and for the rule `plan` proposes. */
export interface Device {
  /** "Modality US, Manufacturer ACME, ManufacturerModelName SONO 5, 640x480". */
  readonly label: string;
  /** The same as a rule's `when` (the values present). */
  readonly when: Readonly<Record<string, string | number>>;
}

/** The device of an (original) data set, as pixel rules see it. */
export function deviceOf(ds: DataSet): Device {
  const text = (tag: number) => {
    const el = ds.elements.find((e) => e.tag === tag);
    return el ? values(ds, el)[0] || undefined : undefined;
  };
  const when: Record<string, string | number> = {};
  const parts: string[] = [];
  for (
    const [k, t] of [["Modality", tags.Modality], ["Manufacturer", tags.Manufacturer], [
      "ManufacturerModelName",
      tags.ManufacturerModelName,
    ]] as const
  ) {
    const v = text(t);
    if (v) {
      when[k] = v;
      parts.push(`${k} ${v}`);
    }
  }
  const columns = firstNumber(ds, tags.Columns), rows = firstNumber(ds, tags.Rows);
  if (rows !== undefined) when.Rows = rows;
  if (columns !== undefined) when.Columns = columns;
  parts.push(`${columns ?? "?"}x${rows ?? "?"}`);
  return { label: parts.join(", "), when };
}
