/**
 * Loading a protocol: parse (YAML or TypeScript), check the shape with the zod schema, then check
 * everything that can be known before a file is touched (keywords, actions against VRs, paths that
 * overlap, the salt's source, lookup tables), and resolve paths. All problems are reported at once.
 */
import { createHash } from "node:crypto";
import { basename, dirname, extname, isAbsolute, relative, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { type CompiledTemplate, compileTemplate } from "./template.ts";
import { ProtocolError, type ProtocolIssue, SelectorError, TemplateError } from "./errors.ts";
import {
  type Action,
  actionSchema,
  type DeidentifyData,
  type ProtocolData,
  protocolSchema,
} from "./schema.ts";
import { parseSelector, type Selector, selectorVRs } from "./selector.ts";
import { objectSource, type ProtocolSource, yamlSource } from "./source.ts";
import { suggestClosest } from "../util/suggest.ts";
import { isStringVR } from "../dicom/vr.ts";
import { suggestKeywords, tagForKeyword } from "../standard/dictionary.ts";
import { readLookupTable } from "./lookup.ts";

const INLINE_SALT_PLACEHOLDER = "DCMTIDY_INLINE_SALT_REFUSED";
/** A shorter salt can be found by trying every pseudonym of a known patient ID. */
export const MIN_SALT_LENGTH = 16;

/** A hook of a TypeScript protocol: gets the current value, returns the new one (undefined removes). */
export type Hook = (value: string | undefined, ctx: HookContext) => string | undefined;

/** What a hook knows about the element it rewrites. */
export interface HookContext {
  /** The keyword (or `(gggg,eeee)`) of the element. */
  readonly keyword: string;
  /** The element's VR, e.g. "LO". */
  readonly vr: string;
  /** The subject's pseudonym. */
  readonly pseudoId: string;
}

/** A TypeScript protocol: the YAML fields plus `hooks` for `{ fn: NAME }` actions. */
export type ProtocolDefinition = z.input<typeof protocolSchema> & { hooks?: Record<string, Hook> };

/** Type-check a TypeScript protocol: `export default defineProtocol({ ... })`. */
export function defineProtocol(definition: ProtocolDefinition): ProtocolDefinition {
  return definition;
}

/** One per-tag rule after parsing: what it selects, what it does, where it came from. */
export interface TagRule {
  /** Which elements the rule applies to: a keyword, a tag, a tag pattern or a private element. */
  readonly selector: Selector;
  /** What it does to them, as written. */
  readonly action: Action;
  /** Whether it came from the protocol's `tags` or its `tags_file` (shown by `dcmtidy rules`). */
  readonly origin: "protocol" | "tags_file";
}

/** A protocol ready to plan with: validated, defaults filled in, paths absolute. */
export interface Protocol {
  /** Absolute path of the protocol file. */
  readonly file: string;
  /** sha256 of the protocol file's bytes (recorded in the audit and the de-identification method). */
  readonly sha256: string;
  /** The protocol's `name`, recorded in the audit and in DeidentificationMethod. */
  readonly name: string;
  /** The protocol as validated, defaults filled in, paths as written (relative to the protocol file). */
  readonly data: ProtocolData;
  /** What to read: `input`, with the roots absolute (`--input` replaces them). */
  readonly input: {
    readonly roots: readonly string[];
    readonly include: readonly string[];
    readonly exclude: readonly string[];
    readonly followSymlinks: boolean;
  };
  /** Where and how to write: `output`, root absolute (`--output` replaces it), templates compiled. */
  readonly output: {
    readonly root: string;
    readonly folder: CompiledTemplate;
    readonly file: CompiledTemplate;
    readonly mode: ProtocolData["output"]["mode"];
    readonly onCollision: ProtocolData["output"]["on_collision"];
    /** dicom (default), nifti, or both. */
    readonly format: ProtocolData["output"]["format"];
  };
  /** Absolute path of report.csv (a relative `report` is under the output root). */
  readonly report: string;
  /** Absolute path of the key file (pseudonym to original identity); absent when none is kept. */
  readonly key?: string;
  /** Absolute folder for raw copies of quarantined inputs; absent: they are listed, not copied. */
  readonly quarantine?: string;
  /** `deidentify` with its tag rules parsed and salt, lookup table and hooks located; absent: sort only. */
  readonly deidentify?: DeidentifyData & {
    readonly rules: readonly TagRule[];
    /** Where the salt is; the value itself is read only when a run needs it. */
    readonly saltSource: { readonly env: string } | { readonly file: string };
    readonly lookupFile?: string;
    readonly hooks: Readonly<Record<string, Hook>>;
  };
}

/** Options for `loadProtocol`. */
export interface LoadOptions {
  /** Replace the protocol's input roots (the same protocol at several sites). Relative to the cwd. */
  input?: string;
  /** Replace the protocol's output root. Relative to the cwd. */
  output?: string;
  /** Environment lookup (tests inject one); default `Deno.env.get`. Only presence is checked. */
  env?: (name: string) => string | undefined;
  /**
   * Skip the checks of the salt's source. The run's sandboxed workers get the salt's bytes from
   * the main thread and may neither read the environment nor the salt file.
   */
  skipSaltCheck?: boolean;
}

/**
 * Load and validate a protocol file (`.yaml`, `.yml`, `.json`, or `.ts` with a default export).
 * Throws `ProtocolError` listing every problem with its line and column.
 */
export async function loadProtocol(path: string, opts: LoadOptions = {}): Promise<Protocol> {
  const file = resolve(path);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
    throw new ProtocolError([{ file: path, message: why }]);
  }
  if (bytes.subarray(0, 4096).includes(0)) {
    // Do not parse (and echo) a DICOM or other binary file given by mistake.
    throw new ProtocolError([{
      file: path,
      message: "this is a binary file, not a protocol (.yaml, .yml, .json or .ts)",
    }]);
  }
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  let source: ProtocolSource;
  let hooks: Record<string, Hook> = {};
  if (extname(file) === ".ts") {
    let mod: { default?: ProtocolDefinition };
    try {
      mod = await import(pathToFileURL(file).href);
    } catch (e) {
      throw new ProtocolError([{
        file: path,
        message: `cannot load: ${(e as Error).message.split("\n")[0]}`,
      }]);
    }
    if (!mod.default || typeof mod.default !== "object") {
      throw new ProtocolError([{ file: path, message: "needs `export default defineProtocol({ ... })`" }]);
    }
    const { hooks: h, ...data } = mod.default;
    hooks = h ?? {};
    source = objectSource(path, data);
  } else {
    const parsed = yamlSource(path, new TextDecoder().decode(bytes));
    if (!parsed.source) throw new ProtocolError(parsed.issues);
    source = parsed.source;
  }
  return await validate(source, { file, sha256, hooks, ...opts });
}

