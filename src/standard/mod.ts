/**
 * Facts from the DICOM standard, beneath every layer that reads or changes DICOM: the PS3.6 data
 * dictionary (`dictionary.ts`, generated data in `dictionary_data.json`), tag constants by keyword
 * (`tags.ts`, generated), and the PS3.15 de-identification tables with PS3.16 CID 7050
 * (`ps3_15.ts`, data in `rules/ps3.15.json`). Regenerate with `deno task gen` and `deno task gen:rules`.
 *
 * @module
 */
export {
  type DictEntry,
  DICTIONARY_EDITION,
  formatTag,
  lookupKeyword,
  lookupTag,
  parseTag,
  suggestKeywords,
  tagForKeyword,
  vrOf,
} from "./dictionary.ts";
export { type Keyword, tags } from "./tags.ts";
export {
  type ActionCode,
  actionCodes,
  type AddedAttribute,
  addedAttributes,
  allCid7050Codes,
  allRules,
  allSafePrivateRules,
  type AttributeRule,
  cid7050,
  type CodedConcept,
  effectiveAction,
  isSafePrivate,
  OPTION_NAMES,
  type OptionName,
  privateRule,
  ruleForTag,
  RULES_EDITION,
  type SafePrivateRule,
} from "./ps3_15.ts";
