/**
 * `verify`: read every output of a finished run back and check it against its source, which is read
 * again and de-identified in memory the way the run did it. An output must parse, carry the
 * de-identification marks, hold none of its source's PHI (in any element or in its raw bytes), and
 * its UID references must resolve within the output set. Sort-only runs must have placed each
 * input's own bytes. Every file in the output tree must be accounted for by the run's files.csv.
 *
 * This file orders the checks; each lives in a file of its own: `check_output.ts` (one DICOM
 * output: `check_placed.ts`, `check_marks.ts`, `check_phi.ts`), `check_nifti.ts` (one NIfTI
 * volume and its sidecar), `check_uids.ts` (UIDs across outputs) and `check_tree.ts` (every file
 * accounted for).
 *
 * @module
 */
import type { Keys } from "../deid/keys.ts";
import type { Protocol } from "../protocol/protocol.ts";
import { openContext } from "./_context.ts";
import { checkNifti, niftiVolumes, sidecarOf } from "./check_nifti.ts";
import { checkOutput } from "./check_output.ts";
import { unaccountedFiles, unlistedInputs } from "./check_tree.ts";
import { type OutputFacts, uidFindings } from "./check_uids.ts";
import { VerifyError } from "./errors.ts";
import type { Finding } from "./findings.ts";
import { type FileRow, listOutputTree, readFileRows } from "./records.ts";

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

/**
 * Verify the output of a finished run of `protocol`: `keys` are the salt's (needed when the protocol
 * de-identifies). Throws `VerifyError` when there is nothing to verify (no files.csv) or files.csv
 * was written for other input roots; every problem with the outputs is a finding.
 *
 * Limits: TypeScript hooks run only in the run's sandboxed workers, so values of elements a hook
 * handles are not looked for; top-level Pixel Data is not searched byte by byte.
 *
 * @example Verify a finished run and list what it found
 * ```ts
 * import { Keys } from "../deid/keys.ts";
 * import { readSalt } from "../deid/salt.ts";
 * import { loadProtocol } from "../protocol/load.ts";
 * import { verifyOutput } from "./verify.ts";
 *
 * const protocol = await loadProtocol("study.yaml");
 * const keys = protocol.deidentify ? new Keys(await readSalt(protocol)) : undefined;
 * const report = await verifyOutput(protocol, keys, { concurrency: 8 });
 * for (const f of report.findings) console.log(f.kind, f.output ?? "-", f.detail); // PHI masked
 * if (report.findings.length === 0) console.log(`${report.checked} outputs checked: clean`);
 * ```
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
  const ctx = await openContext(protocol, keys, rows, showPhi, notes);
  const concurrency = Math.max(1, opts.concurrency ?? 4);

  const tree = await listOutputTree(root, [protocol.report, ...(protocol.key ? [protocol.key] : [])]);
  const inTree = new Set(tree);
  // With NIfTI only, a row's Output is its volume: there is no DICOM output to read back.
  const written = protocol.output.format === "nifti"
    ? []
    : [...rows.keys()].filter((i) => rows[i].status === "written");
  const volumes = [...niftiVolumes(rows)];
  const claimed = new Set(written.map((i) => rows[i].output));
  for (const [v] of volumes) claimed.add(v).add(sidecarOf(v));
  if (protocol.output.dicomdir) claimed.add("DICOMDIR"); // the run's, from the outputs' headers
  let done = 0;
  const progress = () => opts.onProgress?.(++done, written.length + volumes.length);

  // Each output's findings in files.csv order, whichever finished first.
  const facts: OutputFacts[] = [];
  let phiCount = 0;
  let checked = 0;
  const perRow = await inOrder(written, concurrency, async (i, out) => {
    const res = await checkOutput(ctx, i, inTree, out);
    if (res.checked) checked++;
    phiCount += res.phi;
    if (res.facts) facts.push(res.facts);
    progress();
  });
  let niftiChecked = 0;
  const perVolume = await inOrder(volumes, concurrency, async ([volume, sources], out) => {
    const res = await checkNifti(ctx, volume, sources, inTree, out);
    if (res.checked) niftiChecked++;
    phiCount += res.phi;
    progress();
  });
  const findings = [...perRow, ...perVolume];
  if (ctx.session) findings.push(...uidFindings(facts.sort((a, b) => a.row - b.row)));
  findings.push(...unaccountedFiles(tree, claimed));
  findings.push(...await unlistedInputs(protocol, rows, showPhi));

  const count = (s: FileRow["status"]) => rows.filter((r) => r.status === s).length;
  return {
    protocol: { name: protocol.name, file: protocol.file },
    output: root,
    deidentified: protocol.deidentify !== undefined,
    rows: { written: count("written"), skipped: count("skipped"), quarantined: count("quarantined") },
    checked,
    ...(protocol.output.format === "dicom"
      ? {}
      : { nifti: { volumes: volumes.length, checked: niftiChecked } }),
    phiValues: phiCount,
    findings,
    notes,
  };
}

/**
 * Run `check` on every item, `concurrency` at once, each with a list of its own findings; give the
 * findings of all items in the items' order.
 */
async function inOrder<T>(
  items: readonly T[],
  concurrency: number,
  check: (item: T, out: Finding[]) => Promise<void>,
): Promise<Finding[]> {
  const each: Finding[][] = items.map(() => []);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const n = next++;
      await check(items[n], each[n]);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return each.flat();
}
