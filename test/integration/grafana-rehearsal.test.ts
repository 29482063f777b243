import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  type Collector,
  createCollector,
  loadCollectorConfig,
  type RolloutReport,
} from '../../collector/index.js';
import { DRAIN_METRICS } from '../../contract/index.js';
import { buildDashboards, expandGrafanaVariables, listDashboardQueries } from '../../grafana/src/index.js';
import { SILENT_LOGGER } from '../../lib/log.js';
import { pollUntil } from '../../lib/wait.js';
import { QUICK, type RehearseCliResult, runRehearseCli } from '../helpers/rehearse-cli.js';
import { startTestServers, type TestServers } from '../helpers/servers.js';
import { type PromSample, type RunningPrometheus, startPrometheus } from './grafana-prometheus.js';

// End to end with a real rehearsal: `drainwatch rehearse` rolls the naive example app (2 pods,
// probes, agents, local cluster) on this test's NATS and Redis. A second collector, the one
// Prometheus scrapes, reads the same event stream through its own consumer into its own keys, so
// the dashboards are filled by what a real rollout produced.

const ROOT = join(import.meta.dirname, '../..');
const RULES = join(ROOT, 'manifests/alerts/drainwatch-rules.yaml');
const VARIABLES = { namespace: '.*', workload: '.*', __rate_interval: '15m', datasource: 'prometheus' };

// What a naive rehearsal scraped this way may leave empty, and why.
const NOT_FILLED: Readonly<Record<string, string>> = {
  'Agent events buffered A': "the rehearsal's agents are not scraped (their admin ports are its own)",
  'Agent events dropped B': "the rehearsal's agents are not scraped",
  'Agent events published per second A': "the rehearsal's agents are not scraped",
  'Agent proxied requests by phase and status A': "the rehearsal's agents are not scraped",
  'Pods killed at the grace period A': 'the naive app exits at once on SIGTERM: nothing is killed',
  'Pods with incomplete evidence A': 'no event is lost on loopback',
  'Invalid events by reason A': 'every event the rehearsal publishes is valid',
  'annotation:Rollouts annotation': 'the rollout is closed at query time (checked in grafana-e2e)',
  'HTTP/2 streams (gRPC calls) by outcome and phase A':
    "the rehearsal's agents are not scraped, and it speaks HTTP/1.1",
  'HTTP/2 GOAWAY sent by sender A': "the rehearsal's agents are not scraped, and it speaks HTTP/1.1",
  'Probe gRPC calls by status A': 'the rehearsal probes over HTTP/1.1: no gRPC call',
  'Probe gRPC streams cut by cause A': 'the rehearsal probes over HTTP/1.1: no gRPC stream', // A replay only follows a Redis loss (its values: test/integration/redis-sentinel-failover-writes.test.ts).
  'Events replayed after a Redis loss A':
    'Redis loses nothing here: the replay counter has no series until a replay',
};

let servers: TestServers;
let collector: Collector;
let prom: RunningPrometheus;
let result: RehearseCliResult;
let report: RolloutReport;

