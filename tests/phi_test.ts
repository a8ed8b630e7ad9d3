/** Masking PHI on screen: initials of Latin names only, nothing of other values. */
import assert from "node:assert/strict";
import { maskValue } from "../src/dicom/phi.ts";

Deno.test("maskValue keeps Latin initials of names and nothing else", () => {
  assert.equal(maskValue("Doe^John", "PN"), "D***^J***");
  assert.equal(maskValue("Doe^John=ドウ^ジョン", "PN"), "D***^J***=***^***");
  // A Korean family name is one character: showing "the initial" would show it whole.
  assert.equal(maskValue("김^민수", "PN"), "***^***");
  assert.equal(maskValue("X^Y", "PN"), "***^***");
  assert.equal(maskValue("MRN12345", "LO"), "***");
  assert.equal(maskValue("", "LO"), "");
});
