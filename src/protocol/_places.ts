/**
 * Where a protocol reads and writes: its paths resolved (relative to the protocol file; `--input`
 * and `--output` relative to the working directory), its output templates compiled, and the
 * places kept apart: the output root, the report, the key file and the quarantine folder never
 * overlap an input root, and neither the key nor raw quarantined input goes into the output.
 *
 * @module
 */
import { PixelError } from "../pixels/errors.ts";
import { parseTargetSyntax } from "../pixels/syntaxes.ts";
import { dirname, isAbsolute, resolve } from "node:path";
import { type ProtocolIssue, TemplateError } from "./errors.ts";
import { isInside } from "./paths.ts";
import type { ProtocolData } from "./schema.ts";
import type { ProtocolSource } from "./source.ts";
import { type CompiledTemplate, compileTemplate } from "./template.ts";

/** A protocol's places, absolute, and its output templates (absent when one does not compile). */
export interface Places {
  /** Resolve a path written in the protocol (relative to the protocol file). */
  readonly fromProtocol: (p: string) => string;
  readonly roots: string[];
  readonly outputRoot: string;
  readonly report: string;
  readonly key?: string;
  readonly quarantine?: string;
  readonly templates: Partial<Record<"path" | "file", CompiledTemplate>>;
}

/** Resolve and check the places of `data` (read from `file`); problems are added to `issues`. */
export async function resolvePlaces(
  source: ProtocolSource,
  data: ProtocolData,
  file: string,
  ctx: { input?: string; output?: string },
  issues: ProtocolIssue[],
): Promise<Places> {
  const dir = dirname(file);
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
  return { fromProtocol, roots, outputRoot, report, key, quarantine, templates };
}

/**
 * What a de-identifying protocol may not write: names copied from the input path (`%b`, `%f`),
 * or links to the original files.
 */
export function checkDeidentifiedOutput(
  source: ProtocolSource,
  data: ProtocolData,
  templates: Places["templates"],
  issues: ProtocolIssue[],
): void {
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

/**
 * `output.transfer_syntax` as a UID or "keep"; an issue at its line when it is not one dcmtidy
 * writes, or when the run only sorts (files are then copied or linked as they are).
 */
export function checkTransferSyntax(
  source: ProtocolSource,
  data: ProtocolData,
  issues: ProtocolIssue[],
): string {
  try {
    const ts = parseTargetSyntax(data.output.transfer_syntax);
    if (ts !== "keep" && !data.deidentify) {
      issues.push(
        source.issueAt(
          ["output", "transfer_syntax"],
          "a sort-only protocol copies or links files as they are: transcoding needs a deidentify section " +
            "(or use dcmtidy modify --transfer-syntax)",
        ),
      );
    }
    return ts;
  } catch (e) {
    if (!(e instanceof PixelError)) throw e;
    issues.push(source.issueAt(["output", "transfer_syntax"], e.message));
    return "keep";
  }
}
