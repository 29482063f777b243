import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ClusterEvent } from '../../cluster/adapter.js';
import {
  createLocalCluster,
  createPassthroughLauncher,
  type LocalCluster,
} from '../../cluster/local/index.js';
import { QUOTE_APP_MAIN } from '../helpers/rehearse-process.js';
import { startTraffic } from '../helpers/rehearse-traffic.js';

// Real rolling updates of real processes through the passthrough sidecar (no agent): the
// adapter's ordering, its surge rule, and the failures a flawed app shows against a fixed one.

const workload = { namespace: 'rehearsal', name: 'quote' };
const quoteCmd = (env: string): string => `${env} exec "${process.execPath}" "${QUOTE_APP_MAIN}"`;

async function withCluster<T>(cluster: LocalCluster, fn: (c: LocalCluster) => Promise<T>): Promise<T> {
  try {
    await cluster.start();
    return await fn(cluster);
  } finally {
    await cluster.stop();
  }
}

function record(cluster: LocalCluster): ClusterEvent[] {
  const events: ClusterEvent[] = [];
  cluster.watch((e) => events.push(e));
  return events;
}

describe('local cluster rolling update', () => {
  it('follows the kubelet order per pod and never exceeds replicas + maxSurge', async () => {
    const cluster = createLocalCluster({
      workload,
      command: quoteCmd('QUOTE_GRACEFUL=on'),
      sidecar: createPassthroughLauncher({ prestopMs: 300 }),
      replicas: 3,
      propagation: { minMs: 50, maxMs: 200 },
      graceMs: 5000,
      seed: 11,
    });
    await withCluster(cluster, async (c) => {
      expect((await c.pods(workload)).filter((p) => p.ready)).toHaveLength(3);
      const events = record(c);
      let live = 3;
      let maxLive = 3;
      c.watch((e) => {
        if (e.type === 'pod-added') maxLive = Math.max(maxLive, ++live);
        if (e.type === 'pod-terminating') live--;
      });
      const result = await c.rolloutRestart(workload, { rolloutId: 'r1', timeoutMs: 60_000 });
      expect(result.outcome).toBe('complete');
      expect(result.podsReplaced).toBe(3);
      expect(maxLive).toBeLessThanOrEqual(4);
      const terminated = new Set(events.filter((e) => e.type === 'pod-terminating').map((e) => e.pod.name));
      expect(terminated.size).toBe(3);
      for (const pod of terminated) {
        const mine = events.filter((e) => 'pod' in e && e.pod.name === pod);
        const order = mine.map((e) => (e.type === 'container-exited' ? `exited:${e.container}` : e.type));
        expect(order.indexOf('pod-terminating')).toBeLessThan(order.indexOf('exited:app'));
        expect(order.indexOf('exited:app')).toBeLessThan(order.indexOf('exited:sidecar'));
        expect(order.indexOf('exited:sidecar')).toBeLessThan(order.indexOf('pod-deleted'));
        expect(order).toContain('endpoints-terminating');
        const app = mine.find((e) => e.type === 'container-exited' && e.container === 'app');
        expect(app).toMatchObject({ exitCode: 0, killedAtGrace: false });
      }
      const now = await c.pods(workload);
      expect(now).toHaveLength(3);
      expect(now.every((p) => p.ready && !terminated.has(p.name))).toBe(true);
    });
  });

  it('a flawed app (no graceful shutdown, no preStop wait) loses requests; the fixed one loses none', async () => {
    const run = async (env: string, prestopMs: number) => {
      const cluster = createLocalCluster({
        workload,
        command: quoteCmd(env),
        sidecar: createPassthroughLauncher({ prestopMs }),
        replicas: 2,
        propagation: { minMs: 300, maxMs: 800 },
        graceMs: 8000,
        seed: 5,
      });
      return withCluster(cluster, async (c) => {
        // POSTs: the entry point, like nginx, sends a GET cut by a reset again, so GETs would
        // hide what the flawed app does to a request in flight; a POST is never repeated.
        const traffic = startTraffic(c.entrypointUrl(), '/login', 4, 100_000, { json: { user: 'u' } });
        const result = await c.rolloutRestart(workload, { rolloutId: 'r', timeoutMs: 60_000 });
        const tally = await traffic.stop();
        expect(result.outcome).toBe('complete');
        return tally;
      });
    };
    const naive = await run('QUOTE_GRACEFUL=off QUOTE_WORK_MS=20', 0);
    const drained = await run('QUOTE_GRACEFUL=on QUOTE_WORK_MS=20', 1500);
    expect(naive.ok).toBeGreaterThan(0);
    expect(naive.failed).toBeGreaterThan(0);
    expect(drained.ok).toBeGreaterThan(0);
    expect(drained.failed).toBe(0);
  });

  it('runs any command, and SIGKILLs an app that ignores SIGTERM at the grace period', async () => {
    const stubborn = `exec "${process.execPath}" -e "process.on('SIGTERM',()=>{});require('node:http').createServer((q,s)=>s.end('up')).listen(process.env.PORT,'127.0.0.1')"`;
    const cluster = createLocalCluster({
      workload,
      command: stubborn,
      sidecar: createPassthroughLauncher(),
      replicas: 1,
      readyPath: '/',
      propagation: { minMs: 0, maxMs: 0 },
      graceMs: 1500,
      seed: 3,
    });
    await withCluster(cluster, async (c) => {
      const events = record(c);
      const result = await c.rolloutRestart(workload, { rolloutId: 'r', timeoutMs: 30_000 });
      expect(result.outcome).toBe('complete');
      const exit = events.find((e) => e.type === 'container-exited' && e.container === 'app');
      expect(exit).toMatchObject({ killedAtGrace: true, signal: 'SIGKILL' });
    });
  });

  it('fails the rollout when a new pod cannot become ready, and keeps the old pod serving', async () => {
    let starts = 0;
    const mark = `/tmp/drainwatch-rehearse-mark-${process.pid}-${Date.now()}`;
    const cluster = createLocalCluster({
      workload,
      // The first pod serves; every later one exits at once.
      command: `exec "${process.execPath}" -e "if(require('node:fs').existsSync(process.env.MARK)){console.error('boom');process.exit(4)};require('node:fs').writeFileSync(process.env.MARK,'1');require('node:http').createServer((q,s)=>s.end()).listen(process.env.PORT,'127.0.0.1')"`,
      env: { MARK: mark },
      sidecar: createPassthroughLauncher(),
      replicas: 1,
      readyPath: '/',
      propagation: { minMs: 0, maxMs: 0 },
      graceMs: 2000,
      seed: 4,
    });
    cluster.watch((e) => {
      if (e.type === 'pod-added') starts++;
    });
    await withCluster(cluster, async (c) => {
      const result = await c.rolloutRestart(workload, { rolloutId: 'r', timeoutMs: 30_000 });
      expect(result.outcome).toBe('failed');
      expect(starts).toBe(2);
      // The old pod keeps serving: a failed rollout never takes availability below the rule.
      expect((await c.pods(workload)).filter((p) => p.ready)).toHaveLength(1);
    }).finally(() => rmSync(mark, { force: true }));
  });
});

