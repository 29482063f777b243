import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { type Metric, type OpenMetricsContentType, Registry } from 'prom-client';
import { mountTimelineRoutes } from '../timeline/index.js';
import { API_REDIS_TIMEOUT_MS, withDeadline } from './redis-health.js';
import { sendJson } from './safe-json.js';
import type { ReportStore } from './store.js';

// The collector's HTTP surface (docs/architecture.md §3). Every error is JSON `{ error: { code, message } }`:
// 400 `bad-request` (a bad parameter or path), 401, 404, 503 `redis-unavailable` (Redis down or
// not answering within API_REDIS_TIMEOUT_MS), 503 `not-ready` (/readyz), 500 `not-consuming` (/healthz,
// the durable consumer gone), 500 `internal` (a bug).

export interface HttpDeps {
  readonly store: ReportStore;
  readonly registry: Registry;
  /** `failure`: why the collector stopped consuming (it then reads nothing until restarted). */
  readonly ready: () => { ready: boolean; redis: boolean; nats: boolean; failure?: string };
  /** Whether Redis answers at all (a bounded, cached PING); connected is not enough. */
  readonly redisAlive?: () => Promise<boolean>;
  /** The longest an API call waits on Redis before answering 503, ms. */
  readonly apiTimeoutMs?: number;
  readonly apiToken: string | undefined;
  readonly gate: number;
}

function fail(res: Response, status: number, code: string, message: string): void {
  sendJson(res, status, { error: { code, message } });
}

/**
 * The query parameters of an API call, each given once and all of them among `allowed`; otherwise
 * answers 400 naming the parameter and returns undefined. A typo or a bracketed name
 * (`namespace[x]=1`) would otherwise be ignored silently and answer for everything.
 */
function queryOf(
  req: Request,
  res: Response,
  allowed: readonly string[],
): Record<string, string | undefined> | undefined {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.query as Record<string, unknown>)) {
    if (!allowed.includes(name)) {
      const takes = allowed.length ? `it takes ${allowed.join(', ')}` : 'it takes none';
      fail(res, 400, 'bad-request', `unknown query parameter ${JSON.stringify(name)}: ${takes}`);
      return undefined;
    }
    if (typeof value !== 'string') {
      fail(res, 400, 'bad-request', `query parameter ${JSON.stringify(name)} given more than once`);
      return undefined;
    }
    out[name] = value;
  }
  return out;
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

  // Live unless the collector stopped consuming for good (its consumer deleted, its loop ended):
  // only a restart reads on, so the kubelet's liveness probe should restart it. Redis and NATS
  // outages it rides out itself are /readyz's business.
  app.get('/healthz', (_req, res) => {
    const { failure } = deps.ready();
    if (failure) res.status(500).json({ error: { code: 'not-consuming', message: failure } });
    else res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const s = deps.ready();
    // A connected Redis that does not answer PING in time is down too (a frozen server keeps its socket).
    const redis = s.redis && (deps.redisAlive ? await deps.redisAlive() : true);
    if (s.ready && redis) res.json({ status: 'ready', redis, nats: s.nats });
    else
      res.status(503).json({
        error: {
          code: 'not-ready',
          message: `redis ${redis ? 'up' : s.redis ? 'not answering' : 'down'}, nats ${s.nats ? 'up' : 'down'}${s.failure ? `, ${s.failure}` : ''}`,
        },
        redis,
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

  const apiTimeoutMs = deps.apiTimeoutMs ?? API_REDIS_TIMEOUT_MS;
  const bounded = <T>(work: Promise<T>, what: string): Promise<T> => withDeadline(work, apiTimeoutMs, what);
  const api = express.Router();
  if (deps.apiToken) api.use(bearerAuth(deps.apiToken));
  // A Redis known not to answer fails the call at once instead of holding it for the deadline.
  api.use(async (_req, res, next) => {
    if (!deps.redisAlive || (await deps.redisAlive())) next();
    else fail(res, 503, 'redis-unavailable', 'Redis is not answering; try again later');
  });
  api.get('/rollouts', async (req, res) => {
    const q = queryOf(req, res, ['namespace', 'workload', 'limit']);
    if (!q) return;
    const n = q.limit === undefined ? 50 : Number(q.limit);
    if (!Number.isInteger(n) || n <= 0 || n > 1000) {
      fail(res, 400, 'bad-request', 'limit must be a whole number from 1 to 1000');
      return;
    }
    const rollouts = await bounded(
      deps.store.listRollouts({
        ...(q.namespace !== undefined ? { namespace: q.namespace } : {}),
        ...(q.workload !== undefined ? { workload: q.workload } : {}),
        limit: n,
      }),
      'the rollout list',
    );
    sendJson(res, 200, { rollouts });
  });
  api.get('/rollouts/:id', async (req, res) => {
    const q = queryOf(req, res, ['gate']);
    if (!q) return;
    const gate = gateOf(q.gate);
    if (gate === 'bad') {
      fail(res, 400, 'bad-request', 'gate must be a number between 0 and 1');
      return;
    }
    const report = await bounded(
      deps.store.getReport(req.params.id!, { gate: gate ?? deps.gate }),
      'the report',
    );
    if (!report) fail(res, 404, 'rollout-not-found', `no rollout with id ${JSON.stringify(req.params.id)}`);
    else sendJson(res, 200, report);
  });
  api.get('/pods/:ns/:pod/timeline', async (req, res) => {
    if (!queryOf(req, res, [])) return;
    const events = await bounded(deps.store.timeline(req.params.ns!, req.params.pod!), 'the timeline');
    if (events.length === 0)
      fail(res, 404, 'pod-not-found', `no events stored for pod ${req.params.ns}/${req.params.pod}`);
    else sendJson(res, 200, { namespace: req.params.ns, pod: req.params.pod, events });
  });
  api.get('/dead-letters', async (req, res) => {
    if (!queryOf(req, res, [])) return;
    sendJson(res, 200, { deadLetters: await bounded(deps.store.deadLetters(), 'the dead letters') });
  });
  mountTimelineRoutes(api, deps.store);
  app.use('/api', api);

  app.use((_req: Request, res: Response) => {
    fail(res, 404, 'not-found', 'no such endpoint');
  });
  // Express 5 routes rejected promises here. A path Express cannot decode (`%E0%A4%A`) carries
  // status 400; a Redis outage or a Redis past its deadline is a 503; anything else a 500.
  app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      fail(res, status, 'bad-request', err.message);
      return;
    }
    const redisDown =
      (err as { code?: unknown }).code === 'redis-unavailable' ||
      /redis|connection|ECONNREFUSED|Stream isn't writeable/i.test(err.message);
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
