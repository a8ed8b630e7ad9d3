/**
 * Date arithmetic on DICOM DA and DT strings. A value that cannot be read as a date is not kept:
 * the callers empty it, since we cannot prove it is harmless.
 */

const DAY = 86_400_000;

function parseDate(s: string): number | undefined {
  const m = s.match(/^(\d{4})(\d{2})(\d{2})$/);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = Date.UTC(y, mo - 1, d);
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) {
    return undefined;
  }
  return t;
}

function formatDate(t: number): string {
  const d = new Date(t);
  return `${String(d.getUTCFullYear()).padStart(4, "0")}${String(d.getUTCMonth() + 1).padStart(2, "0")}${
    String(d.getUTCDate()).padStart(2, "0")
  }`;
}

/** Shift a DA value (also a DA range `A-B`) by whole days; undefined when it is not a date. */
export function shiftDA(value: string, days: number): string | undefined {
  const parts = value.trim().split("-");
  if (parts.length > 2) return undefined;
  const out: string[] = [];
  for (const p of parts) {
    if (p === "" && parts.length === 2) {
      out.push(""); // open range
      continue;
    }
    const t = parseDate(p);
    if (t === undefined) return undefined;
    out.push(formatDate(t + days * DAY));
  }
  return out.join("-");
}

/** Shift the date part of a DT value, keeping time and offset; undefined unless it has a full date. */
export function shiftDT(value: string, days: number): string | undefined {
  const v = value.trim();
  const m = v.match(/^(\d{8})(\d{0,6}(?:\.\d{1,6})?)([+-]\d{4})?$/);
  if (!m) return undefined;
  const shifted = shiftDA(m[1], days);
  return shifted === undefined ? undefined : shifted + m[2] + (m[3] ?? "");
}

/** Keep only the year: `YYYY0101` for DA, `YYYY0101` for DT (time and offset dropped). */
export function yearOnly(value: string): string | undefined {
  const m = value.trim().match(/^(\d{4})\d{4}/);
  return m ? `${m[1]}0101` : undefined;
}
