/**
 * `verify`: read every output of a finished run back and check it against its source, which is read
 * again and de-identified in memory the way the run did it. An output must parse, carry the
 * de-identification marks, hold none of its source's PHI (in any element or in its raw bytes), and
 * its UID references must resolve within the output set. Sort-only runs must have placed each
 * input's own bytes. Every file in the output tree must be accounted for by the run's files.csv.
 */
import { join } from "node:path";
import { configFromProtocol } from "../deid/config.ts";
import { DeidError, DeidSession } from "../deid/engine.ts";
import type { Keys } from "../deid/keys.ts";
import { DicomError } from "../dicom/errors.ts";
import { readDicomFile } from "../dicom/io.ts";
import type { DicomFile } from "../dicom/model.ts";
import { maskValue } from "../dicom/phi.ts";
import { buildMeta } from "../dicom/writer.ts";
import type { Protocol } from "../protocol/load.ts";
import { readLookupTable } from "../protocol/lookup.ts";
import { selects } from "../protocol/selector.ts";
import { listFiles } from "../scan/scan.ts";
import { sha256File } from "../util/hash.ts";
import {
  type ElementHit,
  findInBytes,
  findInElements,
  flattenFile,
  type PhiValue,
  phiValues,
  type TextElement,
  withoutParts,
} from "./phi.ts";
import { type FileRow, listOutputTree, readFileRows, VerifyError } from "./records.ts";
import { gunzip } from "../nifti/gzip.ts";
import { parseNifti1Header } from "../nifti/nifti1.ts";

export { VerifyError } from "./records.ts";

/** What kind of problem a finding is. */
export type FindingKind =
  /** files.csv says written, but the output is not there. */
  | "missing"
  /** A file in the output tree that no row of files.csv accounts for. */
  | "unaccounted"
  /** An input file (under the protocol's globs) that files.csv does not list. */
  | "unlisted-input"
  /** The output does not parse as DICOM. */
  | "unreadable"
  /** PatientIdentityRemoved is not YES, or DeidentificationMethod is missing. */
  | "marks"
  /** A PHI value of the source in an element value of the output. */
  | "phi-element"
  /** A PHI value of the source (a name, ID, date or UID) in the output's path. */
  | "phi-path"
  /** A PHI value of the source in the output's raw bytes only (preamble, binary values...). */
  | "phi-bytes"
  /** A ReferencedSOPInstanceUID that does not point at the output of the input it referenced. */
  | "uid-reference"
  /** The outputs of one source study, series or frame of reference do not share one UID (or several share one). */
  | "uid-consistency"
  /** Sort-only: the output is not its input's bytes (nor a link to it). */
  | "not-identical"
  /** The source cannot be read or de-identified again, so the output cannot be checked. */
  | "unverifiable"
  /** A PHI value of a source in the header of a NIfTI volume made from it, or in its JSON sidecar. */
  | "phi-nifti";

/** One problem. Details never hold PHI unless `showPhi`: values are masked, inputs are `input #N`. */
export interface Finding {
  /** What kind of problem it is (see `FindingKind`). */
  readonly kind: FindingKind;
  /** The output file, relative to the output root. */
  readonly output?: string;
  /** The input's row in files.csv (1 = first row), the N of `input #N`. */
  readonly input?: number;
  /** What was found, masked unless `showPhi`. */
  readonly detail: string;
}

