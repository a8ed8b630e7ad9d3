/**
 * What every check of one verify shares: the protocol, the de-identification session that redoes
 * the run's work in memory, the rows of files.csv, each source's PHI once worked out, and how a
 * finding names an input and shows a value. Private to src/verify/.
 */
import { loadDeidConfig } from "../deid/config.ts";
import { type DeidSession, openSession } from "../deid/session.ts";
import type { Keys } from "../deid/keys.ts";
import { maskValue } from "../dicom/phi.ts";
import type { Protocol } from "../protocol/protocol.ts";
import { selects } from "../protocol/selector.ts";
import type { PhiValue, TextElement } from "./phi.ts";
import type { FileRow } from "./records.ts";

/** Per-run state of the checks. */
export interface Context {
  readonly protocol: Protocol;
  /** The run's de-identification, redone in memory; undefined for a sort-only protocol. */
  readonly session?: DeidSession;
  /** Whether a TypeScript hook handles this element (its values are not looked for). */
  readonly hooked: (e: TextElement) => boolean;
  readonly showPhi: boolean;
  readonly rows: readonly FileRow[];
  /** Each source's PHI once worked out (undefined: the source could not be checked, and said so). */
  readonly phiOf: Map<number, PhiValue[] | undefined>;
}

/**
 * The context of a verify of `protocol`: with a de-identifying protocol, a session with the
 * salt's `keys`, opened with hooks stubbed. What will not be checked, and why, goes to `notes`.
 */
export async function openContext(
  protocol: Protocol,
  keys: Keys | undefined,
  rows: readonly FileRow[],
  showPhi: boolean,
  notes: string[],
): Promise<Context> {
  const d = protocol.deidentify;
  let session: DeidSession | undefined;
  let hooked = (_e: TextElement) => false;
  if (d) {
    if (!keys) throw new Error("verifying a de-identifying protocol needs the salt's keys");
    const config = await loadDeidConfig(protocol);
    // Hooks run only in the run's sandboxed workers; here their elements come out removed (as in
    // plan), and their values are not looked for.
    session = openSession(config, keys, { hooks: "stub" });
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
  return { protocol, session, hooked, showPhi, rows, phiOf: new Map() };
}

/** How a finding names the input of a row: its path with `showPhi`, else `input #N`. */
export function inputRef(ctx: Context, row: number): string {
  return ctx.showPhi ? ctx.rows[row].input : `input #${row + 1}`;
}

/** A PHI value as a finding shows it: itself with `showPhi`, else masked. */
export function shown(ctx: Context, v: PhiValue): string {
  return ctx.showPhi ? v.value : maskValue(v.value, v.vr);
}

/** The first value of an element of the top level (or of the file meta group: `meta:Keyword`). */
export function top(flat: readonly TextElement[], keyword: string): string | undefined {
  return flat.find((e) => e.path === keyword)?.strings[0];
}
