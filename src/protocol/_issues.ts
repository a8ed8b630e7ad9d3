/**
 * The protocol's shape, checked with the zod schema, as issues a user can act on: each at its
 * line and column, with "did you mean" for a misspelled key and the list of forms for a value
 * that matches none. {@link dedupe} orders the issues of a whole protocol the way a reader goes.
 *
 * @module
 */
import { z } from "zod";
import { ProtocolError, type ProtocolIssue } from "./errors.ts";
import { type ProtocolData, protocolSchema } from "./schema.ts";
import type { ProtocolSource } from "./source.ts";
import { suggestClosest } from "../util/suggest.ts";

/**
 * The source's data checked against the schema, with defaults filled in. When it does not fit,
 * throws a {@link ProtocolError} with `issues` (those found before) and every shape problem.
 */
export function parseShape(source: ProtocolSource, issues: ProtocolIssue[]): ProtocolData {
  const parsed = protocolSchema.safeParse(source.data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) issues.push(...describeIssue(source, issue));
    // `inptu:` gives both "unknown key (did you mean input?)" and "missing input": one is enough.
    const meant = new Set(
      issues.map((i) => i.message.match(/\(did you mean "([^"]+)"\?\)/)?.[1]).filter(Boolean),
    );
    throw new ProtocolError(
      dedupe(issues.filter((i) => !meant.has(i.message.match(/^missing required key "([^"]+)"/)?.[1]))),
    );
  }
  return parsed.data;
}

/** Turn one zod issue into messages at the right place, with "did you mean" for unknown keys. */
function describeIssue(source: ProtocolSource, issue: z.core.$ZodIssue): ProtocolIssue[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
  const name = path.length ? path.join(".") : "the protocol";
  if (path[0] === "deidentify" && path[1] === "pixels" && path.length >= 4) {
    // Pixel rules: say what a condition or a rectangle is, once, rather than each union branch's complaint.
    const at = path.slice(0, 5);
    const where = at.join(".");
    if (path[3] === "when" && path.length >= 5) {
      return [
        source.issueAt(
          at,
          `${where}: a condition is a value, a list of values, { contains: TEXT }, { matches: REGEX } or ` +
            "{ present: true|false }",
        ),
      ];
    }
    if (path[3] === "blank" && issue.code !== "invalid_union") {
      if (path.length >= 6 && /pixel|rectangle/.test(issue.message)) {
        return [source.issueAt(path, `${name}: ${issue.message}`)];
      }
      return [
        source.issueAt(
          path.slice(0, 4),
          `${path.slice(0, 4).join(".")}: blank is all, or a list of rectangles [[x, y, width, height], ...]`,
        ),
      ];
    }
  }
  if (path.length === 3 && path[0] === "deidentify" && path[1] === "tags" && issue.code !== "invalid_union") {
    // A string that is no action at all: list the actions rather than the last alternative tried.
    return [source.issueAt(path, `${name}: ${describeUnion(path, getIn(source.data, path))}`)];
  }
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((k) => {
        const hint = suggestClosest(k, allowedKeys(path));
        return source.issueAt([...path, k], `unknown key "${k}"${hint ? ` (did you mean "${hint}"?)` : ""}`, {
          key: true,
        });
      });
    case "invalid_type": {
      const missing = getIn(source.data, path) === undefined;
      if (missing) {
        const parent = path.slice(0, -1);
        return [
          source.issueAt(
            parent,
            `missing required key "${path[path.length - 1]}"${
              parent.length ? ` in ${parent.join(".")}` : ""
            }`,
          ),
        ];
      }
      return [
        source.issueAt(
          path,
          `${name} must be ${
            issue.expected === "object"
              ? "a mapping"
              : issue.expected === "array"
              ? "a list"
              : `a ${issue.expected}`
          }`,
        ),
      ];
    }
    case "invalid_value":
      return [
        source.issueAt(
          path,
          `${name} must be ${
            issue.values.map((v) => JSON.stringify(v)).join(", ").replace(/, ([^,]*)$/, " or $1")
          }`,
        ),
      ];
    case "invalid_union": {
      // Report the alternative that got furthest: its issues are the most specific.
      const branches = issue.errors.filter((b) => b.length > 0);
      const depth = (b: z.core.$ZodIssue[]) => Math.max(...b.map((i) => i.path.length));
      const best = branches.sort((a, b) => depth(b) - depth(a))[0];
      if (best && depth(best) > 0) {
        return best.flatMap((i) =>
          describeIssue(source, { ...i, path: [...issue.path, ...i.path] } as z.core.$ZodIssue)
        );
      }
      return [source.issueAt(path, `${name}: ${describeUnion(path, getIn(source.data, path))}`)];
    }
    default:
      return [source.issueAt(path, `${name}: ${issue.message}`)];
  }
}

function describeUnion(path: (string | number)[], value: unknown): string {
  const last = path[path.length - 1];
  if (path[0] === "deidentify" && path[1] === "tags") {
    return `${
      JSON.stringify(value)
    } is not an action (keep, remove, empty, dummy, uid, hash, K, X, Z, D, U, C:VALUE, {replace}, {regexp}, {shift_date: true}, {fn})`;
  }
  const forms: Record<string, string> = {
    blank: "blank is all, or a list of rectangles [[x, y, width, height], ...]",
    salt: "must be { env: NAME } or { file: path }",
    patient_id: "must be keep, { hash: { prefix, length } } or { lookup: { file, missing } }",
    dates: "must be keep, year-only, remove, { shift: { min_days, max_days } } or { shift: { days } }",
    private_tags: "must be remove, keep-safe, keep or { keep_creators: [...] }",
    root: "must be a path or a list of paths",
    shift: "must be { min_days, max_days } or { days }",
  };
  return forms[String(last)] ?? "has an invalid value";
}

/** The keys a mapping at `path` may have, read from the zod schema (for suggestions). */
function allowedKeys(path: (string | number)[]): string[] {
  let schemas: z.ZodType[] = [protocolSchema];
  for (const seg of [...path, null]) {
    const next: z.ZodType[] = [];
    for (let s of schemas) {
      while (s instanceof z.ZodOptional || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
      if (s instanceof z.ZodUnion) {
        schemas.push(...(s.options as z.ZodType[]));
        continue;
      }
      if (seg === null) {
        if (s instanceof z.ZodObject) return Object.keys(s.shape);
        continue;
      }
      if (s instanceof z.ZodObject && typeof seg === "string" && s.shape[seg]) {
        next.push(s.shape[seg] as z.ZodType);
      }
      if (s instanceof z.ZodRecord) next.push(s.valueType as z.ZodType);
    }
    schemas = next;
  }
  return [];
}

function getIn(data: unknown, path: (string | number)[]): unknown {
  let cur = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

/** Drop repeated issues and order them by position, as a reader goes through the file. */
export function dedupe(issues: ProtocolIssue[]): ProtocolIssue[] {
  const seen = new Set<string>();
  return issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0)).filter((i) => {
    const k = `${i.line}:${i.col}:${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
