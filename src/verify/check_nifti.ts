/**
 * NIfTI outputs: each volume files.csv names is there with its JSON sidecar, reads as a gzipped
 * NIfTI-1 image, and (when the protocol de-identifies) holds no PHI of its sources in its header
 * or its sidecar (`phi-nifti`).
 */
import { join } from "node:path";
import { gunzip } from "../nifti/gzip.ts";
import { parseNifti1Header } from "../nifti/nifti1.ts";
import { type Context, inputRef, shown } from "./_context.ts";
import { sourcePhi } from "./_source.ts";
import type { Finding, FindingKind } from "./findings.ts";
import { type ElementHit, type PhiValue, withoutParts } from "./phi.ts";
import { findToken, needleOf } from "./_tokens.ts";
import type { FileRow } from "./records.ts";

/** The NIfTI volumes files.csv names, each with the rows (indices) of its sources. */
export function niftiVolumes(rows: readonly FileRow[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const [i, r] of rows.entries()) {
    if (r.status !== "written") continue;
    for (const v of r.nifti.split(";").filter(Boolean)) out.set(v, [...(out.get(v) ?? []), i]);
  }
  return out;
}

/** A volume's JSON sidecar: `x.nii.gz` -> `x.json`. */
export function sidecarOf(volume: string): string {
  return `${volume.replace(/\.nii\.gz$/, "")}.json`;
}

/**
 * Every value of a JSON document (numbers as text), with its path: what a sidecar says. Keys are
 * not values: they are the converter's words (`ImageOrientationPatientDICOM`), never the source's.
 */
function jsonStrings(value: unknown, path = ""): { path: string; text: string }[] {
  if (typeof value === "string") return [{ path, text: value }];
  if (typeof value === "number" || typeof value === "boolean") return [{ path, text: String(value) }];
  if (Array.isArray(value)) return value.flatMap((v, i) => jsonStrings(v, `${path}[${i}]`));
  if (value && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => jsonStrings(v, path ? `${path}.${k}` : k));
  }
  return [];
}

/**
 * Check one NIfTI volume and its sidecar: both there, the volume a gzipped NIfTI-1 image whose
 * header describes the voxels it holds, the sidecar JSON; and (when the protocol de-identifies)
 * neither the header's text (everything before the voxels: descrip, aux_file, intent_name...) nor
 * any value of the sidecar (keys are ours) holds a PHI value of the volume's sources as a token.
 */
export async function checkNifti(
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
  // The header's text read as Latin-1 and as UTF-8; values matched as tokens (`_tokens.ts`).
  const headerTexts = [new TextDecoder("latin1").decode(header), new TextDecoder().decode(header)];
  const inHeader: ElementHit[] = [];
  const inSidecar: ElementHit[] = [];
  for (const { value } of phi.values()) {
    const n = needleOf(value);
    if (!n) continue;
    const h = headerTexts.map((t) => findToken(n, t)).find((x) => x !== undefined);
    if (h) inHeader.push({ phi: value, paths: ["header"], rule: h.rule });
    let rule = "";
    const at = said.filter((s) => {
      const hit = findToken(n, s.text);
      if (hit && !rule) rule = hit.rule;
      return hit !== undefined;
    }).map((s) => s.path);
    if (at.length) inSidecar.push({ phi: value, paths: at, rule });
  }
  // A surname inside the whole name, at the same places, is the same finding.
  const rowOf = (v: PhiValue) => phi.get(v.value.toLowerCase())!.row;
  for (const h of withoutParts(inHeader)) {
    find(
      "phi-nifti",
      `${shown(ctx, h.phi)}, the source's ${h.phi.source} (${
        inputRef(ctx, rowOf(h.phi))
      }), is in the NIfTI header [${h.rule}]`,
    );
  }
  for (const h of withoutParts(inSidecar)) {
    find(
      "phi-nifti",
      `${shown(ctx, h.phi)}, the source's ${h.phi.source} (${
        inputRef(ctx, rowOf(h.phi))
      }), is in the sidecar ` +
        `(${h.paths.slice(0, 3).join(", ")}) [${h.rule}]`,
      sidecar,
    );
  }
  return { checked: true, phi: phi.size };
}