/** Options for `verifyOutput`. */
export interface VerifyOptions {
  /** Show PHI values and input paths in findings instead of masks and `input #N`. */
  readonly showPhi?: boolean;
  /** Outputs checked at once (default 4). */
  readonly concurrency?: number;
  /** Called after each written output is checked. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** The result of `verifyOutput`. `findings` empty means the output passed. */
export interface VerifyReport {
  /** The protocol's name and file. */
  readonly protocol: { readonly name: string; readonly file: string };
  /** The output root verified. */
  readonly output: string;
  /** Whether the protocol de-identifies (else: sort only, outputs are the inputs' bytes). */
  readonly deidentified: boolean;
  /** Rows of files.csv by status. */
  readonly rows: { readonly written: number; readonly skipped: number; readonly quarantined: number };
  /** Outputs read back and checked (DICOM files; NIfTI volumes are counted in `nifti`). */
  readonly checked: number;
  /** With NIfTI output: the volumes files.csv names, and how many were read back with their sidecars. */
  readonly nifti?: { readonly volumes: number; readonly checked: number };
  /** Distinct PHI values looked for, summed over outputs. */
  readonly phiValues: number;
  /** Every problem found, output by output in files.csv order, then the tree and the inputs. */
  readonly findings: Finding[];
  /** What was not checked, and why. */
  readonly notes: string[];
}

const UID_TAGS = {
  sop: "SOPInstanceUID",
  study: "StudyInstanceUID",
  series: "SeriesInstanceUID",
  frame: "FrameOfReferenceUID",
} as const;
type UidKey = keyof typeof UID_TAGS;
const REFERENCED_SOP_INSTANCE_UID = 0x00081155;

/** What the cross-file checks need from one checked output. */
interface OutputFacts {
  readonly row: number;
  readonly output: string;
  readonly source: Partial<Record<UidKey, string>>;
  readonly actual: Partial<Record<UidKey, string>>;
  /** ReferencedSOPInstanceUIDs: the source's values and the output's at the same path. */
  readonly refs: { path: string; source: readonly string[]; actual: readonly string[] }[];
}

/** Per-run state of the checks. */
interface Context {
  readonly protocol: Protocol;
  readonly session?: DeidSession;
  readonly hooked: (e: TextElement) => boolean;
  readonly showPhi: boolean;
  readonly rows: readonly FileRow[];
  /** Each source's PHI once worked out (undefined: the source could not be checked, and said so). */
  readonly phiOf: Map<number, PhiValue[] | undefined>;
}

/**
 * Verify the output of a finished run of `protocol`: `keys` are the salt's (needed when the protocol
 * de-identifies). Throws `VerifyError` when there is nothing to verify (no files.csv) or files.csv
 * was written for other input roots; every problem with the outputs is a finding.
 *
 * Limits: TypeScript hooks run only in the run's sandboxed workers, so values of elements a hook
 * handles are not looked for; top-level Pixel Data is not searched byte by byte.
 */
export async function verifyOutput(
  protocol: Protocol,
  keys?: Keys,
  opts: VerifyOptions = {},
): Promise<VerifyReport> {
  const root = protocol.output.root;
  const rows = await readFileRows(root);
  const inputRoots = new Set(protocol.input.roots);
  for (const r of new Set(rows.map((r) => r.root))) {
    if (!inputRoots.has(r)) {
      throw new VerifyError(
        `the run in ${root} read the input ${r}, not ${[...inputRoots].join(", ")}: pass --input ${r}`,
      );
    }
  }
  const showPhi = opts.showPhi ?? false;
  const notes: string[] = [];
  const d = protocol.deidentify;
  let session: DeidSession | undefined;
  let hooked = (_e: TextElement) => false;
  if (d) {
    if (!keys) throw new Error("verifying a de-identifying protocol needs the salt's keys");
    const lookup = d.lookupFile ? await readLookupTable(d.lookupFile) : undefined;
    const config = configFromProtocol(protocol, lookup);
    // Hooks run only in the run's sandboxed workers; here their elements come out removed (as in
    // plan), and their values are not looked for.
    const stubs = Object.fromEntries(Object.keys(config.hooks).map((k) => [k, () => undefined]));
    session = new DeidSession({ ...config, hooks: stubs }, keys);
    const hookRules = config.rules.filter((r) => typeof r.action === "object" && "fn" in r.action);
    if (hookRules.length) {
      hooked = (e) => {
        const rule = config.rules.find((r) => selects(r.selector, e.tag, e.creator));
        return rule !== undefined && hookRules.includes(rule);
      };
      notes.push(
        "TypeScript hooks run only in the run's workers: values of the elements they handle were not looked for",
      );
    }
  } else {
    notes.push(
      "sort-only protocol: outputs must be their inputs' own bytes; PHI and UID checks do not apply",
    );
  }
  const ctx: Context = { protocol, session, hooked, showPhi, rows, phiOf: new Map() };
  const findings: Finding[] = [];

  const tree = await listOutputTree(root, [protocol.report, ...(protocol.key ? [protocol.key] : [])]);
  const inTree = new Set(tree);
  const all = rows.map((r, i) => ({ r, i })).filter(({ r }) => r.status === "written");
  // With NIfTI only, a row's Output is its volume: there is no DICOM output to read back.
  const written = protocol.output.format === "nifti" ? [] : all;
  const volumes = niftiVolumes(rows);
  const claimed = new Set(written.map(({ r }) => r.output));
  for (const v of volumes.keys()) claimed.add(v).add(sidecarOf(v));
  const perRow = new Map<number, Finding[]>();
  const facts: OutputFacts[] = [];
  let phiCount = 0;
  let checked = 0;
  let niftiChecked = 0;
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < written.length) {
      const { r, i } = written[next++];
      const out: Finding[] = [];
      perRow.set(i, out);
      if (!inTree.has(r.output)) {
        out.push({
          kind: "missing",
          output: r.output,
          input: i + 1,
          detail: "files.csv says written; not there",
        });
      } else {
        const res = await checkOutput(ctx, i, out);
        checked++;
        phiCount += res.phi;
        if (res.facts) facts.push(res.facts);
      }
      opts.onProgress?.(++done, written.length + volumes.size);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, worker));
  for (const { i } of written) findings.push(...(perRow.get(i) ?? []));
  const niftiList = [...volumes];
  const perVolume = new Map<string, Finding[]>();
  let nextVolume = 0;
  const niftiWorker = async () => {
    while (nextVolume < niftiList.length) {
      const [volume, sources] = niftiList[nextVolume++];
      const out: Finding[] = [];
      perVolume.set(volume, out);
      const res = await checkNifti(ctx, volume, sources, inTree, out);
      if (res.checked) niftiChecked++;
      phiCount += res.phi;
      opts.onProgress?.(++done, written.length + volumes.size);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, niftiWorker));
  for (const [volume] of niftiList) findings.push(...(perVolume.get(volume) ?? []));
  if (session) findings.push(...uidFindings(facts.sort((a, b) => a.row - b.row)));
  for (const t of tree) {
    if (!claimed.has(t)) {
      findings.push({
        kind: "unaccounted",
        output: t,
        detail: "in the output tree, but no row of files.csv wrote it",
      });
    }
  }
  findings.push(...await unlistedInputs(protocol, rows, showPhi));
  const count = (s: FileRow["status"]) => rows.filter((r) => r.status === s).length;
  return {
    protocol: { name: protocol.name, file: protocol.file },
    output: root,
    deidentified: d !== undefined,
    rows: { written: count("written"), skipped: count("skipped"), quarantined: count("quarantined") },
    checked,
    ...(protocol.output.format === "dicom"
      ? {}
      : { nifti: { volumes: volumes.size, checked: niftiChecked } }),
    phiValues: phiCount,
    findings,
    notes,
  };
}