beforeAll(async () => {
  servers = await startTestServers();
  collector = createCollector(
    {
      ...loadCollectorConfig(
        { listen: '127.0.0.1:0', natsUrl: servers.nats.url, redisUrl: servers.redis.url },
        { DRAINWATCH_REDIS_PREFIX: 'grafana-e2e:', DRAINWATCH_CONSUMER: 'grafana-e2e' },
      ),
      // Gauges are recomputed every refresh (10 s by default); 1 s keeps the test short.
      refreshIntervalMs: 1000,
    },
    {
      log: {
        ...SILENT_LOGGER,
        error: (...args: unknown[]) => process.stderr.write(`collector: ${JSON.stringify(args)}\n`),
      },
    },
  );
  const { http } = await collector.start();
  prom = await startPrometheus({
    jobs: { 'drainwatch-collector': [`127.0.0.1:${http.port}`] },
    jobLabels: { 'drainwatch-collector': { namespace: 'drainwatch' } },
    honorLabels: ['drainwatch-collector'],
    ruleFiles: [RULES],
  });
  await pollUntil(async () => (await prom.query('up{job="drainwatch-collector"} == 1')).data?.result.length, {
    timeoutMs: 60_000,
    intervalMs: 250,
    what: 'the collector scraped',
  });

  result = await runRehearseCli([
    ...QUICK,
    '--variants',
    'naive',
    '--replicas',
    '2',
    '--max-surge',
    '2',
    '--nats-url',
    servers.nats.url,
    '--redis-url',
    servers.redis.url,
    '--json',
  ]);
  expect(result.code, result.stderr.slice(-2000)).toBe(0);
  const rolloutId = result.runs[0]!.rolloutId;
  await collector.drain(60_000);
  report = await pollUntil(() => collector.store.getReport(rolloutId), {
    timeoutMs: 60_000,
    intervalMs: 200,
    what: `our collector's report of ${rolloutId}`,
  });
  await pollUntil(
    async () => {
      const r = await prom.query(`sum(${DRAIN_METRICS.rolloutsTotal.name}) == 1`);
      return r.data?.result.length;
    },
    { timeoutMs: 60_000, intervalMs: 250, what: 'the closed rollout scraped' },
  );
  // The latest-rollout gauges follow on the collector's next refresh.
  await pollUntil(async () => (await prom.query(DRAIN_METRICS.sessionPersistence.name)).data?.result.length, {
    timeoutMs: 60_000,
    intervalMs: 250,
    what: 'the scores scraped',
  });
}, 300_000);

afterAll(async () => {
  await prom?.stop();
  await collector?.stop();
  await servers?.stop();
});

const queries = listDashboardQueries(buildDashboards());
const run = (expr: string) => prom.query(expandGrafanaVariables(expr, VARIABLES));

async function series(panel: string, label?: string): Promise<Record<string, number>> {
  const q = queries.find((x) => x.panel === panel && x.refId === 'A')!;
  const r = await run(q.expr);
  expect(r.status).toBe('success');
  return Object.fromEntries(
    (r.data?.result ?? []).map((s: PromSample) => [label ? (s.metric[label] ?? '') : '', Number(s.value[1])]),
  );
}

describe('dashboards and rules after a real rehearsal', () => {
  it('every panel query parses and every panel the rehearsal fills returns data', async () => {
    const broken: string[] = [];
    const empty: string[] = [];
    for (const q of queries) {
      const r = await run(q.expr);
      if (r.status !== 'success') broken.push(`${q.panel} ${q.refId}: ${r.error}`);
      const finite = (r.data?.result ?? []).filter((s) => Number.isFinite(Number(s.value[1])));
      if (finite.length === 0 && !NOT_FILLED[`${q.panel} ${q.refId}`]) empty.push(`${q.panel} ${q.refId}`);
    }
    expect(broken).toEqual([]);
    expect(empty).toEqual([]);
  });

  it("the panels agree with the rehearsal's own verdict", async () => {
    const run0 = result.runs[0]!;
    // The rehearsal's collector and ours read the same events: same scores.
    expect(await series('Session persistence')).toEqual({ '': run0.sessionPersistence });
    expect(await series('Request success')).toEqual({ '': run0.requestSuccess });
    expect(await series('Clean terminations')).toEqual({ '': run0.cleanTerminations });
    const failures: Record<string, number> = {};
    // The metrics count the rollout's failures only; the baseline's are the app's own (docs/collector.md).
    for (const f of report.failures) if (!f.beforeRollout) failures[f.cause] = (failures[f.cause] ?? 0) + 1;
    expect(await series('Failed probe requests by cause', 'cause')).toEqual(failures);
    expect(Object.values(failures).reduce((a, b) => a + b, 0)).toBe(run0.probeRequests.failed);
    expect(await series('Rollouts by outcome', 'outcome')).toEqual({ [run0.outcome]: 1 });
  });

  it('Prometheus loads and evaluates every rule without error on real collector data', async () => {
    const rules = (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: unknown[] }[] }).groups.flatMap(
      (g) => g.rules,
    );
    type RulesData = { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
    const loaded = await pollUntil(
      async () => {
        const all = ((await prom.api<RulesData>('rules')).data?.groups ?? []).flatMap((g) => g.rules);
        return all.length === rules.length && all.every((x) => x.health !== 'unknown') ? all : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'every rule evaluated once' },
    );
    expect(loaded.filter((x) => x.health !== 'ok').map((x) => `${x.name}: ${x.lastError}`)).toEqual([]);
  });
});
