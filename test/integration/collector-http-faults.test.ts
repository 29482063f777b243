import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jetstream } from '@nats-io/jetstream';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpApp } from '../../collector/http.js';
import { type Collector, createCollector, createReportStore } from '../../collector/index.js';
import { KEYS, workloadKey } from '../../collector/keys.js';
import { type EventKind, subjectOf } from '../../contract/index.js';
import { createEventSequencer, MAX_EVENT_DEPTH } from '../../contract/validate.js';
import { createRedis } from '../../lib/redis.js';
import { pollUntil } from '../../lib/wait.js';
import { type CollectorEnv, startCollectorEnv } from '../helpers/collector-harness.js';
import { publishAll } from '../helpers/collector-scenario.js';
import { jsonOf } from '../helpers/http-json.js';
import { SAMPLE_DATA } from '../helpers/sample-events.js';

// The collector's HTTP answers when its dependencies or its stored data misbehave, through a real
// collector, NATS and Redis on loopback: a frozen Redis, events nested too deep, bad paths and
// parameters. Every answer must be a quick JSON status, never a hang or a 500.

async function metricValue(registry: Registry, name: string, label?: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? [])
    .filter((v) => label === undefined || Object.values(v.labels).includes(label))
    .reduce((sum, v) => sum + Number(v.value), 0);
}

/** A JSON array `depth` levels deep: `[[[…]]]`. */
const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

/** A fetch that fails the test instead of hanging past `ms`. */
const get = (url: string, ms = 15_000): Promise<Response> => fetch(url, { signal: AbortSignal.timeout(ms) });