/** Input files under the protocol's globs that files.csv does not list (added after the run?). */
async function unlistedInputs(
  protocol: Protocol,
  rows: readonly FileRow[],
  showPhi: boolean,
): Promise<Finding[]> {
  const listed = new Set(rows.map((r) => `${r.root}\0${r.input}`));
  let found: Awaited<ReturnType<typeof listFiles>>;
  try {
    found = await listFiles({ ...protocol.input });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return []; // the input is gone: each output says so
    throw e;
  }
  return found.filter((f) => !listed.has(`${f.root}\0${f.rel}`)).map((f) => ({
    kind: "unlisted-input" as const,
    detail: `${showPhi ? f.rel : "an input file"} is not in files.csv (added after the run?)` +
      (showPhi ? "" : "; --show-phi shows its path"),
  }));
}

/** The first value of an element of the top level (or of the file meta group: `meta:Keyword`). */
function top(flat: readonly TextElement[], keyword: string): string | undefined {
  return flat.find((e) => e.path === keyword)?.strings[0];
}

function uidsOf(flat: readonly TextElement[]): Partial<Record<UidKey, string>> {
  const out: Partial<Record<UidKey, string>> = {};
  for (const [k, keyword] of Object.entries(UID_TAGS) as [UidKey, string][]) {
    const v = top(flat, keyword);
    if (v) out[k] = v;
  }
  return out;
}

