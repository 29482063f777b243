import { type JetStreamClient, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Collector, createCollector, loadCollectorConfig } from '../../collector/index.js';
import type { AnyEvent } from '../../contract/index.js';
import { type RunningServer, startRedisServer } from '../../lib/servers.js';
import { pollUntil } from '../../lib/wait.js';
import { expectedReport, publishUntilAcked, scriptedRollout } from '../helpers/collector-scenario.js';
import {
  type Container,
  containerEnv,
  namedPort,
  readManifest,
  substitute,
} from '../helpers/manifest-pods.js';
import {
  NATS_MANIFEST as M,
  type NatsManifestPods,
  natsSeconds,
  natsSetting,
  natsVolumeOf,
  startNatsManifestPods,
} from '../helpers/nats-manifest-pods.js';
import { missingBinaries } from '../helpers/pod-processes.js';

// manifests/nats/ run, not only validated: three nats-server processes on loopback started from
// the ConfigMap's nats.conf with the StatefulSet's args and environment
// (test/helpers/nats-manifest-pods.ts says what is rewritten). The collector, configured from its
// Deployment's env (NATS_URL, DRAINWATCH_STREAM_REPLICAS), creates the R3 stream; events go
// through the SIGKILL of the stream's leader, its pod's restart on the same volume, and a drain of
// the next leader done as the kubelet does it (the preStop hook, then SIGTERM).

const MISSING = missingBinaries(['nats-server', 'redis-server']);
if (MISSING.length > 0)
  console.warn(`manifests-nats-config: skipped, not installed: ${MISSING.join(', ')} (scripts/setup.sh)`);

const { container, sts } = M;
const pod = sts.spec.template.spec;

