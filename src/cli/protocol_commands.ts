/** The `init` and `validate` commands: write a starter protocol, check one and show what it resolved. */
import { dirname, join } from "node:path";
import { protocolJsonSchema } from "../protocol/schema.ts";
import { syntaxLabel } from "../pixels/syntaxes.ts";
import { allRules, RULES_EDITION } from "../standard/ps3_15.ts";
import { type LoadOptions, loadProtocol } from "../protocol/load.ts";
import type { Protocol } from "../protocol/protocol.ts";
import { SCHEMA_FILE, type StarterName, STARTERS } from "../protocol/starters.ts";
import {
  describePixelImport,
  detectPixelRuleFormat,
  importPixelRules,
  PIXEL_RULE_FORMATS,
  withPixelRules,
} from "../protocol/pixel_import.ts";
import { describeError, UsageError } from "./errors.ts";

/**
 * Write a commented starter protocol; refuses to replace an existing file. With `pixelsFrom`, a CTP
 * pixel script or a deid recipe is imported as `deidentify.pixels` (with `burned_in: blank`).
 */
export async function initCommand(
  file: string | undefined,
  preset: string,
  pixelsFrom?: string,
): Promise<number> {
  if (!(preset in STARTERS)) {
    throw new UsageError(`unknown preset "${preset}" (presets: ${Object.keys(STARTERS).join(", ")})`);
  }
  const path = file ?? "study.yaml";
  let text: string = STARTERS[preset as StarterName];
  let summary: string | undefined;
  if (pixelsFrom !== undefined) {
    if (!/^deidentify:/m.test(text)) {
      throw new UsageError(`preset ${preset} does not de-identify: --pixels-from needs research or dcm2dir`);
    }
    let rules: string;
    try {
      rules = await Deno.readTextFile(pixelsFrom);
    } catch (e) {
      throw new UsageError(
        `cannot read ${pixelsFrom}: ${describeError(e).replace(/ \(os error \d+\).*$/, "")}`,
      );
    }
    const format = detectPixelRuleFormat(rules);
    if (format === undefined) {
      throw new UsageError(
        `${pixelsFrom}: not a pixel rule file (neither an ${PIXEL_RULE_FORMATS.ctp} nor a ` +
          `${PIXEL_RULE_FORMATS.deid})`,
      );
    }
    const imported = importPixelRules(rules, format);
    text = withPixelRules(text, imported, pixelsFrom);
    summary = describePixelImport(imported, pixelsFrom);
  }
  try {
    await Deno.writeTextFile(path, text, { createNew: true });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new UsageError(`${path} exists already (not overwritten)`);
    }
    throw new UsageError(`cannot write ${path}: ${(e as Error).message.replace(/ \(os error \d+\).*$/, "")}`);
  }
  if (summary) console.log(summary);
  console.log(`wrote ${path} (preset ${preset}); check it with: dcmtidy validate ${path}`);
  // Editors complete and check the protocol from the schema its first line names, beside it.
  const schemaPath = join(dirname(path), SCHEMA_FILE);
  const schema = JSON.stringify(protocolJsonSchema(), null, 2) + "\n";
  const present = await Deno.readTextFile(schemaPath).catch(() => undefined);
  if (present === undefined) {
    await Deno.writeTextFile(schemaPath, schema);
    console.log(`wrote ${schemaPath} (the protocol's schema, for editors)`);
  } else if (present !== schema) {
    console.log(
      `note: ${schemaPath} is from another dcmtidy version; delete it and run init again to update it`,
    );
  }
  return 0;
}

/** A readable summary of what a protocol resolved to. Names where the salt comes from, never its value. */
export function describeProtocol(p: Protocol): string {
  const lines = [
    `protocol ${p.name} (${p.file}, sha256:${p.sha256.slice(0, 12)})`,
    `  input:   ${p.input.roots.join(", ")}`,
    `           include ${p.input.include.join(" ")}${
      p.input.exclude.length ? `; exclude ${p.input.exclude.join(" ")}` : ""
    }`,
    `  output:  ${p.output.root}`,
    `           path ${p.output.folder.source}  file ${p.output.file.source}  mode ${p.output.mode}  on collision ${p.output.onCollision}`,
    `           format ${p.output.format}  transfer syntax ${
      p.output.transferSyntax === "keep" ? "keep (each file's own)" : syntaxLabel(p.output.transferSyntax)
    }`,
    `  report:  ${p.report}`,
  ];
  if (p.key) lines.push(`  key:     ${p.key}`);
  if (p.quarantine) lines.push(`  quarantine: ${p.quarantine}`);
  const d = p.deidentify;
  if (!d) {
    lines.push("  de-identification: none (sort only: files are placed, not changed)");
  } else {
    const salt = "env" in d.saltSource
      ? `environment variable ${d.saltSource.env}`
      : `file ${d.saltSource.file}`;
    lines.push(
      `  de-identification: ${RULES_EDITION.split(";")[0]}, ${d.profile} profile` +
        (d.options.length ? ` + ${d.options.join(", ")}` : ""),
      `  salt:    from ${salt}`,
      `  patient IDs: ${typeof d.patient_id === "string" ? d.patient_id : Object.keys(d.patient_id)[0]}; ` +
        `dates: ${
          d.dates === undefined ? "as the profile says" : typeof d.dates === "string" ? d.dates : "shift"
        }; ` +
        `UIDs: ${d.uids}; private tags: ${
          typeof d.private_tags === "string" ? d.private_tags : "keep_creators"
        }; ` +
        `burned-in: ${d.burned_in}`,
      `  rules:   ${allRules().length} standard rows + ${d.rules.length} protocol rule(s) ` +
        `(${
          d.rules.filter((r) => r.origin === "tags_file").length
        } from tags_file); per-tag rules take precedence`,
    );
  }
  return lines.join("\n");
}

/** Check a protocol; prints the resolved summary, or every problem (exit 2). */
export async function validateCommand(file: string, opts: LoadOptions): Promise<number> {
  const protocol = await loadProtocol(file, opts);
  console.log(describeProtocol(protocol));
  console.log("ok");
  return 0;
}