describe('collector HTTP under faults', () => {
  let env: CollectorEnv;
  let collector: Collector;
  let base: string;
  const registry = new Registry();

  beforeAll(async () => {
    env = await startCollectorEnv();
    // Its own fail-fast Redis client from the config, as in production.
    collector = createCollector(env.config(), { nats: env.nc, registry });
    const { http } = await collector.start();
    base = `http://127.0.0.1:${http.port}`;
  });
  afterAll(async () => {
    process.kill(env.servers.redis.pid, 'SIGCONT');
    await collector?.stop();
    await env?.stop();
  });

  it('a frozen Redis (SIGSTOP) turns /readyz 503 and API calls 503, and both recover on SIGCONT', async () => {
    expect((await get(`${base}/readyz`)).status).toBe(200);
    expect((await get(`${base}/api/rollouts`)).status).toBe(200);
    const pid = env.servers.redis.pid;
    const frozenAt = Date.now();
    process.kill(pid, 'SIGSTOP');
    try {
      // Each /readyz is itself bounded (PING ≤ 1 s); the deadline bounds how long it stays 200.
      const notReady = await pollUntil(
        async () => {
          const r = await get(`${base}/readyz`);
          return r.status === 503 ? r : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 100, what: '/readyz to answer 503 while Redis is frozen' },
      );
      const readyzFlipMs = Date.now() - frozenAt;
      const body = await jsonOf(notReady);
      expect(body.error.code).toBe('not-ready');
      expect(body.redis).toBe(false);
      for (const path of [
        '/api/rollouts',
        '/api/rollouts/ro-1',
        '/api/pods/shop/web-1/timeline',
        '/api/dead-letters',
      ]) {
        const askedAt = Date.now();
        const r = await get(`${base}${path}`, 10_000);
        expect(r.status).toBe(503);
        expect((await jsonOf(r)).error.code).toBe('redis-unavailable');
        console.log(`frozen Redis: ${path} answered 503 after ${Date.now() - askedAt} ms`);
      }
      console.log(`frozen Redis: /readyz answered 503 ${readyzFlipMs} ms after SIGSTOP`);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const thawedAt = Date.now();
    await pollUntil(async () => (await get(`${base}/readyz`)).status === 200, {
      timeoutMs: 15_000,
      intervalMs: 100,
      what: '/readyz to answer 200 after SIGCONT',
    });
    console.log(`frozen Redis: /readyz answered 200 again ${Date.now() - thawedAt} ms after SIGCONT`);
    expect((await get(`${base}/api/rollouts`)).status).toBe(200);
  });

  it('an API call still waiting on a frozen Redis answers 503 at its deadline', async () => {
    // No PING gate here: only the per-request deadline stands between the call and a hang.
    const redis = createRedis(env.servers.redis.url, { prefix: env.ns.redisPrefix, failFast: true });
    redis.on('error', () => undefined);
    await redis.connect();
    const app = createHttpApp({
      store: createReportStore(redis),
      registry: new Registry(),
      ready: () => ({ ready: true, redis: true, nats: true }),
      apiTimeoutMs: 1000,
      apiToken: undefined,
      gate: 1,
    });
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const pid = env.servers.redis.pid;
    process.kill(pid, 'SIGSTOP');
    try {
      const r = await get(`${url}/api/rollouts`, 10_000);
      expect(r.status).toBe(503);
      const body = await jsonOf(r);
      expect(body.error.code).toBe('redis-unavailable');
      expect(body.error.message).toContain('within 1000 ms');
    } finally {
      process.kill(pid, 'SIGCONT');
      await new Promise<void>((resolve) => server.close(() => resolve()));
      redis.disconnect();
    }
  });

  it(`dead-letters an event nested deeper than ${MAX_EVENT_DEPTH}; the pod's timeline keeps answering`, async () => {
    const identity = { namespace: 'shop', workload: 'deep', pod: 'deep-1' };
    const seq = createEventSequencer(identity, 'deep-inst');
    const started = seq.next('agent.started', SAMPLE_DATA['agent.started']);
    await publishAll(env.nc, [started], env.ns.subjectRoot);
    // A valid event of about 20 KB, with one extra data key 10,000 arrays deep.
    const kind: EventKind = 'prestop.started';
    const deep = seq.next(kind, SAMPLE_DATA[kind]);
    const { kind: _k, ...wire } = deep;
    const text = JSON.stringify(wire).replace('"data":{', `"data":{"extra":${nested(10_000)},`);
    expect(text.length).toBeGreaterThan(20_000);
    await jetstream(env.nc).publish(subjectOf(deep, env.ns.subjectRoot), text);
    await collector.drain(30_000);

    expect(await metricValue(registry, 'drainwatch_events_invalid_total', 'too-deep')).toBe(1);
    const dead = await jsonOf(await get(`${base}/api/dead-letters`));
    expect(dead.deadLetters[0]).toMatchObject({
      reason: 'too-deep',
      subject: subjectOf(deep, env.ns.subjectRoot),
    });
    const tl = await get(`${base}/api/pods/shop/deep-1/timeline`);
    expect(tl.status).toBe(200);
    expect((await jsonOf(tl)).events.map((e: { id: string }) => e.id)).toEqual([started.id]);
  });

  it('stored data nested too deep (written before the rule) never makes the timeline or report answer 500', async () => {
    const identity = { namespace: 'shop', workload: 'old', pod: 'old-1' };
    const seq = createEventSequencer(identity, 'old-inst');
    const ro = createEventSequencer({ namespace: 'shop', workload: 'old', pod: null }, 'ro-inst');
    const rolloutId = 'ro-old-deep';
    const t0 = Date.now() - 60_000;
    await publishAll(
      env.nc,
      [
        ro.next('rollout.started', { ...SAMPLE_DATA['rollout.started'], rolloutId }, new Date(t0)),
        seq.next('prestop.started', SAMPLE_DATA['prestop.started'], new Date(t0 + 1000)),
      ],
      env.ns.subjectRoot,
    );
    await collector.drain(30_000);
    // What an older collector stored: the wire JSON as it arrived, with the deep key.
    const old = seq.next('sigterm', SAMPLE_DATA.sigterm, new Date(t0 + 2000));
    const { kind: _k, ...wire } = old;
    const text = JSON.stringify(wire).replace('"data":{', `"data":{"extra":${nested(10_000)},`);
    await env.redis.zadd(KEYS.timeline(workloadKey('shop', 'old'), 'old-1'), t0 + 2000, text);

    const tl = await get(`${base}/api/pods/shop/old-1/timeline`);
    expect(tl.status).toBe(200);
    const body = await jsonOf(tl);
    // Stored events are decoded through the contract on the way out (collector/stored.ts), so the
    // too-deep one is left out like any stored event that no longer validates; the rest is served.
    expect(body.events.map((e: { kind: string }) => e.kind)).toEqual(['prestop.started']);
    expect(JSON.stringify(body)).not.toContain('extra');
    const report = await get(`${base}/api/rollouts/${rolloutId}`);
    expect(report.status).toBe(200);
    expect((await jsonOf(report)).rolloutId).toBe(rolloutId);
  });

  it('a path that cannot be decoded answers 400 with the JSON error shape', async () => {
    for (const path of ['/api/rollouts/%E0%A4%A', '/api/pods/%ZZ/web-1/timeline']) {
      const r = await get(`${base}${path}`);
      expect(r.status).toBe(400);
      expect(r.headers.get('content-type')).toContain('application/json');
      expect((await jsonOf(r)).error.code).toBe('bad-request');
    }
  });

  it('an unknown or repeated query parameter answers 400 naming it', async () => {
    const cases: [string, string][] = [
      ['/api/rollouts?namespace[x]=1', 'namespace[x]'],
      ['/api/rollouts?namespce=shop', 'namespce'],
      ['/api/rollouts?namespace=a&namespace=b', 'namespace'],
      ['/api/rollouts/ro-1?gate=1&gate=0', 'gate'],
      ['/api/pods/shop/web-1/timeline?limit=5', 'limit'],
    ];
    for (const [path, name] of cases) {
      const r = await get(`${base}${path}`);
      expect(r.status, path).toBe(400);
      const body = await jsonOf(r);
      expect(body.error.code).toBe('bad-request');
      expect(body.error.message).toContain(`"${name}"`);
    }
    expect((await get(`${base}/api/rollouts?namespace=shop&workload=web&limit=5`)).status).toBe(200);
  });
});
