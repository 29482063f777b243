import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Collector, createCollector, formatReportText } from '../../collector/index.js';
import { KEYS } from '../../collector/keys.js';
import { type CollectorEnv, startCollectorEnv } from '../helpers/collector-harness.js';
import { CLI_BIN } from '../helpers/collector-process.js';
import { expectedReport, publishAll, scriptedRollout } from '../helpers/collector-scenario.js';
import { jsonOf } from '../helpers/http-json.js';

describe('collector: a scripted rollout gives exactly the expected report', () => {
  let env: CollectorEnv;
  let collector: Collector;
  let base: string;

  beforeAll(async () => {
    env = await startCollectorEnv();
    collector = createCollector(env.config(), { nats: env.nc, redis: env.redis });
    const { http } = await collector.start();
    base = `http://127.0.0.1:${http.port}`;
  });

  afterAll(async () => {
    await collector?.stop();
    await env?.stop();
  });

  it('scores, causes, phases and figures all match the hand-worked answer', async () => {
    const scenario = scriptedRollout();
    await publishAll(env.nc, scenario.events, env.ns.subjectRoot);
    // A poison message on the stream must be counted and acked, not block what follows.
    await env.nc.request(`${env.ns.subjectRoot}.v1.shop.quote._.probe.request`, 'not json at all', {
      timeout: 5000,
    });
    await collector.drain(30_000);

    const report = await collector.store.getReport(scenario.rolloutId);
    expect(report).toBeDefined();
    expect(report).toMatchObject(expectedReport(scenario.rolloutId));
    const byPod = Object.fromEntries(report!.terminations.map((t) => [t.pod, t]));
    expect(Object.keys(byPod).sort()).toEqual(['quote-a', 'quote-b', 'quote-e']);
    expect(byPod['quote-a']).toMatchObject({
      clean: false,
      uncleanReasons: ['failed-requests'],
      failedProbeRequests: 2,
    });
    expect(byPod['quote-b']).toMatchObject({
      clean: false,
      uncleanReasons: ['failed-requests', 'in-flight-cut', 'websocket-close', 'killed-at-grace'],
      killedAtGrace: true,
      failedProbeRequests: 1,
    });
    // Issue #15 point 9: its WebSocket closed with 1000 at shutdown (clients will not reconnect),
    // so it is no longer clean.
    expect(byPod['quote-e']).toMatchObject({
      clean: false,
      uncleanReasons: ['websocket-close'],
      evidenceIncomplete: true,
      drainMs: 1000,
    });
    expect(byPod['quote-e']!.websocketOutcomes['normal-close-at-shutdown']).toBe(1);
    const causes = Object.fromEntries(report!.failures.map((f) => [f.probeId, [f.cause, f.phase, f.pod]]));
    expect(causes).toEqual({
      'p-late': ['late-arrival', 'draining', 'quote-a'],
      'p-sess': ['session-in-memory', 'serving', 'quote-a'],
      'p-other': ['other', 'serving', 'quote-c'],
      'p-cut': ['killed-at-grace', 'draining', 'quote-b'],
      'p-never': ['never-reached-pod', 'unknown', null],
    });
    const text = formatReportText(report!);
    expect(text).toContain(`Rollout ${scenario.rolloutId}`);
    expect(text).toContain('33.33%');

    // The HTTP API serves the same report, and the gate verdict.
    const res = await fetch(`${base}/api/rollouts/${scenario.rolloutId}?gate=0.3`);
    expect(res.status).toBe(200);
    const body = await jsonOf(res);
    expect(body).toMatchObject(expectedReport(scenario.rolloutId));
    expect(body.gate).toEqual({ score: 'sessionPersistence', threshold: 0.3, value: 1 / 3, passed: true });
    const list = await jsonOf(await fetch(`${base}/api/rollouts`));
    expect(list.rollouts.map((r: { rolloutId: string }) => r.rolloutId)).toContain(scenario.rolloutId);
    const tl = await jsonOf(await fetch(`${base}/api/pods/shop/quote-b/timeline`));
    expect(tl.events.map((e: { kind: string }) => e.kind)).toContain('app.exited');
    const missing = await fetch(`${base}/api/rollouts/nope`);
    expect(missing.status).toBe(404);
    expect((await jsonOf(missing)).error.code).toBe('rollout-not-found');

    // The poison message: counted by reason and kept as a dead letter.
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/drainwatch_events_invalid_total\{reason="not-json"\} 1/);
    expect(metrics).toMatch(new RegExp(`drainwatch_events_applied_total ${scenario.events.length}\\b`));
    const dead = await env.redis.lrange(KEYS.deadLetters, '0', '-1');
    expect(dead).toHaveLength(1);
    expect(JSON.parse(dead[0]!)).toMatchObject({ reason: 'not-json', raw: 'not json at all' });
    // Closing the rollout fed the counters.
    expect(metrics).toMatch(
      /drainwatch_probe_request_failures_total\{namespace="shop",workload="quote",cause="killed-at-grace",phase="draining"\} 1/,
    );
    expect(metrics).toMatch(
      /drainwatch_rollouts_total\{namespace="shop",workload="quote",outcome="complete"\} 1/,
    );
  });

  it('`drainwatch report` prints it from Redis alone, with gate and unknown-id exit codes', async () => {
    const [latest] = await collector.store.listRollouts();
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [CLI_BIN, 'report', ...args], {
        encoding: 'utf8',
        timeout: 30_000,
        env: {
          ...process.env,
          REDIS_URL: env.servers.redis.url,
          DRAINWATCH_REDIS_PREFIX: env.ns.redisPrefix,
        },
      });
    const json = run(latest!.rolloutId, '--json');
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject(expectedReport(latest!.rolloutId));
    const text = run();
    expect(text.status).toBe(0);
    expect(text.stdout).toContain(`Rollout ${latest!.rolloutId}`);
    const gated = run(latest!.rolloutId, '--gate', '0.9');
    expect(gated.status).toBe(1);
    expect(gated.stdout).toContain('FAILED');
    expect(run(latest!.rolloutId, '--gate', '30%').status).toBe(0);
    const missing = run('no-such-rollout');
    expect(missing.status).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('late and replayed events do not change the report', async () => {
    const scenario = scriptedRollout(Date.parse('2026-11-21T12:00:00.000Z'));
    // Reverse order: the finish first, then every probe and pod event, out of order.
    await publishAll(env.nc, [...scenario.events].reverse(), env.ns.subjectRoot);
    await collector.drain(30_000);
    const report = await collector.store.getReport(scenario.rolloutId);
    const expected = expectedReport(scenario.rolloutId, Date.parse('2026-11-21T12:00:00.000Z'));
    expect(report).toMatchObject({
      ...expected,
      startedAt: '2026-11-21T12:00:00.000Z',
      finishedAt: '2026-11-21T12:00:50.000Z',
    });
  });
});
