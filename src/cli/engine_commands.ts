/** The `dump` and `modify` commands: the DICOM engine, file by file. */
import { basename, join, resolve } from "node:path";
import { lookupTag } from "../standard/dictionary.ts";
import { dumpText, toJsonDataSet } from "../dicom/dump.ts";
import { deletePath, parsePath, resolvePath, setPath } from "../dicom/edit.ts";
import { readDicomFile } from "../dicom/read_file.ts";
import { writeDicomFile } from "../dicom/write_file.ts";
import { NUMBER_VRS } from "../dicom/vr.ts";
import type { ElementValue } from "../dicom/values.ts";
import { PixelError } from "../pixels/errors.ts";
import { parseTargetSyntax } from "../pixels/syntaxes.ts";
import { transcode } from "../pixels/transcode.ts";
import { describeError, UsageError } from "./errors.ts";

/** Options of `dcmtidy dump`. */
export interface DumpCommandOptions {
  json?: boolean;
  showPhi?: boolean;
  width?: number;
}

/** Print each file's elements (or DICOM JSON); returns the exit code. */
export async function dumpCommand(files: string[], opts: DumpCommandOptions): Promise<number> {
  let failed = 0;
  const json: Record<string, unknown> = {};
  for (const path of files) {
    try {
      const file = await readDicomFile(path);
      const dumpOpts = { showPHI: opts.showPhi, maxWidth: opts.width };
      if (opts.json) json[path] = toJsonDataSet(file.dataset, dumpOpts);
      else console.log(dumpText(file, dumpOpts));
    } catch (e) {
      failed++;
      console.error(`dcmtidy: ${describeError(e, path)}`);
    }
  }
  if (opts.json) {
    // One file gives the data set itself, as dcm2json does; several give an object keyed by path.
    console.log(JSON.stringify(files.length === 1 ? Object.values(json)[0] ?? null : json, null, 2));
  }
  return failed ? 1 : 0;
}

/** Options of `dcmtidy modify`. */
export interface ModifyCommandOptions {
  out: string;
  set?: string[];
  delete?: string[];
  overwrite?: boolean;
  /** keep (default), a name such as `jpeg-ls-lossless`, or a UID. */
  transferSyntax?: string;
}

interface Edit {
  kind: "set" | "delete";
  path: string;
  value?: string;
}

function parseEdits(opts: ModifyCommandOptions): Edit[] {
  const edits: Edit[] = [];
  for (const s of opts.set ?? []) {
    const eq = s.indexOf("=");
    if (eq <= 0) throw new UsageError(`--set takes KEY=VALUE, got "${s}"`);
    edits.push({ kind: "set", path: s.slice(0, eq), value: s.slice(eq + 1) });
  }
  for (const d of opts.delete ?? []) edits.push({ kind: "delete", path: d });
  for (const e of edits) parsePath(e.path); // report bad keys before touching any file
  return edits;
}

/** A command-line value for the element's VR: numbers for binary number VRs, else text. */
function typedValue(text: string, vr: string): ElementValue {
  if (!(vr in NUMBER_VRS)) return text.includes("\\") ? text.split("\\") : text;
  const numbers = text.split("\\").map(Number);
  if (numbers.some((n) => Number.isNaN(n))) throw new UsageError(`"${text}" is not a number, as ${vr} needs`);
  return numbers;
}

/**
 * Rewrite each file into `--out` with the given edits (none: a pure round trip through the engine).
 * Inputs are never written to; an existing output is refused unless `--overwrite`.
 */
export async function modifyCommand(files: string[], opts: ModifyCommandOptions): Promise<number> {
  const edits = parseEdits(opts);
  let target: string;
  try {
    target = parseTargetSyntax(opts.transferSyntax ?? "keep");
  } catch (e) {
    if (e instanceof PixelError) throw new UsageError(`--transfer-syntax: ${e.message}`);
    throw e;
  }
  const outDir = resolve(opts.out);
  const names = new Map<string, string>();
  for (const f of files) {
    const prior = names.get(basename(f));
    if (prior) {
      throw new UsageError(`${prior} and ${f} would both be written as ${join(outDir, basename(f))}`);
    }
    names.set(basename(f), f);
  }
  try {
    await Deno.mkdir(outDir, { recursive: true });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new UsageError(`--out ${outDir} is a file, not a folder`);
    }
    throw new UsageError(`cannot create --out ${outDir}: ${(e as Error).message}`);
  }
  let failed = 0;
  for (const path of files) {
    try {
      const file = await readDicomFile(path);
      for (const e of edits) {
        if (e.kind === "delete") {
          deletePath(file.dataset, e.path);
          continue;
        }
        const steps = parsePath(e.path);
        const last = steps[steps.length - 1];
        const targets = resolvePath(file.dataset, steps);
        const vr = targets[0]?.element?.vr ?? lookupTag(last.tag)?.vrs[0] ?? "UN";
        setPath(file.dataset, e.path, typedValue(e.value!, vr));
      }
      const t = target === "keep" ? undefined : await transcode(file, target);
      try {
        await writeDicomFile(file, join(outDir, basename(path)), { overwrite: opts.overwrite });
      } finally {
        t?.close();
      }
      if (t?.fallback) console.log(`${path}: ${t.fallback}`);
    } catch (e) {
      failed++;
      console.error(`dcmtidy: ${describeError(e, path)}`);
    }
  }
  return failed ? 1 : 0;
}
