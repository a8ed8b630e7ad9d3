/**
 * Loading a protocol: read it (YAML or TypeScript), check the shape with the zod schema, then check
 * everything that can be known before a file is touched (keywords, actions against VRs, paths that
 * overlap, the salt's source, lookup tables), and resolve paths. All problems are reported at once.
 *
 * The jobs are in files of their own: `_read.ts` (the file into a source with positions),
 * `_issues.ts` (the schema's problems as issues), `_places.ts` (paths and templates), `_salt.ts`,
 * `_deidentify.ts` and `_rules.ts` (the `deidentify` section and its tag rules).
 *
 * @module
 */
import { ProtocolError, type ProtocolIssue } from "./errors.ts";
import { checkDeidentify } from "./_deidentify.ts";
import { checkMediaTemplates } from "./_media.ts";
import { dedupe, parseShape } from "./_issues.ts";
import { checkDeidentifiedOutput, checkTransferSyntax, resolvePlaces } from "./_places.ts";
import type { Protocol } from "./protocol.ts";
import { readProtocol } from "./_read.ts";
import { refuseInlineSalt } from "./_salt.ts";
import type { ProtocolSource } from "./source.ts";
import type { Hook } from "./typescript.ts";

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
 *
 * @example Loading a protocol, and what a mistake gives
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadProtocol } from "./mod.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(
 *   `${dir}/sort.yaml`,
 *   "version: 1\nname: sort-only\ninput:\n  root: ./raw\noutput:\n  root: ./sorted\n",
 * );
 * const protocol = await loadProtocol(`${dir}/sort.yaml`);
 * assert.deepEqual(protocol.input.roots, [`${dir}/raw`]);
 * assert.equal(protocol.output.root, `${dir}/sorted`);
 * assert.equal(protocol.deidentify, undefined); // sorts only
 *
 * await Deno.writeTextFile(
 *   `${dir}/typo.yaml`,
 *   "version: 1\nname: typo\ninptu:\n  root: ./raw\noutput:\n  root: ./sorted\n",
 * );
 * await assert.rejects(loadProtocol(`${dir}/typo.yaml`), {
 *   name: "ProtocolError",
 *   message: `${dir}/typo.yaml:3:1: unknown key "inptu" (did you mean "input"?)`,
 * });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadProtocol(path: string, opts: LoadOptions = {}): Promise<Protocol> {
  const { file, sha256, source, hooks } = await readProtocol(path);
  return await validate(source, { file, sha256, hooks, ...opts });
}

interface Context extends LoadOptions {
  file: string;
  sha256: string;
  hooks: Record<string, Hook>;
}

async function validate(source: ProtocolSource, ctx: Context): Promise<Protocol> {
  const issues: ProtocolIssue[] = [];
  refuseInlineSalt(source, issues);
  const data = parseShape(source, issues);
  const { fromProtocol, roots, outputRoot, report, key, quarantine, templates } = await resolvePlaces(
    source,
    data,
    ctx.file,
    ctx,
    issues,
  );

  let deidentify: Protocol["deidentify"];
  if (data.deidentify) {
    deidentify = await checkDeidentify(source, data.deidentify, ctx, fromProtocol, issues, outputRoot);
    checkDeidentifiedOutput(source, data, templates, issues);
  }
  const transferSyntax = checkTransferSyntax(source, data, issues);
  checkMediaTemplates(source, data, templates, issues);
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
      transferSyntax,
      dicomdir: data.output.dicomdir,
    },
    nifti: { philipsScaling: data.nifti.philips_scaling },
    report,
    key,
    quarantine,
    deidentify,
  };
}