interface Context extends LoadOptions {
  file: string;
  sha256: string;
  hooks: Record<string, Hook>;
}

async function validate(source: ProtocolSource, ctx: Context): Promise<Protocol> {
  const issues: ProtocolIssue[] = [];
  const raw = source.data;
  const salt = (raw as { deidentify?: { salt?: unknown } } | null)?.deidentify?.salt;
  if (typeof salt === "string" || typeof salt === "number") {
    // Never echo it: the value is a secret that must not be in git, let alone in a message.
    issues.push(
      source.issueAt(
        ["deidentify", "salt"],
        "an inline salt is refused: use { env: NAME } or { file: path } outside git",
      ),
    );
    // Let the rest be checked as if the salt were well placed; its own check is already reported.
    (raw as { deidentify: { salt: unknown } }).deidentify.salt = { env: INLINE_SALT_PLACEHOLDER };
  }
  const parsed = protocolSchema.safeParse(raw);
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
  const data = parsed.data;
  const dir = dirname(ctx.file);
  const fromProtocol = (p: string) => resolve(dir, p);

  const roots = ctx.input
    ? [resolve(ctx.input)]
    : (Array.isArray(data.input.root) ? data.input.root : [data.input.root]).map(fromProtocol);
  const outputRoot = ctx.output ? resolve(ctx.output) : fromProtocol(data.output.root);
  const report = isAbsolute(data.report) ? data.report : resolve(outputRoot, data.report);
  const key = data.key ? fromProtocol(data.key) : undefined;
  const quarantine = data.quarantine ? fromProtocol(data.quarantine) : undefined;

  const templates: Partial<Record<"path" | "file", CompiledTemplate>> = {};
  for (const kind of ["path", "file"] as const) {
    try {
      templates[kind] = compileTemplate(data.output[kind], kind === "path" ? "folder" : "file");
    } catch (e) {
      if (!(e instanceof TemplateError)) throw e;
      issues.push(source.issueAt(["output", kind], (e as Error).message));
    }
  }

  for (const root of roots) {
    if (isInside(outputRoot, root) || isInside(root, outputRoot)) {
      issues.push(
        source.issueAt(
          ctx.output ? ["output"] : ["output", "root"],
          `the output root ${outputRoot} overlaps the input root ${root}: keep them apart`,
        ),
      );
    }
  }
  // Reports, the key file and quarantine copies written into an input would be scanned as input
  // next time, or replace an input file.
  const declared: [string | undefined, string[], string][] = [
    // A report inside the output root is covered by the output root's own check.
    [isInside(report, outputRoot) ? undefined : report, ["report"], "the report"],
    [key, ["key"], "the key file"],
    [quarantine, ["quarantine"], "the quarantine folder"],
  ];
  for (const [path, at, what] of declared) {
    const root = path && roots.find((r) => isInside(path, r) || isInside(r, path));
    if (root) {
      issues.push(source.issueAt(at, `${what} ${path} is inside the input root ${root}: keep it apart`));
    }
  }
  if (key && (await Deno.stat(key).then((st) => st.isDirectory, () => false))) {
    issues.push(source.issueAt(["key"], `the key file ${key} is a folder: name a file`));
  }
  if (key && isInside(key, outputRoot)) {
    issues.push(
      source.issueAt(["key"], "the key file links pseudonyms to identities: keep it outside the output root"),
    );
  }
  if (quarantine && (isInside(quarantine, outputRoot) || isInside(outputRoot, quarantine))) {
    issues.push(
      source.issueAt(
        ["quarantine"],
        "quarantined files are raw input: keep the quarantine folder outside the output root",
      ),
    );
  }

  let deidentify: Protocol["deidentify"];
  if (data.deidentify) {
    deidentify = await checkDeidentify(
      source,
      data.deidentify,
      ctx,
      fromProtocol,
      issues,
      outputRoot,
      templates,
    );
    for (const kind of ["path", "file"] as const) {
      if (templates[kind]?.usesInputPath) {
        issues.push(
          source.issueAt(
            ["output", kind],
            "%b and %f copy input file and folder names, which often name the patient or hold original " +
              `UIDs: a de-identifying protocol cannot use them (try "{InstanceNumber:04}.dcm")`,
          ),
        );
      }
    }
    if (data.output.mode !== "copy") {
      issues.push(
        source.issueAt(
          ["output", "mode"],
          `mode ${data.output.mode} links to the original files, which cannot be de-identified: use mode: copy`,
        ),
      );
    }
  }
  if (issues.length) throw new ProtocolError(dedupe(issues));
  return {
    file: ctx.file,
    sha256: ctx.sha256,
    name: data.name,
    data,
    input: {
      roots,
      include: data.input.include,
      exclude: data.input.exclude,
      followSymlinks: data.input.follow_symlinks,
    },
    output: {
      root: outputRoot,
      folder: templates.path!,
      file: templates.file!,
      mode: data.output.mode,
      onCollision: data.output.on_collision,
      format: data.output.format,
    },
    report,
    key,
    quarantine,
    deidentify,
  };
}

