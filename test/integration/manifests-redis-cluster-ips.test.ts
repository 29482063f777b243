import { connect } from 'node:net';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../../lib/wait.js';
import { missingBinaries } from '../helpers/pod-processes.js';
import {
  REDIS_CLUSTER_MANIFEST as M,
  type RedisClusterManifestPods,
  startRedisClusterManifestPods,
} from '../helpers/redis-cluster-manifest-pods.js';

// manifests/redis-cluster/ when pods come back with new IPs (docs/scaling.md "Redis Cluster in
// Kubernetes"): each pod on its own loopback address (127.N.gen.10+i, a new `gen` for new pod IPs),
// its DNS name following it (test/helpers/redis-cluster-manifest-pods.ts, podAddresses). The init
// Job forms the cluster; every pod stops (SIGTERM, as a drain or a cluster restart does) and starts
// again on a new address with its data directory: the cluster must be ok again, every node knowing
// every other at its new address, the key written before readable through ioredis Cluster. Then
// one pod alone. And a client from another pod's address is served (protected mode off), which a
// Redis built with protected mode on (Debian's, as installed here) refuses.

const MISSING = missingBinaries(['redis-server', 'redis-cli']);
if (MISSING.length > 0)
  console.warn(
    `manifests-redis-cluster-ips: skipped, not installed: ${MISSING.join(', ')} (scripts/setup.sh)`,
  );

// A random second octet: runs of this test at once do not share addresses.
const NET = 1 + Math.floor(Math.random() * 250);
const podIp = (gen: number, i: number) => `127.${NET}.${gen}.${10 + i}`;
const KEY = 'drainwatch:ip-test';

/** The first reply line of PING sent to `host:port` from `from` (another pod's address). */
function pingFrom(from: string, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port, localAddress: from }, () => sock.write('PING\r\n'));
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no reply from ${host}:${port}`));
    }, 5000);
    timer.unref();
    sock.once('data', (d) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(d.toString().split('\r\n')[0]!);
    });
    sock.once('error', reject);
  });
}

describe.skipIf(MISSING.length > 0)('manifests/redis-cluster on loopback: pods with new IPs', () => {
  let pods: RedisClusterManifestPods;
  const ask = async (i: number, ...args: string[]) => String(await pods.call(i, ...args));

  /** Why node i's view is not healthy yet, or undefined: ok, every slot, every peer connected at its address. */
  async function unhealthy(i: number): Promise<string | undefined> {
    const info = await ask(i, 'CLUSTER', 'INFO');
    if (!info.includes('cluster_state:ok') || !info.includes('cluster_slots_ok:16384'))
      return `${M.podName(i)}: ${/cluster_state:\w+/.exec(info)?.[0]}`;
    const lines = (await ask(i, 'CLUSTER', 'NODES')).trim().split('\n');
    if (lines.length !== M.nodes.length)
      return `${M.podName(i)} knows ${lines.length} nodes:\n${lines.join('\n')}`;
    for (const l of lines) {
      const [, addr = '', flags = '', , , , , link] = l.split(' ');
      const host = addr.split(',')[1];
      const j = M.nodes.find((n) => M.fqdn(n) === host);
      if (
        j === undefined ||
        addr.split(':')[0] !== pods.address(j) ||
        link !== 'connected' ||
        /fail|handshake|noaddr/.test(flags)
      )
        return `${M.podName(i)} sees ${l}`;
    }
    return undefined;
  }

  /** Polls (60 s at most) until every node is healthy; the time it took (ms). */
  async function healthy(what: string): Promise<number> {
    const t0 = Date.now();
    let why: string | undefined;
    await pollUntil(
      async () => {
        const all = await Promise.all(M.nodes.map((i) => unhealthy(i).catch((e: Error) => e.message)));
        why = all.find((w) => w !== undefined);
        return why === undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what },
    ).catch((err: Error) => {
      // What each pod printed (start.sh says which peers it met again), for the diagnosis.
      const logs = M.nodes.map((i) => `--- ${M.podName(i)}\n${pods.process(i).output().slice(-1500)}`);
      throw new Error(`${err.message}; last: ${why}\n${logs.join('\n')}`);
    });
    return Date.now() - t0;
  }

  /** healthy(), then the key written before read back through ioredis Cluster. */
  async function recovered(what: string): Promise<number> {
    const ms = await healthy(what);
    expect(await withCluster((c) => c.get(KEY))).toBe('written before');
    return ms;
  }

  async function withCluster<T>(f: (c: Cluster) => Promise<T>): Promise<T> {
    const c = new Cluster([{ host: pods.address(0), port: pods.port(0) }], {
      natMap: pods.natMap(),
      clusterRetryStrategy: () => null,
      redisOptions: { maxRetriesPerRequest: 1 },
    });
    c.on('error', () => {});
    try {
      return await f(c);
    } finally {
      c.disconnect();
    }
  }

  /** SIGTERM to each pod (the kubelet's stop), resolved once all have exited. */
  async function stopPods(nodes: readonly number[]): Promise<void> {
    for (const i of nodes) pods.process(i).signal('SIGTERM');
    await Promise.all(nodes.map((i) => pods.process(i).exited));
  }

  beforeAll(async () => {
    pods = await startRedisClusterManifestPods({ podAddresses: true });
  });
  afterAll(async () => {
    await pods?.stop();
  });

  it('is ok again after every pod restarts at once with a new IP, and after one pod does', async () => {
    await Promise.all(M.nodes.map((i) => pods.start(i, podIp(1, i))));
    const init = await pods.runInit();
    expect(init.code, init.output).toBe(0);
    const formedMs = await healthy('the cluster to form');
    await withCluster((c) => c.set(KEY, 'written before'));
    expect(await withCluster((c) => c.get(KEY))).toBe('written before');
    // Another pod's address is a remote client to Redis: served, not refused by protected mode.
    expect(await pingFrom(podIp(1, 1), pods.address(0), pods.port(0))).toBe('+PONG');

    await stopPods(M.nodes);
    await Promise.all(M.nodes.map((i) => pods.start(i, podIp(2, i))));
    const allMs = await recovered('every node at its new address after all restarted');

    const lone = 0;
    await stopPods([lone]);
    await pods.start(lone, podIp(3, lone));
    const loneMs = await recovered(`every node to know ${M.podName(lone)} at its new address`);
    console.log(
      `manifests/redis-cluster new IPs: healthy ${formedMs} ms after the init Job; ` +
        `${allMs} ms after all 6 pods restarted on new addresses; ${loneMs} ms after ${M.podName(lone)} alone did`,
    );
  }, 240_000);
});
