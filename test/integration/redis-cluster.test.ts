import type { NatsConnection } from '@nats-io/transport-node';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReportStore, DrainTimeoutError } from '../../collector/index.js';
import { KEYS, workloadKey } from '../../collector/keys.js';
import type { AnyEvent } from '../../contract/index.js';
import { createEventSequencer } from '../../contract/validate.js';
import { createRedisCluster } from '../../lib/redis.js';
import { onSlotMastersChanged, readSlotMapNow, SLOTS_REFRESH_INTERVAL_MS } from '../../lib/redis-slot-map.js';
import { type RunningServer, startNatsServer, startRedisServer } from '../../lib/servers.js';
import { delay, pollUntil } from '../../lib/wait.js';
import { collectorRuns } from '../helpers/collector-run.js';
import { expectedReport, NS, publishAll, scriptedRollout, WL } from '../helpers/collector-scenario.js';
import { differences } from '../helpers/differences.js';
import { redisCall } from '../helpers/redis-call.js';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster.js';
import { SAMPLE_DATA } from '../helpers/sample-events.js';
import { natsClient } from '../helpers/servers.js';

// The collector on a real Redis Cluster (3 masters, a replica each) must store and report exactly
// what it does on a single Redis: the same events, applied by the same scripts, one workload's
// keys in one slot. A planned failover of the master holding the scripted workload, mid-stream,
// changes nothing.

/** A small rollout of another workload: its keys land in other slots than the scripted one's. */
function otherRollout(workload: string, t0: number): AnyEvent[] {
  const ro = createEventSequencer({ namespace: 'other', workload, pod: null });
  const at = (ms: number) => new Date(t0 + ms);
  const out: AnyEvent[] = [
    ro.next('rollout.started', { rolloutId: `ro-${workload}`, trigger: 'cli' }, at(0)),
  ];
  for (let i = 0; i < 3; i++) {
    const pod = createEventSequencer({ namespace: 'other', workload, pod: `${workload}-${i}` });
    out.push(pod.next('prestop.started', SAMPLE_DATA['prestop.started'], at(100 + i * 300)));
    out.push(pod.next('app.exited', SAMPLE_DATA['app.exited'], at(250 + i * 300)));
  }
  out.push(
    ro.next(
      'rollout.finished',
      { rolloutId: `ro-${workload}`, outcome: 'complete', podsReplaced: 3 },
      at(2000),
    ),
  );
  return out;
}