/** Check one written output; findings go to `out`. */
async function checkOutput(
  ctx: Context,
  row: number,
  out: Finding[],
): Promise<{ phi: number; facts?: OutputFacts }> {
  const r = ctx.rows[row];
  const dest = join(ctx.protocol.output.root, r.output);
  const src = join(r.root, r.input);
  const input = row + 1;
  const ref = ctx.showPhi ? r.input : `input #${input}`;
  const find = (kind: FindingKind, detail: string) => out.push({ kind, output: r.output, input, detail });
  const mask = (v: PhiValue) => (ctx.showPhi ? v.value : maskValue(v.value, v.vr));

  let actual: DicomFile;
  try {
    actual = await readDicomFile(dest);
  } catch (e) {
    if (!(e instanceof DicomError)) throw e;
    find("unreadable", e.toString().replace(`${dest}: `, ""));
    return { phi: 0 };
  }
  if (!ctx.session) {
    await checkPlaced(dest, src, ref, find);
    return { phi: 0 };
  }

  const actualFlat = flattenFile(actual);
  const removed = top(actualFlat, "PatientIdentityRemoved");
  if (removed !== "YES") find("marks", `PatientIdentityRemoved is ${removed ? "not YES" : "missing"}`);
  if (!top(actualFlat, "DeidentificationMethod")) find("marks", "DeidentificationMethod is missing");
  const sopMeta = top(actualFlat, "meta:MediaStorageSOPInstanceUID");
  const sop = top(actualFlat, "SOPInstanceUID");
  if (sopMeta && sop && sopMeta !== sop) {
    find("uid-reference", "MediaStorageSOPInstanceUID of the file meta differs from SOPInstanceUID");
  }

  const worked = await sourcePhi(ctx, row, (detail) => find("unverifiable", detail));
  if (!worked) return { phi: 0 };
  const { before, phi } = worked;
  const sourceUIDs = uidsOf(before);

  const inElements = findInElements(phi, actualFlat);
  for (const h of withoutParts(inElements)) {
    const more = h.paths.length > 3 ? ` and ${h.paths.length - 3} more` : "";
    find(
      "phi-element",
      `${h.paths.slice(0, 3).join(", ")}${more} hold${h.paths.length === 1 ? "s" : ""} ${mask(h.phi)}, ` +
        `the source's ${h.phi.source} (${ref})`,
    );
  }
  // Folder and file names are sanitised ("Doe^John" becomes "Doe_John"): compare words.
  const words = (text: string) => ` ${text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, " ").trim()} `;
  const pathWords = words(r.output);
  // Names, dates, UIDs and IDs only: descriptions legitimately shape folder names, and a removed
  // ProtocolName may share its words with the kept SeriesDescription.
  const identifying = (p: PhiValue) =>
    ["PN", "DA", "DT", "UI"].includes(p.vr) || /(ID|IDs|Number)(\[|$)/.test(p.source.split(".").pop() ?? "");
  const inPath = phi.filter((p) =>
    identifying(p) && words(p.value).trim().length >= 3 && pathWords.includes(words(p.value))
  );
  for (const p of withoutPartsOf(inPath)) {
    find("phi-path", `its path holds ${mask(p)}, the source's ${p.source} (${ref})`);
  }
  const foundAlready = new Set(inElements.map((h) => h.phi));
  for (const h of await findInBytes(dest, actual, phi.filter((p) => !foundAlready.has(p)))) {
    find("phi-bytes", `${mask(h.phi)}, the source's ${h.phi.source} (${ref}), is in the ${h.where}`);
  }

  const actualByPath = new Map(actualFlat.map((e) => [e.path, e]));
  const refs = before.filter((e) => e.tag === REFERENCED_SOP_INSTANCE_UID && e.strings.length > 0)
    .flatMap((e) => {
      const a = actualByPath.get(e.path);
      return a ? [{ path: e.path, source: e.strings, actual: a.strings }] : [];
    });
  return {
    phi: phi.length,
    facts: { row: input, output: r.output, source: sourceUIDs, actual: uidsOf(actualFlat), refs },
  };
}

/**
 * Read a row's source again and de-identify it in memory as the run did: its flattened elements
 * before, and the PHI values the output must not hold (remembered for the row's NIfTI checks).
 * A source that is gone, no longer reads or no longer de-identifies is reported through
 * `unverifiable` and gives undefined.
 */
async function sourcePhi(
  ctx: Context,
  row: number,
  unverifiable: (detail: string) => void,
): Promise<{ before: TextElement[]; phi: PhiValue[] } | undefined> {
  const r = ctx.rows[row];
  const ref = ctx.showPhi ? r.input : `input #${row + 1}`;
  const give = (result: { before: TextElement[]; phi: PhiValue[] } | undefined) => {
    ctx.phiOf.set(row, result?.phi);
    return result;
  };
  let source: DicomFile;
  try {
    source = await readDicomFile(join(r.root, r.input));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) unverifiable(`its source ${ref} is gone`);
    else if (e instanceof DicomError) unverifiable(`its source ${ref} no longer reads: ${e.message}`);
    else throw e;
    return give(undefined);
  }
  const before = flattenFile(source);
  try {
    const res = ctx.session!.deidentify(source);
    if (res.quarantine) {
      unverifiable(`its source ${ref} would be quarantined now: ${res.quarantine}`);
      return give(undefined);
    }
  } catch (e) {
    if (!(e instanceof DeidError)) throw e;
    unverifiable(`its source ${ref} no longer de-identifies: ${e.message}`);
    return give(undefined);
  }
  const after = flattenFile(source, buildMeta(source));
  return give({ before, phi: phiValues(before, after, ctx.hooked) });
}

