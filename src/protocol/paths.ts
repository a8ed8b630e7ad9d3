/**
 * Whether one path lies inside another, also through symbolic links: the loader keeps the
 * output root, the report, the key file, the quarantine folder and the salt file apart with it.
 *
 * @module
 */
import { basename, dirname, isAbsolute, relative, resolve, sep } from "node:path";

/** A path with its existing part resolved through symlinks (the rest may not exist yet). */
function realish(path: string): string {
  const rest: string[] = [];
  let p = resolve(path);
  while (true) {
    try {
      return resolve(Deno.realPathSync(p), ...rest.reverse());
    } catch {
      const parent = dirname(p);
      if (parent === p) return resolve(path);
      rest.push(basename(p));
      p = parent;
    }
  }
}

/** Whether `inner` is `outer` or lies below it, also through symlinks. */
export function isInside(inner: string, outer: string): boolean {
  return isInsideText(inner, outer) || isInsideText(realish(inner), realish(outer));
}

function isInsideText(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel) && !rel.startsWith(sep));
}
