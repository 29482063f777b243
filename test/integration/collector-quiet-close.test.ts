import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Collector, createCollector } from '../../collector/index.js';
import { createEventSequencer } from '../../contract/validate.js';
import { pollUntil } from '../../lib/wait.js';
import { type CollectorEnv, startCollectorEnv } from '../helpers/collector-harness.js';
import { publishAll } from '../helpers/collector-scenario.js';
import { SAMPLE_DATA } from '../helpers/sample-events.js';

// A quiet rollout closes at its deadline (last activity + quiet), not at the next periodic refresh:
// the refresh interval here is an hour, so only the deadline timer can close it within the wait.
describe('collector quiet close', () => {
  let env: CollectorEnv;
  let collector: Collector;

  beforeAll(async () => {
    env = await startCollectorEnv();
    collector = createCollector(
      env.config({
        DRAINWATCH_ROLLOUT_QUIET: '2s',
        DRAINWATCH_REFRESH_INTERVAL: '1h',
        DRAINWATCH_POD_SERIES_EXPIRY: '2h',
      }),
      { nats: env.nc, redis: env.redis },
    );
    await collector.start();
  });
  afterAll(async () => {
    await collector?.stop();
    await env?.stop();
  });

  it('closes a rollout at its quiet deadline with a refresh interval far longer, after activity moved the deadline', async () => {
    const pod = createEventSequencer({ namespace: 'shop', workload: 'quiet', pod: 'quiet-1' });
    const t = Date.now();
    await publishAll(
      env.nc,
      [pod.next('prestop.started', SAMPLE_DATA['prestop.started'], new Date(t))],
      env.ns.subjectRoot,
    );
    await collector.drain(30_000);
    // Activity 1.5 s later: the first deadline (armed when the rollout opened) finds it not yet quiet.
    await publishAll(
      env.nc,
      [pod.next('app.exited', SAMPLE_DATA['app.exited'], new Date(t + 1500))],
      env.ns.subjectRoot,
    );
    const closed = await pollUntil(
      async () => {
        const [r] = await collector.store.listRollouts({ namespace: 'shop', workload: 'quiet' });
        return r?.outcome === 'timeout' ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'the quiet deadline to close the rollout' },
    );
    // Closed at its last activity: the re-armed deadline, not the first one.
    expect(closed.finishedAt).toBe(new Date(t + 1500).toISOString());
  });
});
