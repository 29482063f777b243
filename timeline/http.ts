import type { Router } from 'express';
import type { ReportStore } from '../collector/index.js';
import { buildTimeline } from './build.js';
import { TimelineNotFoundError } from './errors.js';
import { renderTimelineHtml } from './html.js';
import { storeTimelineSource } from './source.js';

// The collector API's timeline routes, mounted on its /api router (behind its bearer token):
//   GET /api/rollouts/:id/timeline.html  the self-contained page
//   GET /api/rollouts/:id/timeline.json  the timeline data model (timeline/model.ts)

export function mountTimelineRoutes(api: Router, store: Pick<ReportStore, 'facts'>): void {
  const source = storeTimelineSource(store);
  for (const format of ['json', 'html'] as const) {
    api.get(`/rollouts/:id/timeline.${format}`, async (req, res) => {
      const id = req.params.id!;
      let timeline: ReturnType<typeof buildTimeline>;
      try {
        timeline = buildTimeline([await source.run(id)]);
      } catch (err) {
        if (!(err instanceof TimelineNotFoundError)) throw err;
        res.status(404).json({ error: { code: 'rollout-not-found', message: err.message } });
        return;
      }
      if (format === 'json') res.json(timeline);
      else res.type('html').send(await renderTimelineHtml(timeline));
    });
  }
}
