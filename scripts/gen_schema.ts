/**
 * Writes schema/protocol.schema.json from the zod schema in src/protocol/schema.ts, for editors
 * (yaml-language-server) and for review. Run: `deno task gen:schema`. A test fails when it is stale.
 */
import { protocolJsonSchema } from "../src/protocol/schema.ts";

/** The committed file's exact text. */
export function schemaText(): string {
  return JSON.stringify(protocolJsonSchema(), null, 2) + "\n";
}

if (import.meta.main) {
  const out = new URL("../schema/protocol.schema.json", import.meta.url);
  await Deno.writeTextFile(out, schemaText());
  console.log(`wrote ${out.pathname}`);
}
