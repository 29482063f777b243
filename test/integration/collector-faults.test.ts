import { jetstreamManager } from '@nats-io/jetstream';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Collector, createCollector } from '../../collector/index.js';
import { delay, pollUntil } from '../../lib/wait.js';
import { type CollectorEnv, startCollectorEnv } from '../helpers/collector-harness.js';
import { expectedReport, publishAll, scriptedRollout } from '../helpers/collector-scenario.js';
import { jsonOf } from '../helpers/http-json.js';

async function metricValue(registry: Registry, name: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).reduce((sum, v) => sum + Number(v.value), 0);
}

describe('collector faults', () => {
  let env: CollectorEnv;
  const collectors: Collector[] = [];

  beforeAll(async () => {
    env = await startCollectorEnv();
  });
  afterAll(async () => {
    for (const c of collectors) await c.stop();
    await env?.stop();
  });

  it('Redis stopped for 10 s during ingest: not ready meanwhile, nothing acked, then no event lost or doubled', async () => {
    const registry = new Registry();
    // Its own fail-fast Redis client (from the config), as in production.
    const collector = createCollector(env.config(), { nats: env.nc, registry });
    collectors.push(collector);
    const { http } = await collector.start();
    const base = `http://127.0.0.1:${http.port}`;
    const scenario = scriptedRollout(undefined, 500);
    const half = Math.floor(scenario.events.length / 2);
    await publishAll(env.nc, scenario.events.slice(0, half), env.ns.subjectRoot);
    await collector.drain(30_000);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    // Redis keeps its data across the stop (a real deployment has persistence): save on shutdown.
    await env.redis.config('SET', 'save', '3600 1');
    const stoppedAt = Date.now();
    await env.servers.redis.pause();
    const rest = publishAll(env.nc, scenario.events.slice(half), env.ns.subjectRoot);
    await pollUntil(() => !collector.ready(), {
      timeoutMs: 15_000,
      what: 'the collector to report not ready',
    });
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect((await jsonOf(notReady)).error.code).toBe('not-ready');
    await rest;
    // The outage itself is what is being tested: it lasts 10 s whatever the collector does.
    await delay(Math.max(0, 10_000 - (Date.now() - stoppedAt)));
    const jsm = await jetstreamManager(env.nc);
    const info = await jsm.consumers.info(env.ns.streamName, 'collector-test');
    // Events published during the outage are still unacknowledged (pending or held for retry).
    expect(info.num_pending + info.num_ack_pending).toBeGreaterThan(0);
    expect(await metricValue(registry, 'drainwatch_events_applied_total')).toBe(half);

    await env.servers.redis.resume();
    await collector.drain(60_000);
    await pollUntil(() => collector.ready(), { timeoutMs: 15_000, what: 'ready again' });
    const report = await collector.store.getReport(scenario.rolloutId);
    expect(report).toMatchObject(expectedReport(scenario.rolloutId));
    expect(await metricValue(registry, 'drainwatch_events_applied_total')).toBe(scenario.events.length);
    expect(await metricValue(registry, 'drainwatch_redis_errors_total')).toBeGreaterThan(0);
    await collector.stop();
  });

  it('its durable consumer deleted under it: not ready, saying why, instead of ready and reading nothing', async () => {
    const collector = createCollector(env.config({ DRAINWATCH_CONSUMER: 'deleted-under-it' }), {
      nats: env.nc,
      registry: new Registry(),
    });
    collectors.push(collector);
    const { http } = await collector.start();
    const base = `http://127.0.0.1:${http.port}`;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const jsm = await jetstreamManager(env.nc);
    await jsm.consumers.delete(env.ns.streamName, 'deleted-under-it');
    const answer = await pollUntil(
      async () => {
        const res = await fetch(`${base}/readyz`);
        return res.status === 503 ? jsonOf(res) : undefined;
      },
      { timeoutMs: 20_000, what: '/readyz to answer 503' },
    );
    expect(answer.error.code).toBe('not-ready');
    expect(answer.error.message).toMatch(/consumer ended: the durable consumer is gone/);
    // Liveness too: only a restart, which creates the consumer again, reads on.
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(500);
    expect((await jsonOf(health)).error.code).toBe('not-consuming');
    await collector.stop();
  });

  it('NATS stopped and started again: not ready meanwhile, reconnects, and loses nothing', async () => {
    // Its own NATS connection (from the config), which reconnects forever.
    const collector = createCollector(env.config({ DRAINWATCH_CONSUMER: 'nats-outage' }), {
      redis: env.redis,
    });
    collectors.push(collector);
    await collector.start();
    const scenario = scriptedRollout(Date.parse('2026-11-21T16:00:00.000Z'), 200);
    const half = Math.floor(scenario.events.length / 2);
    await publishAll(env.nc, scenario.events.slice(0, half), env.ns.subjectRoot);
    await collector.drain(30_000);

    await env.servers.nats.pause();
    await pollUntil(() => !collector.ready(), { timeoutMs: 15_000, what: 'not ready without NATS' });
    await env.servers.nats.resume();
    await pollUntil(() => collector.ready(), { timeoutMs: 30_000, what: 'ready after NATS is back' });
    // The test's own client reconnects too; publishing works once it has.
    await pollUntil(
      async () => {
        await publishAll(env.nc, scenario.events.slice(half), env.ns.subjectRoot);
        return true;
      },
      { timeoutMs: 30_000, what: 'publishing after the NATS restart' },
    );
    await collector.drain(60_000);
    expect(await collector.store.getReport(scenario.rolloutId)).toMatchObject({
      ...expectedReport(scenario.rolloutId, Date.parse('2026-11-21T16:00:00.000Z')),
      startedAt: '2026-11-21T16:00:00.000Z',
      finishedAt: '2026-11-21T16:00:50.000Z',
    });
    await collector.stop();
  });

  it('two replicas on one durable consumer and one Redis produce one consistent report', async () => {
    const tag = `${env.ns.subjectRoot}`;
    expect(tag).toBeTruthy();
    const config = env.config({ DRAINWATCH_CONSUMER: 'replicas' });
    const registries = [new Registry(), new Registry()];
    const replicas = registries.map((registry) =>
      createCollector(config, { nats: env.nc, redis: env.redis, registry }),
    );
    collectors.push(...replicas);
    await Promise.all(replicas.map((c) => c.start()));
    // A scenario with its own times: the first test's rollout stays out of this one's window.
    const scenario = scriptedRollout(Date.parse('2026-11-21T14:00:00.000Z'), 2000);
    await publishAll(env.nc, scenario.events, env.ns.subjectRoot);
    await Promise.all(replicas.map((c) => c.drain(60_000)));
    const applied = await Promise.all(
      registries.map((r) => metricValue(r, 'drainwatch_events_applied_total')),
    );
    // Every event applied once across both (the first test's events were already applied by id).
    expect(applied[0]! + applied[1]!).toBe(scenario.events.length);
    const [r1, r2] = await Promise.all(replicas.map((c) => c.store.getReport(scenario.rolloutId)));
    expect(r1).toEqual(r2);
    expect(r1).toMatchObject({
      ...expectedReport(scenario.rolloutId, Date.parse('2026-11-21T14:00:00.000Z')),
      startedAt: '2026-11-21T14:00:00.000Z',
      finishedAt: '2026-11-21T14:00:50.000Z',
    });
    const rollouts = await replicas[0]!.store.listRollouts({ namespace: 'shop', workload: 'quote' });
    expect(rollouts.filter((r) => r.rolloutId === scenario.rolloutId)).toHaveLength(1);
  });
});
