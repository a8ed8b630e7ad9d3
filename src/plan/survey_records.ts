/**
 * The surveys of a plan's files as they come (from its workers, or from a split scan's parts), with
 * the keys `sharedInstances` groups them by: gathered as each survey is set, so the plan makes no
 * pass over its surveys for them (past the memory bound each is read back from disk).
 *
 * @module
 */
import { InstanceKeys } from "../scan/scan.ts";
import { surveyCodec } from "./_file_codec.ts";
import { FileRecords, type PlanSpill } from "./file_records.ts";
import type { Survey } from "./survey.ts";

/** See the module's documentation. */
export class SurveyRecords extends FileRecords<Survey> {
  /** The SOP Instance UIDs' keys of the surveys set so far. */
  readonly instances: InstanceKeys;

  /** `length` surveys to come, set in any order; past `spill`'s bound they go to its file. */
  constructor(spill: PlanSpill | undefined, length: number) {
    super(spill, length, surveyCodec());
    this.instances = new InstanceKeys(length);
  }

  override set(index: number, survey: Survey): void {
    super.set(index, survey);
    this.instances.add(index, survey.scanned);
  }
}
