/**
 * The checks of `deidentify` that the schema cannot make: the salt's source, options that exclude
 * or need each other, date shifts, the lookup table, and the tag rules.
 *
 * @module
 */
import type { ProtocolIssue } from "./errors.ts";
import { readLookupTable } from "./lookup.ts";
import type { Protocol } from "./protocol.ts";
import { checkSalt, type SaltCheck } from "./_salt.ts";
import type { DeidentifyData } from "./schema.ts";
import type { ProtocolSource } from "./source.ts";
import { tagRules } from "./_rules.ts";
import { pixelRules } from "./pixel_rules.ts";
import type { Hook } from "./typescript.ts";

/** `deidentify` with its rules parsed and its files located; its problems are added to `issues`. */
export async function checkDeidentify(
  source: ProtocolSource,
  d: DeidentifyData,
  ctx: SaltCheck & { hooks: Record<string, Hook> },
  fromProtocol: (p: string) => string,
  issues: ProtocolIssue[],
  outputRoot: string,
): Promise<NonNullable<Protocol["deidentify"]>> {
  const at = (path: (string | number)[], message: string, key = false) =>
    issues.push(source.issueAt(["deidentify", ...path], message, { key }));
  const saltSource = await checkSalt(d.salt, ctx, at, fromProtocol, outputRoot);

  const opts = new Set(d.options);
  if (opts.has("retain-longitudinal-full-dates") && opts.has("retain-longitudinal-modified-dates")) {
    at(
      ["options"],
      "retain-longitudinal-full-dates and retain-longitudinal-modified-dates exclude each other: pick one",
    );
  }
  if (d.uids === "keep" && !opts.has("retain-uids")) at(["uids"], "uids: keep needs the retain-uids option");
  if (
    d.dates && typeof d.dates === "object" && "min_days" in d.dates.shift &&
    d.dates.shift.min_days > d.dates.shift.max_days
  ) {
    at(
      ["dates", "shift"],
      `min_days (${d.dates.shift.min_days}) is greater than max_days (${d.dates.shift.max_days})`,
    );
  }

  const shifts = d.dates !== undefined && typeof d.dates === "object";
  if (opts.has("retain-longitudinal-modified-dates") && !shifts && d.dates !== "year-only") {
    at(
      ["options"],
      "retain-longitudinal-modified-dates needs dates: { shift: ... } or dates: year-only to say how",
    );
  }
  for (const [k, action] of Object.entries(d.tags)) {
    if (typeof action === "object" && "shift_date" in action && !shifts) {
      at(["tags", k], "shift_date needs dates: { shift: ... } to know by how much");
    }
  }

  let lookupFile: string | undefined;
  if (typeof d.patient_id === "object" && "lookup" in d.patient_id) {
    lookupFile = fromProtocol(d.patient_id.lookup.file);
    for (const problem of await readLookupTable(lookupFile).then(() => [], (e: Error) => [e.message])) {
      at(["patient_id", "lookup", "file"], problem);
    }
  }

  const rules = await tagRules(d, ctx.hooks, fromProtocol, at);
  const resolvedPixels = pixelRules(d.pixels, at);
  if (d.burned_in !== "blank" && d.pixels.length > 0) {
    at(
      ["pixels"],
      `pixel rules are used with burned_in: blank; with burned_in: ${d.burned_in} they would do nothing ` +
        "(files would be written unblanked, or quarantined): say blank",
    );
  }
  if (d.burned_in === "blank" && d.pixels.length === 0) {
    at(
      ["burned_in"],
      "burned_in: blank needs `pixels` rules (which regions to blank for which images); without any, every " +
        "suspect would be quarantined: say quarantine",
    );
  }
  return { ...d, rules, pixelRules: resolvedPixels, saltSource, lookupFile, hooks: ctx.hooks };
}
