/**
 * The codec case's tables for the terminal (see `codecs.ts`).
 *
 * @module
 */
import type { CodecResults, CodecRow, ToolTiming } from "./codecs.ts";

const f = (n: number, digits = 1) => n.toFixed(digits);
const speed = (t: ToolTiming | null) => (t?.mbPerS ? f(t.mbPerS) : "-");
const ratio = (
  a: ToolTiming,
  b: ToolTiming | null,
) => (a.mbPerS && b?.mbPerS ? f(a.mbPerS / b.mbPerS, 2) : "-");

function table(rows: CodecRow[], stored: string): string[] {
  const cols = [
    "codec",
    "files",
    stored,
    "pixel MB",
    "ours s",
    "ours MB/s",
    "in-proc",
    "dcmtk tool",
    "dcmtk MB/s",
    "gdcm MB/s",
    "ours/dcmtk",
    "ours/gdcm",
    "check",
  ];
  const cells = rows.map((r) => [
    r.label,
    String(r.files),
    f(r.storedBytes / 1e6),
    f(r.pixelBytes / 1e6),
    r.ours.wallMs ? f(r.ours.wallMs / 1000, 2) : "-",
    speed(r.ours),
    r.ours.inProcessMs ? f(r.pixelBytes / 1e3 / r.ours.inProcessMs) : "-",
    r.dcmtk?.tool ?? "-",
    speed(r.dcmtk),
    speed(r.gdcm),
    ratio(r.ours, r.dcmtk),
    ratio(r.ours, r.gdcm),
    `${r.ok ? "OK" : "FAIL"} ${r.check}`,
  ]);
  const width = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === r.length - 1 ? c : i === 0 || i === 7 ? c.padEnd(width[i]) : c.padStart(width[i])))
      .join("  ");
  const out = [line(cols), ...cells.map(line)];
  for (const r of rows) {
    for (const t of [r.ours, r.dcmtk, r.gdcm]) {
      if (t?.error) out.push(`  ${r.label}, ${t.tool}: no figure (${t.error})`);
      else if (t?.failed) out.push(`  ${r.label}, ${t.tool}: timed over all files, but ${t.failed}`);
    }
  }
  return out;
}

/** The codec case's lines: decode table, encode table, corpus table, notes. */
export function formatCodecs(c: CodecResults): string[] {
  const lines = [
    "",
    `codecs: ${c.ctFiles} CT files (512x512, 12 of 16 bits) and ${c.usFiles} US files (30 frames 640x480 RGB), ` +
    `${c.runs} round${c.runs === 1 ? "" : "s"}: median wall times (${
      c.generated ? `data generated in ${f(c.generateMs / 1000)} s` : "data cached"
    })`,
    ...c.missing.map((m) => `  not made: ${m}`),
    "decode to explicit VR little endian files",
    ...table(c.rows.filter((r) => r.direction === "decode"), "stored MB"),
    "encode from explicit VR little endian files",
    ...table(c.rows.filter((r) => r.direction === "encode"), "output MB"),
  ];
  if (c.corpus.length) {
    lines.push(
      "decode of the compressed files of ../shared/corpus (small files: mostly process start-up)",
      ...table(c.corpus, "stored MB"),
    );
  }
  lines.push(
    "(MB/s: decoded pixel bytes / wall time, MB = 10^6 bytes. ours: one `deno run` child per row over all its",
    " files, start-up included; in-proc: the same without Deno's start-up and module loading. dcmtk and",
    " gdcmconv: one process per file (they take one input), one after another, process starts included.",
    " ours/x: our MB/s over theirs, > 1 when we are faster.)",
  );
  return lines;
}
