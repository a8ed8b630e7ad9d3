/**
 * The surveys of a plan's files as they come (from its workers, or from a split scan's parts), with
 * the keys `sharedInstances` groups them by: gathered as each survey is set, so the plan makes no
 * pass over its surveys for them (past the memory bound each is read back from disk).
 *
 * A worker's surveys come encoded by a codec of its own (`SurveyCodec`), with what the codec
 * numbered for them (`addParts`): they are held as they came (`setStored`), and decoded only when
 * read. The main thread then neither rebuilds each survey from its message nor encodes it again on
 * its way to the file.
 *
 * @module
 */
import type { Interner } from "../scan/intern.ts";
import { InstanceKeys } from "../scan/scan.ts";
import type { SpillCodec } from "../util/spill_codec.ts";
import { type SurveyCodec, surveyCodec, type SurveyParts } from "./_file_codec.ts";
import { FileRecords, type PlanSpill } from "./file_records.ts";
import type { Survey } from "./survey.ts";

/**
 * Surveys from several codecs, each line saying whose: this thread's (source 0, for surveys set as
 * they are) and each worker's (sources 1 and up, given by `addParts`). Its `encode` and `decode`
 * are its own functions (a `SpillMap` calls them alone).
 */
class SourcedSurveys implements SpillCodec<Survey> {
  readonly #codecs: SurveyCodec[] = [surveyCodec()];

  readonly encode = (survey: Survey): unknown => [0, this.#codecs[0].encode(survey)];

  readonly decode = (stored: unknown): Survey => {
    const [source, encoded] = stored as [number, unknown];
    return this.#codecs[source].decode(encoded);
  };

  addParts(source: number, parts: SurveyParts): void {
    if (!(source >= 1)) throw new RangeError(`a worker's source is 1 or more: ${source}`);
    (this.#codecs[source] ??= surveyCodec()).addParts(parts);
  }
}

const NONE: ReadonlySet<string> = new Set();

/** See the module's documentation. */
export class SurveyRecords extends FileRecords<Survey> {
  /** The SOP Instance UIDs' keys of the surveys set so far. */
  readonly instances: InstanceKeys;
  readonly #codec: SourcedSurveys;

  /** `length` surveys to come, set in any order; past `spill`'s bound they go to its file. */
  constructor(spill: PlanSpill | undefined, length: number) {
    const codec = new SourcedSurveys();
    super(spill, length, codec);
    this.#codec = codec;
    this.instances = new InstanceKeys(length);
  }

  override set(index: number, survey: Survey): void {
    super.set(index, survey);
    this.instances.add(index, survey.scanned);
  }

  /**
   * What the codec of `source` (a worker's, 1 and up) numbered for the surveys it sends next, each
   * value held once through `pool` (the workers number the same series' values apart).
   */
  addParts(source: number, parts: SurveyParts, pool: Interner): void {
    this.#codec.addParts(source, {
      scanned: parts.scanned.map((p) => pool.record(p, NONE)),
      facts: parts.facts.map((p) => pool.record(p, NONE)),
    });
  }

  /**
   * Set the survey at `index` as the codec of `source` encoded it (`encoded`: the JSON of what its
   * `encode` gave), with its SOP Instance UID's key (`instanceKey`, see `InstanceKeys`).
   */
  setEncoded(index: number, source: number, encoded: string, instanceKey: number): void {
    this.setStored(index, `[${source},${encoded}]`);
    this.instances.addKey(index, instanceKey);
  }
}
