import assert from "node:assert/strict";
import { VERSION } from "../src/version.ts";
import { IMPLEMENTATION_VERSION_NAME } from "../src/dicom/writer.ts";

Deno.test("version: src/version.ts, deno.json and the meta implementation name agree", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assert.equal(VERSION, config.version);
  assert.equal(IMPLEMENTATION_VERSION_NAME, `DCMTIDY_${VERSION.replaceAll(".", "_")}`);
  assert.ok(IMPLEMENTATION_VERSION_NAME.length <= 16, "SH holds at most 16 characters");
});
