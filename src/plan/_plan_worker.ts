/// <reference lib="deno.worker" />
/**
 * A plan's worker: started by `openPlanWorkers` with permissions to read the inputs and write
 * nothing. It surveys batches of files and makes dry-run diffs (see `survey_worker.ts`).
 *
 * @module
 */
import { ReusableBuffer } from "../dicom/reusable_buffer.ts";
import { serveWorker } from "../workers/serve.ts";
import type { PlanContext } from "./survey.ts";
import { surveyBatch } from "./survey.ts";
import {
  changesOf,
  type FromPlanWorker,
  planContextOf,
  providePixels,
  textOf,
  type ToPlanWorker,
} from "./survey_worker.ts";

let ctx: PlanContext | undefined;
const buffer = new ReusableBuffer();

serveWorker<ToPlanWorker, FromPlanWorker>({
  init: (msg) => {
    ctx = planContextOf(msg);
    providePixels(msg);
  },
  handle: async (msg) =>
    msg.type === "survey"
      ? { type: "surveyed", surveys: surveyBatch(msg.jobs, ctx, buffer) }
      : msg.type === "text"
      ? { type: "texted", text: await textOf(msg.jobs) }
      : { type: "changed", changes: changesOf(msg.jobs, ctx!, buffer) },
});