describe.skipIf(MISSING.length > 0)('manifests/nats on loopback', () => {
  let pods: NatsManifestPods;
  let redis: RunningServer;
  let collector: Collector | undefined;
  const conns: NatsConnection[] = [];

  beforeAll(async () => {
    [pods, redis] = await Promise.all([startNatsManifestPods(), startRedisServer()]);
  });
  afterAll(async () => {
    await collector?.stop();
    await Promise.all(conns.map((c) => c.close()));
    await pods?.stop();
    await redis?.stop();
  });

  /** The container's HTTP probes (readiness, liveness), requested on node i as the kubelet would. */
  const probeStatuses = (i: number) =>
    Promise.all(
      [container.readinessProbe!, container.livenessProbe!].map(
        async (p) => (await pods.monitor(i, p.httpGet!.path)).status,
      ),
    );
  const nodeNamed = (name: string) => {
    const i = M.nodes.find((n) => M.podName(n) === name);
    if (i === undefined) throw new Error(`no node named ${name}`);
    return i;
  };

  it('names its config file, keeps JetStream on the persistent volume and fits lame duck mode in the grace period', () => {
    // No command: the image's entrypoint runs `nats-server "$@"` when the first arg is a flag.
    expect(container.command).toBeUndefined();
    expect(container.args![0]).toMatch(/^-/);
    expect(container.args).toContain(M.confPath);
    for (const p of [container.readinessProbe!, container.livenessProbe!])
      expect(namedPort(container, p.httpGet!.port)).toBe(M.ports.monitor);
    const claims = sts.spec.volumeClaimTemplates.map((v) => v.metadata.name);
    expect(claims).toContain(natsVolumeOf(natsSetting('store_dir')!).volume);
    // The preStop hook signals the pid file nats.conf writes, on a volume (the root is not the server's).
    expect(container.lifecycle!.preStop!.exec!.command.join(' ')).toContain(`ldm=${natsSetting('pid_file')}`);
    expect(natsVolumeOf(natsSetting('pid_file')!).volume).toBeDefined();
    // nats-server's lame-duck default is 2 min: it must end within the pod's grace period.
    expect(natsSeconds(natsSetting('lame_duck_duration') ?? '2m')).toBeLessThan(
      pod.terminationGracePeriodSeconds,
    );
  });

  it('forms a cluster, keeps an R3 stream through a node lost, restarted and drained, and loses no event', async () => {
    const t0 = Date.now();
    // Node 0 alone is ready before it has any peer: the headless Service publishes only ready
    // pods, so the others can route to it only once it is.
    await pods.start(0);
    await pollUntil(async () => (await probeStatuses(0)).every((s) => s === 200), {
      timeoutMs: 10_000,
      intervalMs: 100,
      what: 'node 0 ready on its own',
    });
    await Promise.all(M.nodes.slice(1).map((i) => pods.start(i)));
    type Jsz = { meta_cluster?: { leader?: string; cluster_size?: number } };
    const leader = await pollUntil(
      async () => {
        const metas = await Promise.all(M.nodes.map(async (i) => (await pods.monitor<Jsz>(i, '/jsz')).body));
        const l = metas[0]?.meta_cluster?.leader;
        const agreed = metas.every(
          (m) => m.meta_cluster?.leader === l && m.meta_cluster?.cluster_size === M.nodes.length,
        );
        return l && agreed ? l : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'one JetStream meta leader known to every node' },
    );
    const formedMs = Date.now() - t0;
    expect(M.nodes.map(M.podName)).toContain(leader);
    for (const i of M.nodes) {
      const varz = (await pods.monitor<{ server_name: string; cluster: { name: string } }>(i, '/varz')).body;
      expect(varz.server_name).toBe(M.podName(i));
      expect(varz.cluster.name).toBe(natsSetting('name'));
      const routez = (await pods.monitor<{ num_routes: number }>(i, '/routez')).body;
      expect(routez.num_routes).toBeGreaterThanOrEqual(M.nodes.length - 1);
      expect(await probeStatuses(i)).toEqual([200, 200]);
    }

    // The collector as its Deployment configures it: only the addresses differ (its Redis is one
    // loopback server here).
    const dep = readManifest<{ spec: { template: { spec: { containers: Container[] } } } }>(
      'manifests/collector/deployment.yaml',
    );
    const denv = containerEnv(dep.spec.template.spec.containers[0]!, {
      name: 'collector',
      namespace: M.namespace,
    });
    const natsUrl = substitute(
      denv.NATS_URL!,
      M.nodes.map((j) => ({ from: `${M.dnsName(j)}:${M.ports.client}`, to: pods.url(j) })),
      'the collector NATS_URL',
    );
    const config = loadCollectorConfig(
      {},
      { ...denv, NATS_URL: natsUrl, REDIS_URL: redis.url, DRAINWATCH_LISTEN: '127.0.0.1:0' },
    );
    expect(config.streamReplicas).toBe(M.nodes.length);
    // When each event was first applied, and when its publish was acknowledged.
    const appliedAt = new Map<string, number>();
    const ackedAt = new Map<string, number>();
    collector = createCollector(config, {
      onApplied: (applied, at) => {
        for (const e of applied) appliedAt.set(e.id, at);
      },
    });
    await collector.start();
    const nc = await connect({ servers: natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    conns.push(nc);
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const stream = () => jsm.streams.info(config.stream);
    expect((await stream()).config.num_replicas).toBe(M.nodes.length);

    const scenario = scriptedRollout();
    const events = scenario.events;
    const third = Math.ceil(events.length / 3);
    await publishRetrying(js, events.slice(0, third), config.subjectRoot, ackedAt);

    // The stream's leader lost (SIGKILL), then its pod again on the same volume and name.
    const lost = nodeNamed((await stream()).cluster!.leader!);
    const killedAt = Date.now();
    pods.process(lost).signal('SIGKILL');
    await pods.process(lost).exited;
    const failoverMs =
      (await publishRetrying(js, events.slice(third, 2 * third), config.subjectRoot, ackedAt)) - killedAt;
    const restartedAt = Date.now();
    await pods.start(lost);
    await pollUntil(
      async () => {
        const c = (await stream()).cluster;
        return c?.leader && c.replicas?.length === M.nodes.length - 1 && c.replicas.every((r) => r.current);
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'the restarted node to be a current replica' },
    );
    const rejoinMs = Date.now() - restartedAt;
    expect(await probeStatuses(lost)).toEqual([200, 200]);

    // The next leader drained, the kubelet's way: preStop (lame duck mode), then SIGTERM. An agent
    // connected to that node only must be moved to another, which it knows from the cluster's
    // gossip (a node holding no client exits at once, which would prove nothing).
    const drained = nodeNamed((await stream()).cluster!.leader!);
    const agent = await connect({
      servers: pods.url(drained),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    conns.push(agent);
    const statuses: string[] = [];
    void (async () => {
      for await (const st of agent.status()) statuses.push(st.type);
    })();
    const drainAt = Date.now();
    await pods.preStop(drained);
    pods.process(drained).signal('SIGTERM');
    await publishRetrying(jetstream(agent), events.slice(2 * third), config.subjectRoot, ackedAt);
    await pods.process(drained).exited;
    const drainMs = Date.now() - drainAt;
    // Status events are dispatched apart from the acknowledgements: wait for them.
    await pollUntil(() => statuses.includes('ldm') && statuses.includes('reconnect'), {
      timeoutMs: 5000,
      what: `the agent to be told of lame duck mode and to reconnect (saw ${statuses.join(', ')})`,
    });
    expect(agent.getServer()).not.toBe(pods.url(drained));
    expect(pods.process(drained).output()).toContain('Entering lame duck mode');
    expect(drainMs).toBeLessThan(pod.terminationGracePeriodSeconds * 1000);

    // Everything back, by sequence from the stream's leader (no consumer to create while the
    // drained node's Raft groups settle): each event once, in order.
    const ids = await pollUntil(
      async () => {
        if ((await stream()).state.messages !== events.length) return undefined;
        const out: string[] = [];
        for (let seq = 1; seq <= events.length; seq++) {
          const m = await jsm.streams.getMessage(config.stream, { seq });
          if (!m) return undefined;
          out.push((m.json() as AnyEvent).id);
        }
        return out;
      },
      { timeoutMs: 20_000, intervalMs: 200, what: 'every event read back' },
    );
    expect(ids).toEqual(events.map((e) => e.id));
    const catchUpAt = Date.now();
    await collector.drain(45_000);
    const catchUpMs = Date.now() - catchUpAt;
    expect(await collector.store.getReport(scenario.rolloutId)).toMatchObject(
      expectedReport(scenario.rolloutId),
    );
    // The collector's pull request may have gone with the consumer's old leader (killed, or moved
    // by the drain); nats.js's consume() pulls again only once it has missed two of the request's
    // heartbeats (half its expiry, --pull-expiry). With nats.js's defaults (expiry 30 s) that came
    // 30-45 s after the request's last sign of life: events published after the SIGKILL were
    // applied up to ~40 s after their acknowledgement. 20 s is a generous bound, not a speed
    // measure: it holds only if the lost request is noticed before 30 s could have passed.
    expect([...appliedAt.keys()].sort()).toEqual(events.map((e) => e.id).sort());
    const lateMs = Math.max(
      ...events.slice(third).map((e) => (appliedAt.get(e.id) ?? 0) - (ackedAt.get(e.id) ?? 0)),
    );
    console.log(
      `manifests/nats: formed in ${formedMs} ms; first publish acknowledged ${failoverMs} ms after the leader's SIGKILL; ` +
        `restarted node current after ${rejoinMs} ms; lame-duck drain exited ${drainMs} ms after preStop; ` +
        `the collector caught up ${catchUpMs} ms after the last publish was read back, applied each event published after the SIGKILL at most ${lateMs} ms after its acknowledgement; test body ${Date.now() - t0} ms`,
    );
    expect(lateMs).toBeLessThan(20_000);
  }, 90_000);
});

/** publishUntilAcked, returning when the first event was acknowledged (ms since the epoch). */
async function publishRetrying(
  js: JetStreamClient,
  events: readonly AnyEvent[],
  root: string,
  ackedAt: Map<string, number>,
): Promise<number> {
  await publishUntilAcked(js, events, root, { ackedAt });
  return ackedAt.get(events[0]!.id)!;
}