/** The NIfTI volumes files.csv names, each with the rows (indices) of its sources. */
function niftiVolumes(rows: readonly FileRow[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const [i, r] of rows.entries()) {
    if (r.status !== "written") continue;
    for (const v of r.nifti.split(";").filter(Boolean)) out.set(v, [...(out.get(v) ?? []), i]);
  }
  return out;
}

/** A volume's JSON sidecar: `x.nii.gz` -> `x.json`. */
function sidecarOf(volume: string): string {
  return `${volume.replace(/\.nii\.gz$/, "")}.json`;
}

/** Every string of a JSON value (numbers as text), with its path: what a sidecar says. */
function jsonStrings(value: unknown, path = ""): { path: string; text: string }[] {
  if (typeof value === "string") return [{ path, text: value }];
  if (typeof value === "number" || typeof value === "boolean") return [{ path, text: String(value) }];
  if (Array.isArray(value)) return value.flatMap((v, i) => jsonStrings(v, `${path}[${i}]`));
  if (value && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => [
      { path: path ? `${path}.${k}` : k, text: k },
      ...jsonStrings(v, path ? `${path}.${k}` : k),
    ]);
  }
  return [];
}

/**
 * Check one NIfTI volume and its sidecar: both there, the volume a gzipped NIfTI-1 image whose
 * header describes the voxels it holds, the sidecar JSON; and (when the protocol de-identifies)
 * neither the header's text (everything before the voxels: descrip, aux_file, intent_name...) nor
 * any string of the sidecar holds a PHI value of the volume's sources.
 */