async function checkDeidentify(
  source: ProtocolSource,
  d: DeidentifyData,
  ctx: Context,
  fromProtocol: (p: string) => string,
  issues: ProtocolIssue[],
  outputRoot: string,
  templates: Partial<Record<"path" | "file", CompiledTemplate>>,
): Promise<NonNullable<Protocol["deidentify"]>> {
  const at = (path: (string | number)[], message: string, key = false) =>
    issues.push(source.issueAt(["deidentify", ...path], message, { key }));
  const env = ctx.env ?? ((n: string) => Deno.env.get(n));
  let saltSource: { env: string } | { file: string };
  if ("env" in d.salt) {
    saltSource = { env: d.salt.env };
    if (d.salt.env !== INLINE_SALT_PLACEHOLDER && !ctx.skipSaltCheck) {
      const value = env(d.salt.env);
      // Variable names are conventionally upper case; a long lower-case "name" is most likely the
      // salt itself pasted in the wrong place, so it is not echoed.
      const pasted = /[a-z]/.test(d.salt.env) && d.salt.env.length >= 12;
      const shown = pasted ? "named in salt.env" : d.salt.env;
      if (!value) {
        at(
          ["salt", "env"],
          `environment variable ${shown} is not set (it holds the salt)` +
            (pasted ? "; if this is the salt itself, put it in a variable and name the variable here" : ""),
        );
      } else if (value.length < MIN_SALT_LENGTH) {
        at(["salt", "env"], `the salt in ${shown} is too short: use at least ${MIN_SALT_LENGTH} characters`);
      }
    }
  } else {
    saltSource = { file: fromProtocol(d.salt.file) };
    const kind = ctx.skipSaltCheck ? "file" : await statKind(saltSource.file);
    if (kind !== "file") {
      at(
        ["salt", "file"],
        `salt file ${saltSource.file} ${kind === "missing" ? "does not exist" : "is not a file"}`,
      );
    } else if (!ctx.skipSaltCheck && (await Deno.stat(saltSource.file)).size < MIN_SALT_LENGTH) {
      at(["salt", "file"], `salt file ${saltSource.file} holds fewer than ${MIN_SALT_LENGTH} bytes`);
    }
    if (isInside(saltSource.file, outputRoot)) {
      at(["salt", "file"], "the salt file must not be inside the output root");
    }
  }

  const opts = new Set(d.options);
  if (opts.has("retain-longitudinal-full-dates") && opts.has("retain-longitudinal-modified-dates")) {
    at(
      ["options"],
      "retain-longitudinal-full-dates and retain-longitudinal-modified-dates exclude each other: pick one",
    );
  }
  if (d.uids === "keep" && !opts.has("retain-uids")) at(["uids"], "uids: keep needs the retain-uids option");
  if (
    d.dates && typeof d.dates === "object" && "min_days" in d.dates.shift &&
    d.dates.shift.min_days > d.dates.shift.max_days
  ) {
    at(
      ["dates", "shift"],
      `min_days (${d.dates.shift.min_days}) is greater than max_days (${d.dates.shift.max_days})`,
    );
  }

  const shifts = d.dates !== undefined && typeof d.dates === "object";
  if (opts.has("retain-longitudinal-modified-dates") && !shifts && d.dates !== "year-only") {
    at(
      ["options"],
      "retain-longitudinal-modified-dates needs dates: { shift: ... } or dates: year-only to say how",
    );
  }
  for (const [k, action] of Object.entries(d.tags)) {
    if (typeof action === "object" && "shift_date" in action && !shifts) {
      at(["tags", k], "shift_date needs dates: { shift: ... } to know by how much");
    }
  }

  let lookupFile: string | undefined;
  if (typeof d.patient_id === "object" && "lookup" in d.patient_id) {
    lookupFile = fromProtocol(d.patient_id.lookup.file);
    for (const problem of await readLookupTable(lookupFile).then(() => [], (e: Error) => [e.message])) {
      at(["patient_id", "lookup", "file"], problem);
    }
  }

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
    const problem = actionProblem(action, selector, ctx.hooks);
    if (problem) at(["tags", k], problem);
    rules.push({ selector, action, origin: "protocol" });
  }
  rules.push(...fileRules);
  void templates;
  return { ...d, rules, saltSource, lookupFile, hooks: ctx.hooks };
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

/** Turn one zod issue into messages at the right place, with "did you mean" for unknown keys. */
function describeIssue(source: ProtocolSource, issue: z.core.$ZodIssue): ProtocolIssue[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
  const name = path.length ? path.join(".") : "the protocol";
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
function dedupe(issues: ProtocolIssue[]): ProtocolIssue[] {
  const seen = new Set<string>();
  return issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0)).filter((i) => {
    const k = `${i.line}:${i.col}:${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

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

async function statKind(path: string): Promise<"file" | "dir" | "other" | "missing"> {
  try {
    const st = await Deno.stat(path);
    return st.isFile ? "file" : st.isDirectory ? "dir" : "other";
  } catch {
    return "missing";
  }
}
