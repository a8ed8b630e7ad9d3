/**
 * The plan: for every scanned file, what will happen to it (written where, skipped or quarantined
 * and why), computed from headers only. `dcmtidy plan` shows it; `dcmtidy run` executes it.
 * Output names come from the de-identified header, never the original.
 */
import { readDicomFile } from "../dicom/io.ts";
import type { DicomFile } from "../dicom/model.ts";
import { configFromProtocol } from "../deid/config.ts";
import { DeidError, DeidSession } from "../deid/engine.ts";
import type { Keys } from "../deid/keys.ts";
import type { Protocol } from "../protocol/load.ts";
import { readLookupTable } from "../protocol/lookup.ts";
import { MISSING, outputPath, valuesFromDataSet } from "../protocol/template.ts";
import { inputRef, scan, type ScannedFile } from "../scan/scan.ts";

/** What will happen to one input file. */
export type Disposition = "write" | "skip" | "quarantine";

/** One input file in the plan. */
export interface PlannedFile {
  readonly input: ScannedFile;
  status: Disposition;
  /** Why it is skipped or quarantined, or a note on a written file (burned-in suspect). */
  reason?: string;
  /** Destination relative to the output root, with `/` separators. */
  dest?: string;
  readonly pseudoId?: string;
  readonly studyUID?: string;
  readonly seriesUID?: string;
  readonly seriesDescription?: string;
  readonly modality?: string;
}

/** A compiled plan. */
export interface Plan {
  readonly protocol: Protocol;
  readonly files: PlannedFile[];
  readonly warnings: string[];
  readonly errors: string[];
}

function firstValue(file: DicomFile, tag: number): string | undefined {
  const v = valuesFromDataSet(file.dataset, "").value(tag);
  return v === undefined || v === "" ? undefined : v;
}

/**
 * Scan the inputs and decide every file's fate. `keys` is needed when the protocol de-identifies
 * (pseudonyms and UIDs shape the output names).
 */
export async function makePlan(
  protocol: Protocol,
  keys?: Keys,
  onProgress?: (done: number, total: number) => void,
): Promise<Plan> {
  const warnings: string[] = [];
  const errors: string[] = [];
  for (const root of protocol.input.roots) {
    try {
      if (!(await Deno.stat(root)).isDirectory) errors.push(`input root ${root} is not a folder`);
    } catch {
      errors.push(`input root ${root} does not exist`);
    }
  }
  if (errors.length) return { protocol, files: [], warnings, errors };
  const scanned = await scan({ ...protocol.input, onProgress });
  const d = protocol.deidentify;
  let session: DeidSession | undefined;
  if (d) {
    if (!keys) throw new Error("a de-identifying plan needs the salt's keys");
    const lookup = d.lookupFile ? await readLookupTable(d.lookupFile) : undefined;
    const config = configFromProtocol(protocol, lookup);
    // TypeScript hooks run only in the run's sandboxed workers. Here their elements count as
    // removed, so a path built from them shows "na" rather than an unhooked original value.
    const hooks = Object.fromEntries(Object.keys(config.hooks).map((k) => [k, () => undefined]));
    session = new DeidSession({ ...config, hooks }, keys);
  }
  const files: PlannedFile[] = [];
  const naCount = new Map<number, number>();
  let written = 0;
  for (const [index, input] of scanned.entries()) {
    if (input.kind !== "dicom") {
      const status: Disposition = input.kind === "unreadable" ? "quarantine" : "skip";
      files.push({ input, status, reason: input.reason ?? input.kind });
      continue;
    }
    let file: DicomFile;
    try {
      file = await readDicomFile(input.path, { headerOnly: true });
    } catch (e) {
      files.push({ input, status: "quarantine", reason: (e as Error).message });
      continue;
    }
    let pseudoId: string | undefined;
    let note: string | undefined;
    if (session) {
      try {
        const r = session.deidentify(file);
        if (r.quarantine) {
          files.push({ input, status: "quarantine", reason: r.quarantine });
          continue;
        }
        pseudoId = r.pseudoId;
        for (const w of r.warnings) warnings.push(`${inputRef(index)}: ${w}`);
        if (r.burnedIn) {
          if (d!.burned_in === "quarantine") {
            files.push({ input, status: "quarantine", reason: `burned-in text suspected: ${r.burnedIn}` });
            continue;
          }
          if (d!.burned_in === "warn") note = `burned-in text suspected: ${r.burnedIn}`;
        }
      } catch (e) {
        if (!(e instanceof DeidError)) throw e;
        files.push({ input, status: "quarantine", reason: e.message });
        continue;
      }
    }
    const values = valuesFromDataSet(file.dataset, input.rel, pseudoId);
    for (const t of [...protocol.output.folder.tags, ...protocol.output.file.tags]) {
      if (values.value(t) === undefined) naCount.set(t, (naCount.get(t) ?? 0) + 1);
    }
    const abs = outputPath(protocol.output.root, protocol.output.folder, protocol.output.file, values);
    const dest = abs.slice(protocol.output.root.length + 1).split("\\").join("/");
    files.push({
      input,
      status: "write",
      reason: note,
      dest,
      pseudoId: pseudoId ?? firstValue(file, 0x00100020),
      studyUID: firstValue(file, 0x0020000d),
      seriesUID: firstValue(file, 0x0020000e),
      seriesDescription: firstValue(file, 0x0008103e),
      modality: firstValue(file, 0x00080060),
    });
    written++;
  }
  resolveCollisions(files, protocol.output.onCollision, warnings, errors);
  for (const [t, n] of naCount) {
    if (n === written && written > 0) {
      warnings.push(
        `the output template uses (${
          t.toString(16).padStart(8, "0").replace(/^(.{4})/, "$1,")
        }), which is ${MISSING} for every file (absent, or removed by the profile)`,
      );
    }
  }
  return { protocol, files, warnings, errors };
}

/** Two files for one destination: the later ones (in input order) get `_2`, `_3`... or the plan fails. */
function resolveCollisions(
  files: PlannedFile[],
  mode: "suffix" | "error",
  warnings: string[],
  errors: string[],
): void {
  const used = new Set<string>();
  const lower = (p: string) => p.toLowerCase(); // case-insensitive file systems merge "A" and "a"
  for (const [index, f] of files.entries()) {
    if (f.status !== "write" || !f.dest) continue;
    if (!used.has(lower(f.dest))) {
      used.add(lower(f.dest));
      continue;
    }
    if (mode === "error") {
      errors.push(
        `${inputRef(index)} and another file would both be written as ${f.dest} (on_collision: error)`,
      );
      continue;
    }
    const dot = f.dest.lastIndexOf(".");
    const slash = f.dest.lastIndexOf("/");
    const [stem, ext] = dot > slash ? [f.dest.slice(0, dot), f.dest.slice(dot)] : [f.dest, ""];
    let n = 2;
    while (used.has(lower(`${stem}_${n}${ext}`))) n++;
    const renamed = `${stem}_${n}${ext}`;
    warnings.push(`${inputRef(index)}: ${f.dest} is taken, written as ${renamed}`);
    f.dest = renamed;
    used.add(lower(renamed));
  }
}

/** Counts of a plan, by status. */
export function planTotals(plan: Plan): Record<Disposition, number> {
  const t: Record<Disposition, number> = { write: 0, skip: 0, quarantine: 0 };
  for (const f of plan.files) t[f.status]++;
  return t;
}
