import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Collector, createCollector } from '../../collector/index.js';
import { createEventSequencer } from '../../contract/validate.js';
import { pollUntil } from '../../lib/wait.js';
import { type CollectorEnv, startCollectorEnv } from '../helpers/collector-harness.js';
import { publishAll } from '../helpers/collector-scenario.js';
import { SAMPLE_DATA } from '../helpers/sample-events.js';

describe('collector rollout windows', () => {
  const gauge = async (name: string, workload: string): Promise<number | undefined> => {
    const m = (await collector.registry.getMetricsAsJSON()).find((x) => x.name === name);
    return m?.values.find((v) => v.labels.workload === workload)?.value;
  };
  let env: CollectorEnv;
  let collector: Collector;
  // The quiet timeout is judged against this clock, so a slow machine cannot close a rollout early.
  const t0 = Date.now();
  let now = t0;
  const clock = { now: () => now };

  beforeAll(async () => {
    env = await startCollectorEnv();
    collector = createCollector(env.config({ DRAINWATCH_ROLLOUT_QUIET: '1s' }), {
      nats: env.nc,
      redis: env.redis,
      clock,
    });
    await collector.start();
  });
  afterAll(async () => {
    await collector?.stop();
    await env?.stop();
  });

  it('opens at the first preStop, closes after the quiet timeout, keeps late events in their window', async () => {
    const pod = (name: string) => createEventSequencer({ namespace: 'shop', workload: 'cart', pod: name });
    const p1 = pod('cart-1');
    const p2 = pod('cart-2');
    await publishAll(
      env.nc,
      [
        p1.next('prestop.started', SAMPLE_DATA['prestop.started'], new Date(t0)),
        p2.next('prestop.started', SAMPLE_DATA['prestop.started'], new Date(t0 + 200)),
        p1.next('app.exited', SAMPLE_DATA['app.exited'], new Date(t0 + 400)),
      ],
      env.ns.subjectRoot,
    );
    await collector.drain(30_000);
    const open = await collector.store.listRollouts({ namespace: 'shop', workload: 'cart' });
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({ trigger: 'implicit', outcome: 'open' });
    const id = open[0]!.rolloutId;
    // cart-2 is between preStop and exit; cart-1 has exited.
    await pollUntil(
      async () =>
        (await gauge('drainwatch_rollout_in_progress', 'cart')) === 1 &&
        (await gauge('drainwatch_pods_terminating', 'cart')) === 1,
      { timeoutMs: 30_000, what: 'the in-progress gauges' },
    );

    now = t0 + 400 + 1500;
    const closed = await pollUntil(
      async () => {
        const [r] = await collector.store.listRollouts({ namespace: 'shop', workload: 'cart' });
        return r?.outcome === 'timeout' ? r : undefined;
      },
      { timeoutMs: 30_000, what: 'the quiet timeout to close the rollout' },
    );
    // Closed at its last pod activity, not at the moment the timeout noticed.
    expect(closed.finishedAt).toBe(new Date(t0 + 400).toISOString());
    await pollUntil(
      async () =>
        (await gauge('drainwatch_rollout_in_progress', 'cart')) === 0 &&
        (await gauge('drainwatch_pods_terminating', 'cart')) === 0,
      { timeoutMs: 30_000, what: 'the in-progress gauges to drop' },
    );

    // A preStop that arrives late but happened inside the closed window belongs to it.
    const p3 = pod('cart-3');
    await publishAll(
      env.nc,
      [p3.next('prestop.started', SAMPLE_DATA['prestop.started'], new Date(t0 + 300))],
      env.ns.subjectRoot,
    );
    await collector.drain(30_000);
    const report = await collector.store.getReport(id);
    expect(report!.terminations.map((t) => t.pod)).toEqual(['cart-1', 'cart-2', 'cart-3']);
    expect(await collector.store.listRollouts({ namespace: 'shop', workload: 'cart' })).toHaveLength(1);

    // cart-3's SIGTERM after the window: its termination began inside it, so it opens none.
    await publishAll(
      env.nc,
      [p3.next('sigterm', SAMPLE_DATA.sigterm, new Date(Date.now()))],
      env.ns.subjectRoot,
    );
    await collector.drain(30_000);
    expect(await collector.store.listRollouts({ namespace: 'shop', workload: 'cart' })).toHaveLength(1);

    // Another pod's termination after the window opens a new rollout.
    await publishAll(
      env.nc,
      [pod('cart-4').next('prestop.started', SAMPLE_DATA['prestop.started'], new Date(Date.now()))],
      env.ns.subjectRoot,
    );
    await collector.drain(30_000);
    const all = await collector.store.listRollouts({ namespace: 'shop', workload: 'cart' });
    expect(all).toHaveLength(2);
    expect(all[0]!.outcome).toBe('open');
  });

  it('an explicit rollout.started takes over the implicit rollout its early preStops opened', async () => {
    const start = now + 60_000;
    const p = createEventSequencer({ namespace: 'shop', workload: 'basket', pod: 'basket-1' });
    const control = createEventSequencer({ namespace: 'shop', workload: 'basket', pod: null });
    await publishAll(
      env.nc,
      [
        p.next('prestop.started', SAMPLE_DATA['prestop.started'], new Date(start + 100)),
        control.next('rollout.started', { rolloutId: 'ro-explicit', trigger: 'cli' }, new Date(start + 500)),
        control.next(
          'rollout.finished',
          { rolloutId: 'ro-explicit', outcome: 'complete', podsReplaced: 1 },
          new Date(start + 900),
        ),
      ],
      env.ns.subjectRoot,
    );
    await collector.drain(30_000);
    const list = await collector.store.listRollouts({ namespace: 'shop', workload: 'basket' });
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ rolloutId: 'ro-explicit', outcome: 'complete', trigger: 'cli' });
    const report = await collector.store.getReport('ro-explicit');
    expect(report!.startedAt).toBe(new Date(start + 100).toISOString());
    expect(report!.terminations.map((t) => t.pod)).toEqual(['basket-1']);
  });

  it("a rollout.finished before its rollout.started closes the preStop-opened rollout once, under the controller's id; the late start opens none", async () => {
    const start = now + 120_000;
    const p = createEventSequencer({ namespace: 'shop', workload: 'bag', pod: 'bag-1' });
    const control = createEventSequencer({ namespace: 'shop', workload: 'bag', pod: null });
    // Applied in this order: the finish overtook the start (a delayed publisher, a redelivery).
    await publishAll(
      env.nc,
      [
        p.next('prestop.started', SAMPLE_DATA['prestop.started'], new Date(start + 100)),
        control.next(
          'rollout.finished',
          { rolloutId: 'ro-late', outcome: 'complete', podsReplaced: 1 },
          new Date(start + 900),
        ),
        control.next('rollout.started', { rolloutId: 'ro-late', trigger: 'cli' }, new Date(start + 50)),
      ],
      env.ns.subjectRoot,
    );
    await collector.drain(30_000);
    const list = await collector.store.listRollouts({ namespace: 'shop', workload: 'bag' });
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ outcome: 'complete', trigger: 'cli' });
    expect(list[0]!.startedAt).toBe(new Date(start + 50).toISOString());
    const status = (await collector.store.workloadStatus()).find((s) => s.workload === 'bag');
    expect(status).toMatchObject({ openRolloutId: null });
    // It has the controller's id, as in stream order, and its report the late start's trigger.
    expect(list[0]!.rolloutId).toBe('ro-late');
    expect(await collector.store.getReport('ro-late')).toMatchObject({
      rolloutId: 'ro-late',
      trigger: 'cli',
      podsReplaced: 1,
      terminations: [expect.objectContaining({ pod: 'bag-1' })],
    });
    expect(await collector.store.getReport('ro-never')).toBeUndefined();
  });
});
