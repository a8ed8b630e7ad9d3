/**
 * The surveys of a plan's files as they come (from its workers, or from a split scan's parts), held
 * until the plan's assembly takes them in input order (see `Assembly`): past the memory bound in
 * the plan's temporary file, each in the survey's codec.
 *
 * @module
 */
import { surveyCodec } from "./_file_codec.ts";
import { FileRecords, type PlanSpill } from "./file_records.ts";
import type { Survey } from "./survey.ts";

/** See the module's documentation. */
export class SurveyRecords extends FileRecords<Survey> {
  /** `length` surveys to come, set in any order; past `spill`'s bound they go to its file. */
  constructor(spill: PlanSpill | undefined, length: number) {
    super(spill, length, surveyCodec());
  }
}