async function checkNifti(
  ctx: Context,
  volume: string,
  sources: readonly number[],
  inTree: ReadonlySet<string>,
  out: Finding[],
): Promise<{ checked: boolean; phi: number }> {
  const input = sources[0] + 1;
  const sidecar = sidecarOf(volume);
  const find = (kind: FindingKind, detail: string, output = volume) =>
    out.push({ kind, output, input, detail });
  const missing = [volume, sidecar].filter((p) => !inTree.has(p));
  for (const p of missing) find("missing", "files.csv names it as a NIfTI output; not there", p);
  if (missing.length) return { checked: false, phi: 0 };
  const root = ctx.protocol.output.root;
  let header: Uint8Array;
  try {
    const bytes = await gunzip(await Deno.readFile(join(root, volume)));
    const h = parseNifti1Header(bytes);
    if (h.magic !== "n+1") throw new Error(`the magic is not "n+1" but ${JSON.stringify(h.magic)}`);
    const voxels = h.dims.reduce((a, b) => a * b, 1) * h.bitpix / 8;
    if (h.dims.length < 1 || h.voxOffset < 352 || bytes.length < h.voxOffset + voxels) {
      throw new Error(
        `its header describes ${voxels} bytes of voxels at ${h.voxOffset}; the file has ${bytes.length}`,
      );
    }
    header = bytes.subarray(0, h.voxOffset);
  } catch (e) {
    find("unreadable", `not a gzipped NIfTI-1 image: ${(e as Error).message}`);
    return { checked: true, phi: 0 };
  }
  let said: { path: string; text: string }[];
  try {
    said = jsonStrings(JSON.parse(await Deno.readTextFile(join(root, sidecar))));
  } catch (e) {
    find("unreadable", `its sidecar is not JSON: ${(e as Error).message}`, sidecar);
    return { checked: true, phi: 0 };
  }
  if (!ctx.session) return { checked: true, phi: 0 };
  const phi = new Map<string, { value: PhiValue; row: number }>();
  for (const row of sources) {
    const known = ctx.phiOf.has(row)
      ? ctx.phiOf.get(row)
      : (await sourcePhi(ctx, row, (detail) => find("unverifiable", detail)))?.phi;
    for (const v of known ?? []) {
      if (!phi.has(v.value.toLowerCase())) phi.set(v.value.toLowerCase(), { value: v, row });
    }
  }
  const mask = (v: PhiValue) => (ctx.showPhi ? v.value : maskValue(v.value, v.vr));
  const ref = (row: number) => (ctx.showPhi ? ctx.rows[row].input : `input #${row + 1}`);
  const headerText = new TextDecoder("latin1").decode(header).toLowerCase();
  const utf8 = new TextEncoder();
  const inHeader: ElementHit[] = [];
  const inSidecar: ElementHit[] = [];
  for (const [key, { value }] of phi) {
    const latin = new TextDecoder("latin1").decode(utf8.encode(value.value)).toLowerCase();
    if (headerText.includes(key) || headerText.includes(latin)) {
      inHeader.push({ phi: value, paths: ["header"] });
    }
    const at = said.filter((s) => s.text.toLowerCase().includes(key)).map((s) => s.path);
    if (at.length) inSidecar.push({ phi: value, paths: at });
  }
  // A surname inside the whole name, at the same places, is the same finding.
  const rowOf = (v: PhiValue) => phi.get(v.value.toLowerCase())!.row;
  for (const h of withoutParts(inHeader)) {
    find(
      "phi-nifti",
      `${mask(h.phi)}, the source's ${h.phi.source} (${ref(rowOf(h.phi))}), is in the NIfTI header`,
    );
  }
  for (const h of withoutParts(inSidecar)) {
    find(
      "phi-nifti",
      `${mask(h.phi)}, the source's ${h.phi.source} (${ref(rowOf(h.phi))}), is in the sidecar ` +
        `(${h.paths.slice(0, 3).join(", ")})`,
      sidecar,
    );
  }
  return { checked: true, phi: phi.size };
}

