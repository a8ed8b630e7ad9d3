/** The `rules` command: the effective de-identification table, standard rows and protocol rules. */
import { allRules, effectiveAction, type OptionName, RULES_EDITION } from "../standard/ps3_15.ts";
import { type LoadOptions, loadProtocol } from "../protocol/load.ts";

/** Print the effective table: one line per PS3.15 row with the action in force, then protocol rules. */
export async function rulesCommand(opts: { protocol?: string } & LoadOptions): Promise<number> {
  let options: readonly OptionName[] = [];
  const overrides: string[] = [];
  const pixels: string[] = [];
  if (opts.protocol) {
    // The table does not need the salt: do not ask for it here.
    const p = await loadProtocol(opts.protocol, { ...opts, env: () => "salt-not-needed-to-print-rules" });
    options = p.deidentify?.options ?? [];
    for (const r of p.deidentify?.rules ?? []) {
      overrides.push(`${r.selector.text.padEnd(34)} ${JSON.stringify(r.action)}  (${r.origin})`);
    }
    const d = p.deidentify;
    for (const r of d?.pixelRules ?? []) {
      const when = r.when.map((c) =>
        `${c.key} ${JSON.stringify(c.test).replace(/^\{"(\w+)":(.*)\}$/, "$1 $2")}`
      );
      const blank = r.blank === "all" ? "all" : r.blank.map((b) => `[${b.join(", ")}]`).join(" ");
      pixels.push(
        `${r.name}: when ${when.join(" and ")}: blank ${blank}${
          r.keepUltrasoundRegions ? ", keep ultrasound regions" : ""
        }`,
      );
    }
    if (d && pixels.length) {
      pixels.unshift(
        `# pixel rules (burned_in: ${d.burned_in}${d.burned_in === "blank" ? "" : ": not applied"})`,
      );
    }
  }
  console.log(`# ${RULES_EDITION}`);
  console.log(`# options: ${options.length ? options.join(", ") : "none (basic profile)"}`);
  console.log(`# tag           action  basic  keyword`);
  for (const r of allRules()) {
    const action = effectiveAction(r, options);
    console.log(`${r.tag.padEnd(14)} ${action.padEnd(7)} ${r.basic.padEnd(6)} ${r.keyword ?? r.name}`);
  }
  if (overrides.length) {
    console.log(`# protocol per-tag rules (take precedence over the rows above)`);
    for (const o of overrides) console.log(o);
  }
  for (const line of pixels) console.log(line);
  return 0;
}
