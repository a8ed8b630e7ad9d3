/** The `verify` command: read a finished run's output back and check it against the inputs. */
import { readSalt } from "../deid/salt.ts";
import { Keys } from "../deid/keys.ts";
import { type LoadOptions, loadProtocol } from "../protocol/load.ts";
import type { FindingKind } from "../verify/findings.ts";
import { verifyOutput, type VerifyReport } from "../verify/verify.ts";
import { VerifyError } from "../verify/errors.ts";
import { UsageError } from "./errors.ts";

/** Exit code when verify found anything. */
export const EXIT_FINDINGS = 4;

/** Findings printed in the summary; `--json` has them all. */
const SHOWN = 20;

/** Options of `dcmtidy verify`. */
export interface VerifyCommandOptions extends LoadOptions {
  json?: boolean;
  showPhi?: boolean;
}

/** The summary: what was checked, findings by kind, the first findings. */
export function verifySummary(r: VerifyReport): string {
  const rows =
    `(files.csv: ${r.rows.written} written, ${r.rows.skipped} skipped, ${r.rows.quarantined} quarantined)`;
  const nifti = r.nifti
    ? `${r.nifti.checked} of ${r.nifti.volumes} NIfTI volumes read back with their sidecars`
    : undefined;
  const lines = [
    `verify ${r.protocol.name}: ` +
    (r.nifti && r.checked === 0 ? nifti! : `${r.checked} of ${r.rows.written} written outputs read back`) +
    (r.nifti && r.checked > 0 ? `, ${nifti}` : "") + ` ${rows}`,
    `output: ${r.output}`,
  ];
  if (r.deidentified) {
    lines.push(
      `PHI: ${r.phiValues} values of the sources looked for in elements and raw bytes` +
        (r.nifti ? ", NIfTI headers and sidecars" : ""),
    );
  }
  for (const n of r.notes) lines.push(`note: ${n}`);
  if (r.findings.length === 0) {
    lines.push(
      "no findings: every output reads, is accounted for" +
        (r.deidentified
          ? ", carries the de-identification marks, holds no PHI of its source, and its UID references resolve"
          : " and is its input's own bytes"),
    );
    return lines.join("\n");
  }
  const byKind = new Map<FindingKind, number>();
  for (const f of r.findings) byKind.set(f.kind, (byKind.get(f.kind) ?? 0) + 1);
  lines.push(
    `${r.findings.length} finding${r.findings.length === 1 ? "" : "s"}: ` +
      [...byKind].map(([k, n]) => `${k} ${n}`).join(", "),
  );
  for (const f of r.findings.slice(0, SHOWN)) {
    lines.push(`  ${f.kind.padEnd(15)} ${f.output ?? "-"}: ${f.detail}`);
  }
  if (r.findings.length > SHOWN) {
    lines.push(`  ... and ${r.findings.length - SHOWN} more (--json lists them all)`);
  }
  return lines.join("\n");
}

/** `dcmtidy verify`: exit 0 when clean, 4 with findings, 2 when there is no run to verify. */
export async function verifyCommand(file: string, opts: VerifyCommandOptions): Promise<number> {
  const protocol = await loadProtocol(file, opts);
  const keys = protocol.deidentify ? new Keys(await readSalt(protocol)) : undefined;
  const progress = Deno.stderr.isTerminal()
    ? (done: number, total: number) => {
      if (done % 100 === 0 || done === total) {
        Deno.stderr.writeSync(new TextEncoder().encode(`\rverifying ${done}/${total}`));
        if (done === total) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
      }
    }
    : undefined;
  let report: VerifyReport;
  try {
    report = await verifyOutput(protocol, keys, { showPhi: opts.showPhi, onProgress: progress });
  } catch (e) {
    if (e instanceof VerifyError) throw new UsageError(e.message);
    throw e;
  }
  console.log(opts.json ? JSON.stringify(report, null, 2) : verifySummary(report));
  return report.findings.length ? EXIT_FINDINGS : 0;
}