/** Sort only: the output must be the input's bytes (a copy or hardlink) or a symlink to it. */
async function checkPlaced(
  dest: string,
  src: string,
  ref: string,
  find: (kind: FindingKind, detail: string) => void,
): Promise<void> {
  try {
    if ((await Deno.lstat(dest)).isSymlink) {
      if ((await Deno.realPath(dest)) !== (await Deno.realPath(src))) {
        find("not-identical", `a symlink that does not lead to its source ${ref}`);
      }
      return;
    }
    if ((await sha256File(dest)) !== (await sha256File(src))) {
      find("not-identical", `its bytes differ from its source ${ref}`);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    find("unverifiable", `its source ${ref} is gone`);
  }
}

/** References between outputs, and one output UID per source study, series and frame of reference. */
function uidFindings(facts: readonly OutputFacts[]): Finding[] {
  const findings: Finding[] = [];
  // Which outputs each source SOP Instance UID became (duplicates may share one).
  const outputsOf = new Map<string, OutputFacts[]>();
  for (const f of facts) {
    if (!f.source.sop) continue;
    outputsOf.set(f.source.sop, [...(outputsOf.get(f.source.sop) ?? []), f]);
  }
  const bySop = new Map<string, OutputFacts>();
  for (const f of facts) if (f.actual.sop) bySop.set(f.actual.sop, f);
  for (const f of facts) {
    for (const r of f.refs) {
      r.source.forEach((value, i) => {
        const targets = outputsOf.get(value);
        if (!targets) return; // dangling in the source already: nothing of ours to resolve
        const now = r.actual[i];
        if (targets.some((t) => t.actual.sop === now)) return;
        const hit = now ? bySop.get(now) : undefined;
        findings.push({
          kind: "uid-reference",
          output: f.output,
          input: f.row,
          detail: `${r.path} should point at ${targets[0].output} but ${
            hit ? `points at ${hit.output}` : "points at no output"
          }`,
        });
      });
    }
  }
  for (const key of ["study", "series", "frame"] as const) {
    const name = UID_TAGS[key];
    const split = new Map<string, Map<string, string[]>>();
    const merged = new Map<string, Set<string>>();
    for (const f of facts) {
      const s = f.source[key];
      const a = f.actual[key] ?? "(none)";
      if (!s) continue;
      const group = split.get(s) ?? new Map<string, string[]>();
      group.set(a, [...(group.get(a) ?? []), f.output]);
      split.set(s, group);
      merged.set(a, (merged.get(a) ?? new Set()).add(s));
    }
    for (const group of split.values()) {
      if (group.size < 2) continue;
      const sorted = [...group.values()].sort((x, y) => y.length - x.length);
      for (const minority of sorted.slice(1)) {
        for (const output of minority) {
          findings.push({
            kind: "uid-consistency",
            output,
            detail: `its ${name} differs from the other outputs of its source's ${key} (e.g. ${
              sorted[0][0]
            })`,
          });
        }
      }
    }
    for (const [a, sources] of merged) {
      if (a === "(none)" || sources.size < 2) continue;
      const outputs = facts.filter((f) => f.actual[key] === a).map((f) => f.output);
      findings.push({
        kind: "uid-consistency",
        output: outputs[0],
        detail: `${sources.size} different source ${name}s became one (${outputs.length} outputs)`,
      });
    }
  }
  return findings;
}

/** Values another (longer) value in the list contains: a surname inside the whole name. */
function withoutPartsOf(values: readonly PhiValue[]): PhiValue[] {
  return values.filter((v) =>
    !values.some((o) =>
      o !== v && o.value.length > v.value.length && o.value.toLowerCase().includes(v.value.toLowerCase())
    )
  );
}
