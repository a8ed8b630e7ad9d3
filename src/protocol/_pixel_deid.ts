/**
 * The `%filter` sections of pydicom/deid recipes (`deid.dicom`), read as deid's
 * `deid/config/utils.py` reads them: `LABEL name` starts an item; its lines are filters
 * (`contains|notcontains|equals|notequals|missing|present|empty Field [value]`, chained in a line
 * with `+` (and) and `||` (or), a line starting with `+` or `||` joining the previous ones) and
 * coordinates (`coordinates x0,y0,x1,y1` corners, `ctpcoordinates x,y,w,h`, `coordinates all`,
 * `keepcoordinates from:SequenceOfUltrasoundRegions`). Other sections are skipped.
 *
 * @module
 */
import {
  checkRegExp,
  elementKey,
  escapeRegExp,
  type Expr,
  type SourceEntry,
  untestable,
} from "./_pixel_expr.ts";

/** Whether text looks like a deid recipe with filters. */
export function looksLikeDeid(text: string): boolean {
  return /^\s*%filter\b/im.test(text);
}

const FILTERS = ["contains", "notcontains", "equals", "notequals", "missing", "present", "empty"];

type Rect = [number, number, number, number];

interface Item {
  label: string;
  section: string;
  line: number;
  lines: string[];
}

/** Every LABEL of every `%filter` section, in order. */
export function parseDeidRecipe(text: string): SourceEntry[] {
  const items: Item[] = [];
  let section: string | undefined;
  let current: Item | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    if (line.startsWith("%")) {
      const [head, ...rest] = line.split("#", 1)[0].trim().split(/\s+/);
      section = head.toLowerCase() === "%filter" ? (rest.join(" ") || "filter").toLowerCase() : undefined;
      current = undefined;
    } else if (section !== undefined && /^label\b/i.test(line)) {
      current = { label: line.slice(5).split("#")[0].trim(), section, line: i + 1, lines: [] };
      items.push(current);
    } else if (current) current.lines.push(line);
  });
  const unconditionalAll = new Set(
    items.filter((it) => it.lines.length > 0 && it.lines.every((l) => /^coordinates\s+all$/i.test(l)))
      .map((it) => it.section),
  );
  return items.map((it) => toEntry(it, unconditionalAll.has(it.section)));
}

function toEntry(it: Item, sectionBlanksAll: boolean): SourceEntry {
  const base = { label: it.label, line: it.line, text: [`LABEL ${it.label}`, ...it.lines].join("\n") };
  if (it.section === "blacklist" || it.section === "whitelist") {
    return {
      ...base,
      problem: `a ${it.section} filter flags whole images (${
        it.section === "blacklist" ? "for review" : "as clean"
      }); it is not a blanking rule`,
    };
  }
  let expr: Expr | undefined;
  const blank: Rect[] = [];
  let all = false;
  let keep = false;
  for (const line of it.lines) {
    const coords = /^(ctpcoordinates|ctpkeepcoordinates|coordinates|keepcoordinates)\s+(.*)$/i.exec(line);
    if (coords) {
      const kind = coords[1].toLowerCase();
      const value = coords[2].trim();
      if (kind.includes("keep")) {
        if (/^from:\s*SequenceOfUltrasoundRegions$/i.test(value)) keep = true;
        else return { ...base, problem: `${kind} ${value}: only the ultrasound regions can be kept` };
      } else if (value.toLowerCase() === "all") all = true;
      else {
        const rect = toRect(value, kind === "ctpcoordinates");
        if (typeof rect === "string") return { ...base, problem: rect };
        blank.push(rect);
      }
      continue;
    }
    let op: "and" | "or" = "and";
    let rest = line;
    if (rest.startsWith("+")) rest = rest.slice(1).trim();
    else if (rest.startsWith("||")) [op, rest] = ["or", rest.slice(2).trim()];
    const e = parseLine(rest);
    if (typeof e === "string") return { ...base, problem: e };
    expr = expr === undefined ? e : { op, args: [expr, e] };
  }
  if (keep && blank.length === 0 && !all && sectionBlanksAll) all = true; // deid's ultrasound recipe
  if (expr === undefined) {
    return {
      ...base,
      problem: blank.length || all
        ? "no filter: deid applies it to every image; write a rule with a when by hand"
        : "no filter and no coordinates",
    };
  }
  if (!all && blank.length === 0) {
    return { ...base, problem: "no coordinates (it flags images only; burned_in: blank quarantines those)" };
  }
  return {
    ...base,
    expr,
    blank: all ? "all" : blank,
    ...(keep ? { keep: "ultrasound-regions" as const } : {}),
  };
}

