import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type Collector, createCollector, loadCollectorConfig } from '../../collector/index.js';
import { KEYS, workloadKey } from '../../collector/keys.js';
import { type RunningServer, startNatsServer } from '../../lib/servers.js';
import { pollUntil } from '../../lib/wait.js';
import { expectedReport, NS, publishAll, scriptedRollout, WL } from '../helpers/collector-scenario.js';
import {
  applyJsonPatch,
  containerEnv,
  type JsonPatchOp,
  readManifest,
  substitute,
} from '../helpers/manifest-pods.js';
import { missingBinaries } from '../helpers/pod-processes.js';
import {
  REDIS_CLUSTER_MANIFEST as M,
  POD_SHELL,
  type PodTemplate,
  type RedisClusterManifestPods,
  redisDirective,
  redisMountOf,
  startRedisClusterManifestPods,
} from '../helpers/redis-cluster-manifest-pods.js';
import { natsClient } from '../helpers/servers.js';

// manifests/redis-cluster/ run, not only validated: six redis-servers on loopback started by the
// StatefulSet's command with the ConfigMap's redis.conf, the init Job's own script forming the
// cluster (test/helpers/redis-cluster-manifest-pods.ts says what is rewritten). A first run with a
// node missing fails, as the Job's backoff expects; a second run after the cluster formed leaves it
// alone. The collector, given REDIS_CLUSTER_NODES by the component's patch of its Deployment,
// applies a rollout through the SIGKILL of the master holding its keys.

const MISSING = missingBinaries(['redis-server', 'redis-cli', 'nats-server']);
if (MISSING.length > 0)
  console.warn(
    `manifests-redis-cluster-config: skipped, not installed: ${MISSING.join(', ')} (scripts/setup.sh)`,
  );

/** One `port role master-port slots` line per node of a CLUSTER NODES reply, sorted. */
function layout(nodes: string): string[] {
  const lines = nodes
    .trim()
    .split('\n')
    .map((l) => l.split(' '));
  // The port of `ip:port@busport,hostname` of the node with that id; '-' (no master) for none.
  const portOf = (id: string) =>
    lines
      .find((f) => f[0] === id)?.[1]
      ?.split('@')[0]
      ?.split(':')
      .at(-1) ?? '-';
  return lines
    .map(
      (f) =>
        `${portOf(f[0]!)} ${f[2]!.includes('master') ? 'master' : 'replica'} ${portOf(f[3]!)} ${f.slice(8)}`,
    )
    .sort();
}

/** Whether a slot list (`0-5460,5461`) holds `slot`. */
function servesSlot(slots: string, slot: number): boolean {
  return slots.split(',').some((r) => {
    const [a, b] = r.split('-').map(Number);
    return slot >= a! && slot <= (b ?? a!);
  });
}

