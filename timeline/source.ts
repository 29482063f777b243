import type { ReportStore } from '../collector/index.js';
import { buildTimelineRun, validateTimeline } from './build.js';
import { TimelineFetchError, TimelineNotFoundError } from './errors.js';
import type { TimelineRun } from './model.js';

// Where a rollout's timeline comes from: the collector's store (in-process, or a Redis the CLI
// connects to), or a running collector's API (`verify --collector-url`).

export interface TimelineSource {
  /**
   * The timeline of one rollout.
   * @throws TimelineNotFoundError when no rollout has that id.
   */
  run(rolloutId: string, label?: string): Promise<TimelineRun>;
}

export function storeTimelineSource(store: Pick<ReportStore, 'facts'>): TimelineSource {
  return {
    async run(rolloutId, label) {
      const facts = await store.facts(rolloutId);
      if (!facts) throw new TimelineNotFoundError(rolloutId);
      return buildTimelineRun(facts, label);
    },
  };
}

/**
 * Reads `GET <collector>/api/rollouts/:id/timeline.json` (see timeline/http.ts).
 * @throws TimelineFetchError on a network error or a status other than 200 and 404.
 */
export function httpTimelineSource(baseUrl: string, apiToken?: string): TimelineSource {
  return {
    async run(rolloutId, label) {
      const url = new URL(
        `api/rollouts/${encodeURIComponent(rolloutId)}/timeline.json`,
        `${baseUrl.replace(/\/+$/, '')}/`,
      );
      let res: Response;
      try {
        res = await fetch(url, {
          headers: apiToken ? { authorization: `Bearer ${apiToken}` } : {},
          signal: AbortSignal.timeout(30_000),
        });
      } catch (err) {
        throw new TimelineFetchError(url.href, (err as Error).message);
      }
      if (res.status === 404) throw new TimelineNotFoundError(rolloutId);
      if (!res.ok) throw new TimelineFetchError(url.href, `HTTP ${res.status}`);
      const run = validateTimeline(await res.json()).runs[0]!;
      return label === undefined ? run : { ...run, label };
    },
  };
}
