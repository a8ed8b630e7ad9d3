/**
 * The codec case's corpus rows: the compressed files of ../shared/corpus (by MANIFEST.tsv), one
 * decode row per transfer syntax, ours beside dcmtk's decoder for it and `gdcmconv --raw`.
 *
 * @module
 */
import { basename, join } from "node:path";
import type { CodecRow, Job } from "./codecs.ts";
import { dirsFor, maxDiff, pixelsOf, timing } from "./codec_util.ts";

const EXPLICIT_LE = "1.2.840.10008.1.2.1";

const CORPUS_DCMTK: Record<string, string> = {
  "1.2.840.10008.1.2.4.50": "dcmdjpeg",
  "1.2.840.10008.1.2.4.51": "dcmdjpeg",
  "1.2.840.10008.1.2.4.57": "dcmdjpeg",
  "1.2.840.10008.1.2.4.70": "dcmdjpeg",
  "1.2.840.10008.1.2.4.80": "dcmdjpls",
  "1.2.840.10008.1.2.4.81": "dcmdjpls",
  "1.2.840.10008.1.2.5": "dcmdrle",
};

/** One decode row per compressed transfer syntax of the corpus (MANIFEST.tsv), checked against dcmtk. */
export async function corpusJobsOf(corpus: string, tmp: string): Promise<Job[]> {
  let manifest: string;
  try {
    manifest = await Deno.readTextFile(join(corpus, "MANIFEST.tsv"));
  } catch {
    return [];
  }
  const bySyntax = new Map<string, { name: string; files: string[] }>();
  for (const line of manifest.split("\n").slice(1)) {
    const [file, , , , ts] = line.split("\t");
    const m = /^(1\.2\.840\.10008\.1\.2\.(?:4\.\d+|5|8\.1)) \(([^)]*)\)/.exec(ts ?? "");
    if (!file || !m) continue;
    const e = bySyntax.get(m[1]) ?? { name: m[2].split(/[: ]/)[0], files: [] };
    e.files.push(join(corpus, file));
    bySyntax.set(m[1], e);
  }
  const jobs: Job[] = [];
  for (const [uid, { name, files }] of [...bySyntax].sort(([a], [b]) => a.localeCompare(b))) {
    const dirs = await dirsFor(tmp, `corpus-${jobs.length}`);
    const dcmtk = CORPUS_DCMTK[uid];
    let stored = 0;
    for (const f of files) stored += (await Deno.stat(f)).size;
    const row: CodecRow = {
      label: `${name} (${uid.slice("1.2.840.10008.1.2.".length)})`,
      direction: "decode",
      files: files.length,
      storedBytes: stored,
      pixelBytes: 0,
      ours: timing("dcmtidy"),
      dcmtk: dcmtk ? timing(dcmtk) : null,
      gdcm: timing("gdcmconv --raw"),
      ok: true,
      check: "",
    };
    jobs.push({
      row,
      inputs: files,
      to: EXPLICIT_LE,
      dcmtk: dcmtk ? [dcmtk, (i, o) => [i, o]] : undefined,
      gdcm: (i, o) => ["--raw", "--quiet", "-i", i, "-o", o],
      dirs,
      corpus: true,
      verify: async () => {
        // Pixel bytes: what our outputs hold. FAIL only for a file a peer decodes and we do not,
        // or one we decode differently from dcmtk.
        const notes: string[] = [];
        const exists = async (p: string) => !!(await Deno.stat(p).catch(() => null));
        for (const f of files) {
          const name = basename(f);
          const [ours, theirs, gdcm] = [dirs.ours, dirs.dcmtk, dirs.gdcm].map((d) => join(d, name));
          if (!(await exists(ours))) {
            const peers = [dcmtk && await exists(theirs) ? dcmtk : "", await exists(gdcm) ? "gdcmconv" : ""];
            if (peers.some(Boolean)) {
              row.ok = false;
              notes.push(`${name}: not decoded by us, decoded by ${peers.filter(Boolean).join(", ")}`);
            }
            continue;
          }
          const px = await pixelsOf(ours).catch(() => null);
          if (!px) continue; // no image in it (a data set without Rows / Columns)
          row.pixelBytes += px.bytes.length;
          if (dcmtk && await exists(theirs)) {
            const d = await maxDiff(ours, theirs).catch(() => NaN);
            if (d !== 0) notes.push(`${name} vs ${dcmtk} ${d}`);
          }
        }
        for (const t of [row.ours, row.dcmtk, row.gdcm]) {
          if (t?.wallMs) t.mbPerS = row.pixelBytes / 1e6 / (t.wallMs / 1000);
        }
        row.check = notes.length ? notes.join("; ") : dcmtk ? `equal to ${dcmtk}'s where both decode` : "";
      },
    });
  }
  return jobs;
}
