import { afterEach, describe, expect, it } from 'vitest';
import { pollUntil } from '../../lib/wait.js';
import { createProbeRun, skewRatio } from '../../probe/index.js';
import {
  affinityCookie,
  type Balancer,
  perConnection,
  type ScenarioApp,
  type SessionStore,
  startBalancer,
  startScenarioApp,
} from '../helpers/probe-targets.js';

// Sticky routing seen from the client: an entry point that pins clients with an affinity cookie,
// and one that balances per connection (as kube-proxy does) so keep-alive pins each session.

describe('probe traffic distribution', () => {
  let apps: ScenarioApp[] = [];
  let balancer: Balancer | undefined;
  afterEach(async () => {
    await balancer?.stop();
    await Promise.all(apps.map((a) => a.stop()));
    apps = [];
    balancer = undefined;
  });

  async function replicas(): Promise<string[]> {
    const shared: SessionStore = new Map();
    apps = await Promise.all(
      ['pod-0', 'pod-1', 'pod-2'].map((pod) =>
        startScenarioApp({ pod, writeTo: [shared], readFrom: shared }),
      ),
    );
    return apps.map((a) => a.url);
  }

  it('detects an affinity cookie and measures the skew the cookie assignment implies', async () => {
    // Three of every five new clients go to pod-0: 18 / 6 / 6 sessions, so pod-0 should carry 3×.
    balancer = await startBalancer(await replicas(), affinityCookie([0, 0, 0, 1, 2]));
    const run = createProbeRun({
      target: balancer.url,
      sessions: 30,
      websockets: 0,
      ratePerSession: 10,
      identityIntervalMs: 1000,
      skewWindowMs: 2000,
      rampMs: 0,
    });
    await run.start();
    await pollUntil(() => run.snapshot().elapsedMs >= 6000, { timeoutMs: 60_000, what: '6 s of traffic' });
    const summary = await run.stop();
    const byBalancer = Object.fromEntries(balancer.forwarded.map((n, i) => [`pod-${i}`, n]));

    expect(summary.sticky).toBe(true);
    expect(summary.stickyReason).toContain('"route"');
    // Every request the balancer forwarded was answered and counted on the right pod.
    expect(summary.perPod).toEqual(byBalancer);
    expect(summary.runSkewRatio).toBe(skewRatio(byBalancer));
    // The sessions' random jitter makes the count per window vary by some percent around 3; the
    // peak over the run's 2 s windows must still be near the 3× the assignment implies.
    expect(summary.maxSkewRatio).toBeGreaterThan(2.4);
    expect(summary.maxSkewRatio).toBeLessThan(4);
    expect(summary.runSkewRatio).toBeGreaterThan(2.4);
    expect(summary.runSkewRatio).toBeLessThan(3.6);
    expect(summary.failed).toBe(0);
    expect(summary.losses).toBe(0);
  });

  it('detects sessions pinned to one pod by keep-alive without any cookie', async () => {
    balancer = await startBalancer(await replicas(), perConnection(3));
    const run = createProbeRun({
      target: balancer.url,
      sessions: 12,
      websockets: 0,
      ratePerSession: 20,
      rampMs: 0,
    });
    await run.start();
    await pollUntil(() => run.snapshot().requests >= 12 * 15, {
      timeoutMs: 60_000,
      what: '15 requests per session',
    });
    const summary = await run.stop();
    expect(summary.sticky).toBe(true);
    expect(summary.stickyReason).toMatch(/always answered by the same pod \(3 pods seen\)/);
    expect(summary.connections.reused).toBeGreaterThan(summary.connections.new);
    expect(summary.perPod).toEqual(Object.fromEntries(balancer.forwarded.map((n, i) => [`pod-${i}`, n])));
  });
});
