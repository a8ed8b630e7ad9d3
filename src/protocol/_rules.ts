/**
 * The per-tag rules of `deidentify`: the protocol's `tags` and a dcm2dir `tags_file`, parsed into
 * {@link TagRule}s, each action checked against what its selector picks (a VR it cannot apply to,
 * a hook that does not exist, a regular expression or replacement template that does not parse).
 *
 * @module
 */
import { SelectorError } from "./errors.ts";
import type { TagRule } from "./protocol.ts";
import { type Action, actionSchema, type DeidentifyData } from "./schema.ts";
import { parseSelector, type Selector, selectorVRs } from "./selector.ts";
import type { Hook } from "./typescript.ts";
import { isStringVR } from "../dicom/vr.ts";
import { suggestKeywords, tagForKeyword } from "../standard/dictionary.ts";

/**
 * The rules in the order the engine tries them; problems go to `at` (a path under `deidentify`,
 * `key: true` to point at the key).
 */
export async function tagRules(
  d: DeidentifyData,
  hooks: Record<string, Hook>,
  fromProtocol: (p: string) => string,
  at: (path: (string | number)[], message: string, key?: boolean) => void,
): Promise<TagRule[]> {
  // The engine takes the first rule that matches: the protocol's own tags come first, so an inline
  // entry overrides the shared tags_file it is read with.
  const rules: TagRule[] = [];
  const fileRules: TagRule[] = [];
  if (d.tags_file) {
    const path = fromProtocol(d.tags_file);
    try {
      const json = JSON.parse(await Deno.readTextFile(path)) as Record<string, unknown>;
      for (const [k, v] of Object.entries(json)) {
        const selectorText = k.replace(/^\((\w{4})-(\w{4})\)$/, "($1,$2)");
        const action = actionSchema.safeParse(v);
        if (!action.success) {
          at(["tags_file"], `${path}: ${JSON.stringify(k)}: ${JSON.stringify(v)} is not an action`);
          continue;
        }
        try {
          fileRules.push({ selector: parseSelector(selectorText), action: action.data, origin: "tags_file" });
        } catch (e) {
          at(["tags_file"], `${path}: ${(e as Error).message}`);
        }
      }
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound ? "does not exist" : (e as Error).message;
      at(["tags_file"], `${path}: ${why}`);
    }
  }
  for (const [k, action] of Object.entries(d.tags)) {
    let selector: Selector;
    try {
      selector = parseSelector(k);
    } catch (e) {
      if (!(e instanceof SelectorError)) throw e;
      at(["tags", k], e.message, true);
      continue;
    }
    const problem = actionProblem(action, selector, hooks);
    if (problem) at(["tags", k], problem);
    rules.push({ selector, action, origin: "protocol" });
  }
  rules.push(...fileRules);
  return rules;
}

/** Why an action cannot apply to what the selector picks, or undefined when it can. */
function actionProblem(action: Action, sel: Selector, hooks: Record<string, Hook>): string | undefined {
  if (typeof action === "object" && "fn" in action && !hooks[action.fn]) {
    const known = Object.keys(hooks);
    return `no hook named "${action.fn}"` +
      (known.length ? ` (hooks: ${known.join(", ")})` : " (hooks are defined in TypeScript protocols)");
  }
  if (typeof action === "object" && "regexp" in action) {
    try {
      new RegExp(action.regexp.find);
    } catch (e) {
      return `regexp find ${JSON.stringify(action.regexp.find)} is not a valid regular expression: ${
        (e as Error).message
      }`;
    }
  }
  if (typeof action === "object" && "replace" in action) {
    for (const [, key] of action.replace.matchAll(/\{([^}]*)\}/g)) {
      if (key === "pseudo_id" || tagForKeyword(key) !== undefined) continue;
      const hints = suggestKeywords(key, 1);
      return `"{${key}}" in replace is not pseudo_id or a DICOM keyword` +
        (hints.length ? ` (did you mean "${hints[0]}"?)` : "");
    }
  }
  const vrs = selectorVRs(sel);
  if (!vrs || vrs.length === 0) return undefined;
  const vr = vrs.join(" or ");
  const need = (
    ok: (v: string) => boolean,
    what: string,
  ) => (vrs.some(ok) ? undefined : `${what} cannot apply to ${sel.text.trim()}, whose VR is ${vr}`);
  if (action === "uid" || action === "U") return need((v) => v === "UI", `${action} (a new UID)`);
  if (action === "hash") return need((v) => isStringVR(v) && v !== "UI", "hash");
  if (typeof action === "object" && "shift_date" in action) {
    return need((v) => v === "DA" || v === "DT", "shift_date");
  }
  if (typeof action === "object" && ("replace" in action || "regexp" in action)) {
    return need((v) => isStringVR(v), "replace" in action ? "replace" : "regexp");
  }
  if (typeof action === "string" && action.startsWith("C:")) return need((v) => isStringVR(v), action);
  return undefined;
}
