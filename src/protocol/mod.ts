/**
 * The study protocol: loading and validating it (YAML or TypeScript) with every problem at its
 * line and column, output path templates, tag selectors, lookup tables and starter protocols.
 * This file only re-exports the folder's public face; files starting with `_` are private.
 *
 * @module
 */

// Loading: the entry point, what it gives, TypeScript protocols.
export { type LoadOptions, loadProtocol } from "./load.ts";
export type { Protocol, TagRule } from "./protocol.ts";
export { defineProtocol, type Hook, type HookContext, type ProtocolDefinition } from "./typescript.ts";
export { isInside } from "./paths.ts";

// The protocol's shape.
export {
  type Action,
  type DeidentifyData,
  type ProtocolData,
  protocolJsonSchema,
  protocolSchema,
} from "./schema.ts";

// Errors (all derive from DcmtidyError, exit code 2).
export { formatIssue, ProtocolError, type ProtocolIssue, SelectorError, TemplateError } from "./errors.ts";

// Output path templates and the safe paths they render to.
export {
  type CompiledTemplate,
  compileTemplate,
  DEFAULT_FILE_TEMPLATE,
  DEFAULT_FOLDER_TEMPLATE,
  type Placeholder,
  PLACEHOLDERS,
  type TemplateValues,
  valuesFromDataSet,
} from "./template.ts";
export { MISSING, outputPath, sanitizeSegment } from "./segments.ts";

// Tag selectors, lookup tables, starter protocols.
export { parseSelector, type Selector, selects } from "./selector.ts";
export { readLookupTable } from "./lookup.ts";
export { type StarterName, STARTERS } from "./starters.ts";