describe('local pod start', () => {
  it('starts the app again on a fresh port when its port was taken', async () => {
    const mark = `/tmp/drainwatch-rehearse-port-${process.pid}-${Date.now()}`;
    // The first start reports the port taken, as Node does, and dies; the second serves.
    const app = `exec "${process.execPath}" -e "const fs=require('node:fs');if(!fs.existsSync(process.env.MARK)){fs.writeFileSync(process.env.MARK,'1');console.error('Error: listen EADDRINUSE: address already in use 127.0.0.1:'+process.env.PORT);process.exit(1)};require('node:http').createServer((q,s)=>s.end('up')).listen(process.env.PORT,'127.0.0.1')"`;
    const cluster = createLocalCluster({
      workload,
      command: app,
      env: { MARK: mark },
      sidecar: createPassthroughLauncher(),
      replicas: 1,
      readyPath: '/',
      propagation: { minMs: 0, maxMs: 0 },
      graceMs: 2000,
      seed: 8,
    });
    await withCluster(cluster, async (c) => {
      expect((await c.pods(workload)).filter((p) => p.ready)).toHaveLength(1);
      const r = await fetch(`${c.entrypointUrl()}/`);
      expect(await r.text()).toBe('up');
    }).finally(() => rmSync(mark, { force: true }));
  });
});