describe.skipIf(MISSING.length > 0)('manifests/redis-cluster on loopback', () => {
  let pods: RedisClusterManifestPods;
  let nats: RunningServer;
  let collector: Collector | undefined;
  const ask = async (i: number, ...args: string[]) => String(await pods.call(i, ...args));
  const clusterOk = async (nodes: readonly number[]) =>
    (await Promise.all(nodes.map((i) => ask(i, 'CLUSTER', 'INFO')))).every((s) =>
      s.includes('cluster_state:ok'),
    );

  beforeAll(async () => {
    [pods, nats] = await Promise.all([startRedisClusterManifestPods(), startNatsServer()]);
  });
  afterAll(async () => {
    await collector?.stop();
    await pods?.stop();
    await nats?.stop();
  });

  it('relies on Redis defaults the container declares and keeps its data on the persistent volume', () => {
    for (const d of ['port', 'bind', 'cluster-port']) expect(redisDirective(d)).toBeUndefined();
    expect(M.ports.redis).toBe(6379);
    expect(M.ports.bus).toBe(M.ports.redis + 10_000);
    const claims = M.sts.spec.volumeClaimTemplates.map((v) => v.metadata.name);
    for (const d of ['cluster-config-file', 'dir'])
      expect(claims).toContain(redisMountOf(redisDirective(d)!).name);
    expect(M.container.command).toEqual(['sh', '-c']);
    expect(M.jobContainer.command).toEqual(['sh', '-c']);
  });

  it('forms 3 masters with a replica each through the init Job, a second run leaves it alone, the collector applies a rollout', async () => {
    const t0 = Date.now();
    // Five of six nodes up: each ready (answers PING) before any cluster exists; the Job's run fails.
    const five = M.nodes.slice(0, -1);
    await Promise.all(five.map((i) => pods.start(i)));
    for (const i of five) expect(await pods.ready(i)).toBe(true);
    const early = await pods.runInit();
    expect(early.code, early.output).not.toBe(0);
    expect(await ask(0, 'CLUSTER', 'INFO')).toContain('cluster_known_nodes:1');

    await pods.start(M.nodes.at(-1)!);
    expect(await pods.ready(M.nodes.at(-1)!)).toBe(true);
    const first = await pods.runInit();
    expect(first.output).toContain('[OK] All 16384 slots covered');
    expect(first.code, first.output).toBe(0);
    const formed = await pollUntil(
      async () => {
        if (!(await clusterOk(M.nodes))) return undefined;
        const views = await Promise.all(M.nodes.map(async (i) => layout(await ask(i, 'CLUSTER', 'NODES'))));
        return views.every((v) => v.join() === views[0]!.join()) ? views[0] : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'every node to agree on the cluster, state ok' },
    );
    const formedMs = Date.now() - t0;
    const masters = formed.filter((l) => l.split(' ')[1] === 'master');
    const replicas = formed.filter((l) => l.split(' ')[1] === 'replica');
    expect(masters).toHaveLength(3);
    expect(masters.every((l) => l.split(' ')[3] !== '')).toBe(true);
    expect(replicas.map((l) => l.split(' ')[2]).sort()).toEqual(masters.map((l) => l.split(' ')[0]).sort());
    // Clients are told the announced host name (cluster-preferred-endpoint-type hostname), not an IP.
    const slots = (await pods.call(0, 'CLUSTER', 'SLOTS')) as unknown[][];
    const endpoints = new Set(slots.flatMap((s) => s.slice(2).map((n) => (n as unknown[])[0])));
    expect(endpoints).toEqual(new Set(['localhost']));

    const again = await pods.runInit();
    expect({ ...again, output: again.output.trim() }).toEqual({ code: 0, output: 'cluster already formed' });
    expect(layout(await ask(0, 'CLUSTER', 'NODES'))).toEqual(formed);

    // The collector with the component's patch of its Deployment: REDIS_CLUSTER_NODES, no REDIS_URL.
    const dep = readManifest<{ spec: PodTemplate }>('manifests/collector/deployment.yaml');
    const patch = M.component.patches.find((p) => p.target?.kind === 'Deployment')!;
    const patched = applyJsonPatch(dep, parse(patch.patch) as JsonPatchOp[]);
    const env = containerEnv(patched.spec.template.spec.containers[0]!, {
      name: 'collector',
      namespace: M.namespace,
    });
    expect(env.REDIS_URL).toBeUndefined();
    const seeds = substitute(
      env.REDIS_CLUSTER_NODES!,
      M.nodes
        .filter((i) => env.REDIS_CLUSTER_NODES!.includes(`${M.podName(i)}.`))
        .map((i) => ({
          from: `${M.podName(i)}.${M.sts.spec.serviceName}:${M.ports.redis}`,
          to: `localhost:${pods.port(i)}`,
        })),
      'the collector REDIS_CLUSTER_NODES',
    );
    const config = loadCollectorConfig(
      {},
      {
        ...env,
        REDIS_CLUSTER_NODES: seeds,
        // One nats-server here (the NATS cluster is manifests-nats-config.test.ts's): one replica.
        NATS_URL: nats.url,
        DRAINWATCH_STREAM_REPLICAS: '1',
        DRAINWATCH_LISTEN: '127.0.0.1:0',
      },
    );
    collector = createCollector(config);
    await collector.start();
    const scenario = scriptedRollout();
    const half = Math.ceil(scenario.events.length / 2);
    const nc = await natsClient(nats);
    let failoverMs: number;
    try {
      await publishAll(nc, scenario.events.slice(0, half), config.subjectRoot);
      await collector.drain(30_000);
      // The pod of the master holding the rollout's keys lost (SIGKILL), once its replica has every
      // write (replication is asynchronous: a crash may lose the last ones otherwise).
      const slot = Number(await pods.call(0, 'CLUSTER', 'KEYSLOT', KEYS.open(workloadKey(NS, WL))));
      const owner = masters.find((l) => servesSlot(l.split(' ')[3]!, slot))!.split(' ')[0]!;
      const lost = M.nodes.find((i) => String(pods.port(i)) === owner)!;
      const heirPort = replicas.find((l) => l.split(' ')[2] === owner)!.split(' ')[0];
      const heir = M.nodes.find((i) => String(pods.port(i)) === heirPort)!;
      await pollUntil(
        async () => {
          const info = await ask(lost, 'INFO', 'replication');
          const offset = /master_repl_offset:(\d+)/.exec(info)?.[1];
          return offset !== undefined && offset === /slave0:.*offset=(\d+)/.exec(info)?.[1];
        },
        { timeoutMs: 10_000, intervalMs: 50, what: 'the replica to have every write' },
      );
      const killedAt = Date.now();
      pods.process(lost).signal('SIGKILL');
      await pods.process(lost).exited;
      await pollUntil(
        async () =>
          ((await pods.call(heir, 'ROLE')) as string[])[0] === 'master' &&
          (await clusterOk(M.nodes.filter((i) => i !== lost))),
        { timeoutMs: 30_000, intervalMs: 100, what: "the lost master's replica to take over" },
      );
      failoverMs = Date.now() - killedAt;
      await publishAll(nc, scenario.events.slice(half), config.subjectRoot);
    } finally {
      await nc.close();
    }
    await collector.drain(30_000);
    expect(await collector.store.getReport(scenario.rolloutId)).toMatchObject(
      expectedReport(scenario.rolloutId),
    );
    console.log(
      `manifests/redis-cluster: the init Job formed the cluster ${formedMs} ms after the nodes started; ` +
        `a replica took over ${failoverMs} ms after its master's SIGKILL; test body ${Date.now() - t0} ms; shell ${POD_SHELL.join(' ')}`,
    );
  }, 90_000);
});
