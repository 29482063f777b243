import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Collector, createCollector } from '../../collector/index.js';
import { createEventSequencer } from '../../contract/validate.js';
import { type CollectorEnv, startCollectorEnv } from '../helpers/collector-harness.js';
import { publishAll } from '../helpers/collector-scenario.js';
import { SAMPLE_DATA } from '../helpers/sample-events.js';

// `report` tells "nothing matches your filter" (and what exists) from "nothing stored yet":
// a real collector stores a rollout in a real Redis, the compiled CLI reads it.
const bin = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

describe('report without a matching rollout', () => {
  let env: CollectorEnv;
  let collector: Collector;
  let rolloutId: string;

  const report = (prefix: string, ...args: string[]) => {
    const r = spawnSync(process.execPath, [bin, 'report', ...args], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, REDIS_URL: env.servers.redis.url, DRAINWATCH_REDIS_PREFIX: prefix },
    });
    return { code: r.status, err: r.stderr.trim() };
  };

  beforeAll(async () => {
    env = await startCollectorEnv();
    collector = createCollector(env.config(), { nats: env.nc, redis: env.redis });
    await collector.start();
    const pod = createEventSequencer({ namespace: 'shop', workload: 'cart', pod: 'cart-1' });
    await publishAll(
      env.nc,
      [pod.next('prestop.started', SAMPLE_DATA['prestop.started'])],
      env.ns.subjectRoot,
    );
    await collector.drain(30_000);
    rolloutId = (await collector.store.listRollouts())[0]!.rolloutId;
  }, 120_000);
  afterAll(async () => {
    await collector?.stop();
    await env?.stop();
  });

  it('says no rollout matches the filter, listing what is stored', () => {
    const r = report(env.ns.redisPrefix, '--workload', 'checkout');
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      `drainwatch report: no rollout matches workload "checkout"; latest stored: shop/cart (${rolloutId})`,
    );
    expect(report(env.ns.redisPrefix, '--namespace', 'shop', '--workload', 'checkout').err).toContain(
      'no rollout matches namespace "shop" and workload "checkout"',
    );
  });

  it('finds the rollout by workload alone', () => {
    expect(report(env.ns.redisPrefix, '--workload', 'cart', '--json').code).toBe(0);
  });

  it('says no rollout stored yet only when none is', () => {
    const r = report(`${env.ns.redisPrefix}empty:`, '--workload', 'checkout');
    expect(r.code).toBe(2);
    expect(r.err).toBe('drainwatch report: no rollout stored yet');
  });
});