describe('collector on a Redis Cluster', () => {
  let nats: RunningServer;
  let single: RunningServer;
  let cluster: TestRedisCluster;
  let nc: NatsConnection;
  const runs = collectorRuns(() => nats.url, 'cluster-test');

  beforeAll(async () => {
    [nats, single, cluster] = await Promise.all([startNatsServer(), startRedisServer(), startRedisCluster()]);
    nc = await natsClient(nats);
  }, 120_000);
  afterAll(async () => {
    await runs.stopAll();
    await nc?.close();
    await Promise.all([nats?.stop(), single?.stop(), cluster?.stop()]);
  });

  it('gives the report and the rollout list a single Redis gives, through a failover mid-stream', async () => {
    const scenario = scriptedRollout();
    const others = ['api', 'cart', 'search', 'web'].map((w, i) =>
      otherRollout(w, Date.parse('2026-11-21T11:00:00Z') + i * 5000),
    );
    const events = [...scenario.events, ...others.flat()];

    const reference = await runs.start({ REDIS_URL: single.url });
    await publishAll(nc, events, reference.root);
    await reference.collector.drain(60_000);

    const clustered = await runs.start({ REDIS_CLUSTER_NODES: cluster.seedList });
    const half = Math.floor(scenario.events.length / 2);
    await publishAll(nc, events.slice(0, half), clustered.root);
    await clustered.collector.drain(60_000);
    // The master holding the scripted workload's slot hands over to its replica, mid-rollout.
    const probe = new Redis({ port: cluster.nodes[0]!.port, host: '127.0.0.1' });
    const key = KEYS.open(workloadKey(NS, WL));
    const slot = Number(await probe.call('CLUSTER', 'KEYSLOT', key));
    probe.disconnect();
    const moved = await cluster.failover(slot);
    expect(moved.from).not.toBe(moved.to);
    await publishAll(nc, events.slice(half), clustered.root);
    await clustered.collector.drain(60_000);

    // The workloads' keys are spread over more than one master.
    const slots = new Set<number>();
    const seeded = new Redis({ port: cluster.nodes[0]!.port, host: '127.0.0.1' });
    for (const w of [WL, 'api', 'cart', 'search', 'web']) {
      const ns = w === WL ? NS : 'other';
      slots.add(Number(await seeded.call('CLUSTER', 'KEYSLOT', KEYS.open(workloadKey(ns, w)))));
    }
    seeded.disconnect();
    expect(slots.size).toBeGreaterThan(1);

    const [a, b] = [createReportStore(reference.redis), createReportStore(clustered.redis)];
    const report = await b.getReport(scenario.rolloutId);
    const onSingle = await a.getReport(scenario.rolloutId);
    expect(differences(report, onSingle), 'Redis Cluster ≠ single Redis').toEqual([]);
    expect(report).toEqual(onSingle);
    expect(report).toMatchObject(expectedReport(scenario.rolloutId));
    for (const w of ['api', 'cart', 'search', 'web']) {
      const r = await b.getReport(`ro-${w}`);
      const singleR = await a.getReport(`ro-${w}`);
      expect(differences(r, singleR), `${w}: Redis Cluster ≠ single Redis`).toEqual([]);
      expect(r).toEqual(singleR);
      expect(r?.terminations).toHaveLength(3);
    }
    expect(await b.listRollouts({ limit: 100 })).toEqual(await a.listRollouts({ limit: 100 }));
    expect(await b.workloadStatus()).toEqual(await a.workloadStatus());
    expect(await b.timeline(NS, 'quote-a')).toEqual(await a.timeline(NS, 'quote-a'));
  }, 180_000);

  it('tells when a failover gave slots another master, and only then (onSlotMastersChanged)', async () => {
    const client = createRedisCluster(cluster.seeds, { prefix: 'slot-watch:' });
    client.on('error', () => {});
    const changes: number[] = [];
    let refreshes = 0;
    client.on('refresh', () => refreshes++);
    const unwatch = onSlotMastersChanged(client, (slots) => changes.push(slots));
    try {
      await client.connect();
      // Two reads of an unchanged map (the first is the baseline; more come every 5 s) change nothing.
      await client.set('{w}k', '1');
      await pollUntil(() => refreshes >= 2, {
        timeoutMs: 20_000,
        intervalMs: 50,
        what: 'two slot-map reads',
      });
      expect(changes).toEqual([]);

      const slot = client.slots.findIndex((nodes) => nodes !== undefined);
      const servedBefore = client.slots.filter((nodes) => nodes?.[0] === client.slots[slot]![0]).length;
      const moved = await cluster.failover(slot);
      expect(moved.from).not.toBe(moved.to);
      // Seen by the next read of the map: the periodic one, nothing being written.
      await pollUntil(() => changes.length > 0, {
        timeoutMs: 20_000,
        intervalMs: 50,
        what: 'the change seen',
      });
      // Every slot the old master served moved, and nothing else.
      expect(changes.reduce((n, c) => n + c, 0)).toBe(servedBefore);
    } finally {
      unwatch();
      client.disconnect();
    }
  }, 90_000);

  it('sees a failover made before readSlotMapNow by the time it resolves, with no other map read', async () => {
    // A plain ioredis Cluster: no periodic read, so only readSlotMapNow can show the change.
    const client = new Cluster(
      cluster.seeds.map((s) => ({ ...s })),
      { redisOptions: { keyPrefix: 'slot-now:' } },
    );
    client.on('error', () => {});
    const changes: number[] = [];
    const unwatch = onSlotMastersChanged(client, (slots) => changes.push(slots));
    try {
      await client.set('{w}k', '1'); // connects: the first read is the baseline
      const slot = client.slots.findIndex((nodes) => nodes !== undefined);
      expect(changes).toEqual([]);
      const moved = await cluster.failover(slot);
      expect(moved.from).not.toBe(moved.to);
      expect(changes).toEqual([]);
      expect(await readSlotMapNow(client)).toBe(true);
      expect(changes.length).toBeGreaterThan(0);
    } finally {
      unwatch();
      client.disconnect();
    }
  }, 90_000);

  it('replays nothing when a replica goes away (its masters lost no write)', async () => {
    let replica: (typeof cluster.nodes)[number] | undefined;
    for (const n of cluster.nodes) {
      const role = (await redisCall({ port: n.port }, 'ROLE')) as unknown[];
      if (role[0] === 'slave') replica = n;
    }
    // A second client tells when the map no longer lists the replica (ioredis `-node`).
    const watcher = createRedisCluster(cluster.seeds, { prefix: 'replica-gone:' });
    watcher.on('error', () => {});
    const gone: string[] = [];
    watcher.on('-node', (node: Redis) => gone.push(`${node.options.host}:${node.options.port}`));
    await watcher.connect();
    // A replica is in the map once synced (Redis 7 leaves a loading one out); the collector
    // started after this reads it in its first map.
    await pollUntil(() => watcher.nodes('slave').some((n) => n.options.port === replica!.port), {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: `the replica on ${replica!.port} in the slot map`,
    });
    const run = await runs.start({ REDIS_CLUSTER_NODES: cluster.seedList });
    // Events acknowledged within the replay window, which a replay would read again.
    await publishAll(nc, scriptedRollout().events.slice(0, 200), run.root);
    await run.collector.drain(60_000);
    gone.length = 0;
    process.kill(replica!.server.pid, 'SIGSTOP');
    try {
      await pollUntil(() => gone.includes(`127.0.0.1:${replica!.port}`), {
        timeoutMs: 30_000,
        intervalMs: 100,
        what: `the frozen replica on ${replica!.port} left out of the slot map`,
      });
      // An observation window, not a wait for an event: the collector's own client reads the
      // map once in it (every SLOTS_REFRESH_INTERVAL_MS) and drops the replica, which is what
      // replayed before; nothing it does tells from outside that it did.
      await delay(SLOTS_REFRESH_INTERVAL_MS + 1000);
      await run.collector.drain(60_000);
    } finally {
      process.kill(replica!.server.pid, 'SIGCONT');
      watcher.disconnect();
    }
    const replayed =
      (await run.registry.getSingleMetric('drainwatch_events_replayed_total')?.get())?.values ?? [];
    expect(replayed.reduce((n, v) => n + v.value, 0)).toBe(0);
    expect(run.log.records().filter((r) => r.msg.includes('replaying recently acknowledged'))).toEqual([]);
  }, 90_000);

  it('reads the slot map no more once disconnected mid-read (no timer left to hold the process)', async () => {
    const client = createRedisCluster(cluster.seeds, { prefix: 'slot-timer:' });
    client.on('error', () => {});
    await client.connect();
    // The periodic read that starts next is disconnected under, as collector stop() may do
    // (the read takes up to slotsRefreshTimeout per node when one does not answer).
    const read = client.refreshSlotsCache.bind(client);
    let readsAfterDisconnect = 0;
    let disconnected = false;
    client.refreshSlotsCache = (callback) => {
      if (disconnected) readsAfterDisconnect++;
      read(callback);
      if (!disconnected) {
        disconnected = true;
        client.disconnect();
      }
    };
    await pollUntil(() => disconnected, {
      timeoutMs: 3 * SLOTS_REFRESH_INTERVAL_MS,
      intervalMs: 50,
      what: 'a periodic slot-map read',
    });
    // ioredis's own slotsRefreshInterval timer went on (the in-flight read's callback armed the
    // next round), every 5 s forever, and kept a stopped collector's process from exiting. An
    // observation window of more than one interval for a read that must not come.
    await delay(SLOTS_REFRESH_INTERVAL_MS + 2000);
    expect(readsAfterDisconnect).toBe(0);
  }, 30_000);

  it('drain() with a deadline past the longest timer (or none) waits for the slot-map read', async () => {
    const run = await runs.start({ REDIS_CLUSTER_NODES: cluster.seedList });
    await run.collector.drain(30_000);
    // setTimeout fires a delay over 2^31-1 ms at once: a bound that long must not cut the read.
    for (const timeoutMs of [2 ** 31, Number.POSITIVE_INFINITY]) {
      await expect(run.collector.drain(timeoutMs), `drain(${timeoutMs})`).resolves.toBeUndefined();
    }
  }, 60_000);

  it("drain() on a cluster that stopped answering ends at its own deadline, not the slot-map read's", async () => {
    const run = await runs.start({ REDIS_CLUSTER_NODES: cluster.seedList });
    await run.collector.drain(30_000);
    const pids = cluster.nodes.map((n) => n.server.pid);
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    try {
      // Nothing pending, nothing applying: only the slot-map read is left, and every node is
      // silent (2 s each, every node, twice: about 24 s without the bound).
      const err = await run.collector.drain(1500).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DrainTimeoutError);
      // Unbounded, the read ran its ~24 s and the error named no slot map.
      expect((err as Error).message).toContain('slot map');
    } finally {
      for (const pid of pids) process.kill(pid, 'SIGCONT');
    }
  }, 60_000);
});
