/**
 * Safe path segments: what a rendered template segment becomes ({@link sanitizeSegment}) and the
 * output path made of them, proved to be inside the output root ({@link outputPath}).
 *
 * @module
 */
import * as path from "node:path";
import type { CompiledTemplate, TemplateValues } from "./template.ts";

/** The longest rendered segment (folder or file name), in characters. */
export const MAX_SEGMENT_LENGTH = 64;
/** What a missing value renders as. */
export const MISSING = "na";

const WINDOWS_RESERVED = /^(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?$/i;
/** An extension kept when a file name is cut: a dot and 1 to 15 more characters. */
const MAX_EXTENSION_LENGTH = 16;

/**
 * Make one path segment (a folder or file name) safe on every file system:
 *
 * - every character outside `[A-Za-z0-9._-]` becomes `_`: `/`, `\`, spaces, NUL and control
 *   characters, bidi marks (U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) and any non-ASCII;
 * - runs of `_` collapse to one, then leading and trailing `_` and `.` go (so never `.`, `..`
 *   or a hidden name); a segment left empty is `na`;
 * - at most {@link MAX_SEGMENT_LENGTH} characters: the end is cut (then trailing `_` and `.`
 *   again); with `keepExtension` (file names) the stem is cut and an extension of up to 16
 *   characters kept;
 * - a Windows device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9, any case, also with an
 *   extension such as `con.txt`) gets a leading `_`.
 */
export function sanitizeSegment(raw: string, opts: { keepExtension?: boolean } = {}): string {
  let s = raw.replace(/[^A-Za-z0-9._-]/g, "_").replace(/_+/g, "_").replace(/^[._]+|[._]+$/g, "");
  if (s === "") return MISSING;
  s = cut(s, MAX_SEGMENT_LENGTH, opts.keepExtension ?? false);
  if (WINDOWS_RESERVED.test(s)) s = "_" + cut(s, MAX_SEGMENT_LENGTH - 1, opts.keepExtension ?? false);
  return s;
}

/** Cut a sanitised, non-empty name (which starts with neither `.` nor `_`) to `max` characters. */
function cut(s: string, max: number, keepExtension: boolean): string {
  if (s.length <= max) return s;
  const trimEnd = (t: string) => t.replace(/[._]+$/, "");
  if (keepExtension) {
    const dot = s.lastIndexOf(".");
    const ext = dot > 0 ? s.slice(dot) : "";
    if (ext.length >= 2 && ext.length <= MAX_EXTENSION_LENGTH) {
      return (trimEnd(s.slice(0, Math.min(dot, max - ext.length))) || MISSING) + ext;
    }
  }
  return trimEnd(s.slice(0, max)) || MISSING;
}

const SAFE_SEGMENT = /^[A-Za-z0-9._-]+$/;

/**
 * Join the resolved `root`, the folder segments and the file name, and prove the result is
 * strictly inside the root. Throws an Error when it is not, or when a template renders an unsafe
 * segment (only possible for a {@link CompiledTemplate} not made by {@link compileTemplate}).
 * Returns an absolute path. Symbolic links already inside the root are not looked at here.
 */
export function outputPath(
  root: string,
  folder: CompiledTemplate,
  file: CompiledTemplate,
  values: TemplateValues,
): string {
  const base = resolvedRoot(root);
  const folders = folder.render(values);
  const names = file.render(values);
  if (names.length !== 1) {
    throw new Error(`the file name template "${file.source}" rendered ${names.length} segments, not one`);
  }
  const segments = [...folders, ...names];
  for (const seg of segments) {
    if (!SAFE_SEGMENT.test(seg) || seg.startsWith(".") || seg.length > MAX_SEGMENT_LENGTH) {
      throw new Error(`unsafe path segment ${JSON.stringify(seg)} in the output path`);
    }
  }
  // Each segment is a plain name (checked above: no separator, not "." or ".."), so the root and its
  // names make the path: strictly inside the root, as resolve() and relative() would prove at
  // several microseconds a file (tests/template_test.ts compares the two).
  const full = (base.endsWith(path.sep) ? base : base + path.sep) + segments.join(path.sep);
  if (path.normalize(full) !== full) {
    throw new Error(
      `output path ${JSON.stringify(full)} is not inside the output root ${JSON.stringify(base)}`,
    );
  }
  return full;
}

/** The last absolute root `outputPath` resolved, and what it resolved to (one per plan). */
let lastRoot: { root: string; base: string } | undefined;

/** `path.resolve(root)`, remembered for an absolute root (which does not depend on the folder we are in). */
function resolvedRoot(root: string): string {
  if (lastRoot?.root === root) return lastRoot.base;
  const base = path.resolve(root);
  if (path.isAbsolute(root)) lastRoot = { root, base };
  return base;
}
