import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { type Metric, type OpenMetricsContentType, Registry } from 'prom-client';
import type { ReportStore } from './store.js';
import { mountTimelineRoutes } from '../timeline/index.js';

// The collector's HTTP surface (DESIGN §3). Every error is JSON `{ error: { code, message } }`.

export interface HttpDeps {
  readonly store: ReportStore;
  readonly registry: Registry;
  readonly ready: () => { ready: boolean; redis: boolean; nats: boolean };
  readonly apiToken: string | undefined;
  readonly gate: number;
}

function fail(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function bearerAuth(token: string) {
  const want = digest(token);
  return (req: Request, res: Response, next: NextFunction): void => {
    const m = /^Bearer\s+(.+)$/i.exec(req.get('authorization') ?? '');
    // Comparing digests keeps the comparison constant-time whatever the token's length.
    if (m && timingSafeEqual(digest(m[1]!.trim()), want)) {
      next();
      return;
    }
    res.set('WWW-Authenticate', 'Bearer');
    fail(res, 401, 'unauthorized', 'a bearer token is required (DRAINWATCH_API_TOKEN)');
  };
}

function gateOf(q: unknown): number | undefined | 'bad' {
  if (q === undefined) return undefined;
  const n = Number(q);
  return typeof q === 'string' && q !== '' && Number.isFinite(n) && n >= 0 && n <= 1 ? n : 'bad';
}

export function createHttpApp(deps: HttpDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const s = deps.ready();
    if (s.ready) res.json({ status: 'ready', redis: s.redis, nats: s.nats });
    else
      res.status(503).json({
        error: {
          code: 'not-ready',
          message: `redis ${s.redis ? 'up' : 'down'}, nats ${s.nats ? 'up' : 'down'}`,
        },
        redis: s.redis,
        nats: s.nats,
      });
  });
  app.get('/metrics', async (req, res) => {
    // Prometheus text by default; OpenMetrics for a scraper that asks for it. The same metric
    // objects are rendered through a second registry in OpenMetrics mode, so both stay in step.
    const wantsOpenMetrics = (req.get('accept') ?? '').includes('application/openmetrics-text');
    const registry = wantsOpenMetrics ? openMetricsView(deps.registry) : deps.registry;
    res.set('Content-Type', registry.contentType);
    res.send(await registry.metrics());
  });

  const api = express.Router();
  if (deps.apiToken) api.use(bearerAuth(deps.apiToken));
  api.get('/rollouts', async (req, res) => {
    const { namespace, workload, limit } = req.query;
    const n = limit === undefined ? 50 : Number(limit);
    if (!Number.isInteger(n) || n <= 0 || n > 1000) {
      fail(res, 400, 'bad-request', 'limit must be a whole number from 1 to 1000');
      return;
    }
    const rollouts = await deps.store.listRollouts({
      ...(typeof namespace === 'string' ? { namespace } : {}),
      ...(typeof workload === 'string' ? { workload } : {}),
      limit: n,
    });
    res.json({ rollouts });
  });
  api.get('/rollouts/:id', async (req, res) => {
    const gate = gateOf(req.query.gate);
    if (gate === 'bad') {
      fail(res, 400, 'bad-request', 'gate must be a number between 0 and 1');
      return;
    }
    const report = await deps.store.getReport(req.params.id!, { gate: gate ?? deps.gate });
    if (!report) fail(res, 404, 'rollout-not-found', `no rollout with id ${JSON.stringify(req.params.id)}`);
    else res.json(report);
  });
  api.get('/pods/:ns/:pod/timeline', async (req, res) => {
    const events = await deps.store.timeline(req.params.ns!, req.params.pod!);
    if (events.length === 0)
      fail(res, 404, 'pod-not-found', `no events stored for pod ${req.params.ns}/${req.params.pod}`);
    else res.json({ namespace: req.params.ns, pod: req.params.pod, events });
  });
  api.get('/dead-letters', async (_req, res) => {
    res.json({ deadLetters: await deps.store.deadLetters() });
  });
  mountTimelineRoutes(api, deps.store);
  app.use('/api', api);

  app.use((_req: Request, res: Response) => {
    fail(res, 404, 'not-found', 'no such endpoint');
  });
  // Express 5 routes rejected promises here; a Redis outage is a 503, anything else a 500.
  app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
    const redisDown = /redis|connection|ECONNREFUSED|Stream isn't writeable/i.test(err.message);
    fail(res, redisDown ? 503 : 500, redisDown ? 'redis-unavailable' : 'internal', err.message);
  });
  return app;
}

function openMetricsView(registry: Registry): Registry<OpenMetricsContentType> {
  const view = new Registry<OpenMetricsContentType>();
  view.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  // getMetricsAsArray() hands back the metric objects themselves (typed as their JSON shape).
  for (const metric of registry.getMetricsAsArray()) view.registerMetric(metric as unknown as Metric);
  return view;
}
