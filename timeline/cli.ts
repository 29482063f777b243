import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ReportStore } from '../collector/index.js';
import { buildTimeline } from './build.js';
import { type TimelineFlags, wantsTimeline } from './flags.js';
import { renderTimelineHtml } from './html.js';
import type { TimelineRun } from './model.js';
import { httpTimelineSource, storeTimelineSource, type TimelineSource } from './source.js';
import { renderTimelineSvg } from './svg.js';

// The timeline outputs of `rehearse`, `verify` and `report`: one call per command once its
// rollouts are known (the flags are in timeline/flags.ts).

async function write(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, text);
}

/**
 * Writes the files the flags ask for (nothing when none is given) and says where on `log`.
 * @param runs the rollouts, drawn side by side in this order, with their labels.
 * @throws TimelineNotFoundError, TimelineFetchError, TimelineDataError; fs errors as they come.
 */
export async function writeTimelineFiles(
  flags: TimelineFlags,
  source: TimelineSource,
  runs: readonly { rolloutId: string; label?: string }[],
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<void> {
  if (!wantsTimeline(flags)) return;
  const drawn: TimelineRun[] = [];
  for (const r of runs) drawn.push(await source.run(r.rolloutId, r.label));
  const timeline = buildTimeline(drawn);
  if (flags.timelineJson) await write(flags.timelineJson, `${JSON.stringify(timeline, null, 2)}\n`);
  if (flags.html) await write(flags.html, await renderTimelineHtml(timeline));
  if (flags.timelineSvg) await write(flags.timelineSvg, await renderTimelineSvg(timeline));
  const files = [flags.html, flags.timelineJson, flags.timelineSvg].filter(Boolean).join(', ');
  log(`drainwatch: timeline written to ${files}`);
}

/** For `rehearse`: a hook that draws every run of the rehearsal from the collector's store. */
export function rehearsalTimelineWriter(
  flags: TimelineFlags,
):
  | ((runs: readonly { rolloutId: string; label: string }[], store: ReportStore) => Promise<void>)
  | undefined {
  if (!wantsTimeline(flags)) return undefined;
  return (runs, store) => writeTimelineFiles(flags, storeTimelineSource(store), runs);
}

/**
 * For `verify`: draws its rollout from the in-process collector's store, or else from the
 * collector at `collectorUrl` (GET /api/rollouts/:id/timeline.json).
 */
export async function writeVerifyTimeline(
  flags: TimelineFlags & { readonly collectorUrl?: string; readonly apiToken?: string },
  rolloutId: string,
  store: ReportStore | undefined,
): Promise<void> {
  const source = store
    ? storeTimelineSource(store)
    : httpTimelineSource(flags.collectorUrl ?? '', flags.apiToken);
  await writeTimelineFiles(flags, source, [{ rolloutId }]);
}
