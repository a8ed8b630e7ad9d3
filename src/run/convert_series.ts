/**
 * The run's NIfTI phase (`output.format` nifti or both): a series the journal has finished, with
 * the same inputs and outputs that still match their hashes, is taken as it is; the others are
 * claimed, then converted in the workers (or this thread), one series per message.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { niftiFamily } from "../nifti/convert.ts";
import { sha256File } from "../util/hash.ts";
import { RunRefusal } from "./errors.ts";
import { seriesWithoutOriginals } from "./journal.ts";
import { processSeries, seriesFailed, type SeriesJob, type SeriesOutcome } from "./series.ts";
import { removeStaleFamily } from "./stale.ts";
import type { RunContext } from "./types.ts";
import { runSeriesInWorkers } from "./workers.ts";

/**
 * Convert this run's series to NIfTI: a series the journal has finished, with the same inputs
 * and outputs that still match their hashes, is taken as it is; the others are claimed, then
 * converted (in the workers, or here). With `both`, a series is made of the files its DICOM output
 * was written for. `onOutcome` sees each series (and whether it was found finished) with its files.
 */
export async function convertSeriesOf(
  ctx: RunContext,
  mySeries: ReadonlyMap<number, readonly number[]>,
  onOutcome: (o: SeriesOutcome, files: readonly number[], resumed: boolean) => void,
): Promise<void> {
  const { plan, opts, root, journal, session, outcomes } = ctx;
  const p = plan.protocol;
  const jobs: SeriesJob[] = [];
  const inputsOf = new Map<number, string[]>();
  const jobBySeries = new Map<number, SeriesJob>();
  const listings = new Map<string, Set<string>>();
  const present = (rel: string) => {
    const dir = dirname(join(root, rel));
    if (!listings.has(dir)) {
      let names: string[] = [];
      try {
        names = [...Deno.readDirSync(dir)].map((e) => e.name);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
      listings.set(dir, new Set(names));
    }
    return listings.get(dir)!.has(basename(rel));
  };
  for (const [s, all] of mySeries) {
    const ps = plan.series[s];
    const files = p.output.format === "both" ? all.filter((i) => outcomes.get(i)?.status === "written") : all;
    const job: SeriesJob = {
      series: s,
      root,
      stem: ps.nifti!,
      frames: ps.frames,
      files: files.map((i) => ({ index: i, path: plan.files.get(i).input.path })),
      identified: !p.deidentify,
      philipsScaling: p.nifti.philipsScaling,
    };
    if (files.length === 0) {
      // With both: every file was quarantined as DICOM, with its reason; nothing to convert.
      onOutcome(
        {
          series: s,
          stem: job.stem,
          volumes: [],
          notConverted: "no file of the series was written",
          files: [],
          warnings: [],
        },
        all,
        false,
      );
      continue;
    }
    const inputs = job.files.map((f) => f.path);
    const prior = journal.series.get(job.stem);
    if (prior && sameList(prior.inputs, inputs) && (await outputsMatch(root, prior.outcome))) {
      onOutcome(reindexed(prior.outcome, job), all, true);
      continue;
    }
    if (!prior && !journal.claimedSeries.has(job.stem)) {
      const taken = niftiFamily(job.stem, job.frames).find(present);
      if (taken) {
        throw new RunRefusal(
          `${join(root, taken)} exists and was not written by dcmtidy: refusing to replace it`,
        );
      }
    }
    inputsOf.set(s, inputs);
    jobBySeries.set(s, job);
    jobs.push(job);
  }
  if (jobs.length) await ctx.append(jobs.map((j) => JSON.stringify({ claimSeries: j.stem }) + "\n").join(""));
  const record = async (result: SeriesOutcome) => {
    const o = seriesWithoutOriginals(result);
    await removeStaleFamily(jobBySeries.get(o.series)!, o);
    // A series with nothing written is redone next time, like a quarantined file.
    if (o.volumes.length) {
      await ctx.append(JSON.stringify({ series: o.stem, inputs: inputsOf.get(o.series), outcome: o }) + "\n");
    }
    onOutcome(o, mySeries.get(o.series)!, false);
  };
  if ((opts.workers ?? 0) > 0 && jobs.length > 0) {
    if (p.deidentify && !opts.salt) throw new Error("sandboxed workers need the salt's bytes");
    await runSeriesInWorkers(p, { ...opts.overrides, salt: opts.salt }, jobs, opts.workers!, record);
  } else {
    for (const job of jobs) {
      await record(await processSeries(job, session).catch((e) => seriesFailed(job, (e as Error).message)));
    }
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Whether every output a series recorded is still there with the bytes it was written with. */
async function outputsMatch(root: string, o: SeriesOutcome): Promise<boolean> {
  for (const v of o.volumes) {
    for (const [path, sha] of [[v.nifti, v.niftiSha256], [v.sidecar, v.sidecarSha256]]) {
      if ((await sha256File(join(root, path)).catch(() => undefined)) !== sha) return false;
    }
  }
  return true;
}

/**
 * A finished series' outcome with this plan's file indices: the journal recorded its files in plan
 * order, and the plan may have moved them (files added or removed elsewhere in the input).
 */
function reindexed(o: SeriesOutcome, job: SeriesJob): SeriesOutcome {
  const to = new Map(o.files.map((f, k) => [f.index, job.files[k].index]));
  return {
    ...o,
    series: job.series,
    volumes: o.volumes.map((v) => ({ ...v, files: v.files.map((i) => to.get(i)!) })),
    files: o.files.map((f) => ({ ...f, index: to.get(f.index)! })),
  };
}