/** deid's `x0,y0,x1,y1` corners (or CTP's `x,y,w,h`) as `[x, y, width, height]`, or a reason. */
function toRect(value: string, ctp: boolean): Rect | string {
  const parts = value.split(",").map((p) => p.trim()).filter((p) => p !== "");
  if (parts.length !== 4 || !parts.every((p) => /^[+-]?\d+$/.test(p))) {
    return `coordinates ${value}: not four whole numbers`;
  }
  const [a, b, c, d] = parts.map(Number);
  if (ctp) return c >= 1 && d >= 1 ? [a, b, c, d] : `ctpcoordinates ${value}: no width or height`;
  // Corners slice the image as numpy does: both from the start, or both from the end.
  if ((a < 0) !== (c < 0) || (b < 0) !== (d < 0) || c <= a || d <= b) {
    return `coordinates ${value}: the corners do not make a rectangle dcmtidy can write`;
  }
  return [a, b, c - a, d - b];
}

/** One filter line (`+`/`||` already taken off) as an expression, split as deid splits it. */
function parseLine(line: string): Expr | string {
  const parts: string[] = [];
  const ops: ("and" | "or")[] = [];
  let member = line;
  for (;;) {
    const or = member.indexOf("||");
    const and = member.indexOf("+");
    const at = or >= 0 && (and < 0 || or < and) ? or : and;
    if (at < 0) break;
    const rest = member.slice(at + (at === or ? 2 : 1));
    // deid splits only when the rest holds a filter word; else the operator is part of the value.
    if (!FILTERS.some((w) => rest.includes(w))) break;
    parts.push(member.slice(0, at).trim());
    ops.push(at === or ? "or" : "and");
    member = rest.trim();
  }
  parts.push(member.trim());
  let expr: Expr | undefined;
  for (const [i, p] of parts.entries()) {
    const e = parseFilter(p);
    if (typeof e === "string") return e;
    expr = expr === undefined ? e : { op: ops[i - 1], args: [expr, e] };
  }
  return expr!;
}

function parseFilter(text: string): Expr | string {
  const m = /^(\S+)\s+(\S+)(?:\s+(.*))?$/.exec(text);
  const action = m?.[1].toLowerCase() ?? text;
  if (!m || !FILTERS.includes(action)) return `unknown filter "${text}"`;
  const key = elementKey(m[2]);
  if (key === undefined) return `unknown field ${m[2]}`;
  const why = untestable(key);
  if (why) return why;
  const value = (m[3] ?? "").trim();
  const needsValue = ["contains", "notcontains", "equals", "notequals"].includes(action);
  if (needsValue && value === "") return `${action} ${m[2]} has no value`;
  switch (action) {
    case "notcontains":
    case "notequals":
      return { op: "not", arg: { op: "atom", key, test: { kind: "present", value: true } } };
    case "empty":
      return { op: "fail", reason: `empty ${m[2]} (present with an empty value) has no dcmtidy condition` };
    case "missing":
      return { op: "atom", key, test: { kind: "present", value: false } };
    case "present":
      return { op: "atom", key, test: { kind: "present", value: true } };
    case "equals":
      return { op: "atom", key, test: { kind: "equals", value } };
  }
  // deid's contains is a regular expression searched in the value, without case.
  if (escapeRegExp(value) === value) return { op: "atom", key, test: { kind: "contains", text: value } };
  if (checkRegExp(value) === undefined) return `contains ${m[2]} ${value}: not a valid regular expression`;
  return { op: "atom", key, test: { kind: "matches", re: value } };
}
