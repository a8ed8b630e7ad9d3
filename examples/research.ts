/**
 * A TypeScript protocol: the same fields as YAML, plus hooks for `{ fn: NAME }` actions.
 * A TypeScript protocol is code: `validate` imports it with the CLI's permissions, so only use
 * protocols you trust (review them like any other code in the study's repository).
 */
import { defineProtocol } from "../mod.ts";

export default defineProtocol({
  version: 1,
  name: "brain-mri-2026-ts",
  input: { root: "./raw", exclude: ["**/*.txt"] },
  output: { root: "./tidy", path: "{pseudo_id}/%t/%s_%d" },
  deidentify: {
    options: ["retain-longitudinal-modified-dates"],
    dates: { shift: { min_days: -730, max_days: -30 } },
    salt: { env: "DCMTIDY_SALT" },
    tags: {
      SeriesDescription: { fn: "series" },
    },
  },
  hooks: {
    // Keep only the sequence family from free-text series descriptions ("T1 MPRAGE Dr Smith" -> "T1").
    series: (value) => value?.match(/\b(T1|T2|FLAIR|DWI|SWI)\b/i)?.[1]?.toUpperCase() ?? "OTHER",
  },
});
