import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentConnectionOptions } from '../../agent/nats-connection.js';
import {
  type Collector,
  createCollector,
  createReportStore,
  loadCollectorConfig,
  type ReportStore,
} from '../../collector/index.js';
import { KEYS, workloadKey } from '../../collector/keys.js';
import type { AnyEvent } from '../../contract/index.js';
import { connectRedisClient, type RedisClient } from '../../lib/redis.js';
import { pollUntil } from '../../lib/wait.js';
import { publishUntilAcked } from '../helpers/collector-scenario.js';
import { differences } from '../helpers/differences.js';
import { haRollout } from '../helpers/ha-rollout.js';
import { startNatsCluster, type TestNatsCluster } from '../helpers/nats-cluster.js';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster.js';
import { testNamespace } from '../helpers/servers.js';

// The whole HA path on loopback: a 3-node NATS cluster with an R3 stream, a 3-master Redis
// Cluster with a replica each, two collector replicas sharing one durable consumer, and 50
// simulated pods publishing a scripted rollout of 5 workloads. One run has no faults; the other
// loses a NATS node and fails a Redis master over mid-rollout. Every event must be applied exactly
// once across both replicas, and every report must equal the fault-free run's.

const WORKLOADS = ['api', 'cart', 'search', 'web', 'checkout'];
const PODS_PER_WORKLOAD = 10;
const T0 = Date.parse('2026-11-21T10:00:00.000Z');

interface Script {
  /** Each workload's rollout.started, published before any pod's event (as a controller does). */
  readonly started: AnyEvent[];
  /** Per pod, its events in seq order, fixed times. */
  readonly pods: readonly (readonly AnyEvent[])[];
  /** Each workload's rollout.finished, published once its pods are done. */
  readonly finished: AnyEvent[];
}

function scripted(): Script {
  const rollouts = WORKLOADS.map((workload, w) =>
    haRollout({ workload, rolloutId: `ro-${workload}`, t0Ms: T0 + w * 1000, pods: PODS_PER_WORKLOAD }),
  );
  return {
    started: rollouts.map((r) => r.started),
    pods: rollouts.flatMap((r) => r.pods),
    finished: rollouts.map((r) => r.finished),
  };
}

/** The script published as a rollout unfolds: starts, then every pod at once, then finishes. */
async function publishScript(servers: string, root: string, script: Script, midway?: () => Promise<void>) {
  await Promise.all(script.started.map((e) => simulatedAgent(servers, root, [e])));
  const pods = Promise.all(script.pods.map((events) => simulatedAgent(servers, root, events)));
  await midway?.();
  await pods;
  await Promise.all(script.finished.map((e) => simulatedAgent(servers, root, [e])));
}

/**
 * A simulated agent: its own connection with the agent's options (every server of the cluster),
 * publishing its events one at a time, each acknowledged before the next, retrying until
 * acknowledged as the agent's publisher does (the message id makes a retry stored once).
 */
async function simulatedAgent(servers: string, root: string, events: readonly AnyEvent[]): Promise<void> {
  const nc = await connect(agentConnectionOptions(servers, `sim-agent ${events[0]!.instance}`));
  try {
    await publishUntilAcked(jetstream(nc), events, root, { timeoutMs: 60_000 });
  } finally {
    await nc.close();
  }
}

interface Run {
  readonly collectors: Collector[];
  readonly redis: RedisClient;
  readonly store: ReportStore;
  readonly root: string;
  readonly stream: string;
  /** Event ids applied for the first time, by either replica, with repeats. */
  readonly applied: string[];
}

describe('HA: NATS cluster + Redis Cluster + two collectors', () => {
  let nats: TestNatsCluster;
  let redis: TestRedisCluster;
  const runs: Run[] = [];

  beforeAll(async () => {
    [nats, redis] = await Promise.all([startNatsCluster(3), startRedisCluster()]);
  }, 120_000);
  afterAll(async () => {
    for (const r of runs) {
      await Promise.all(r.collectors.map((c) => c.stop()));
      r.redis.disconnect();
    }
    await Promise.all([nats?.stop(), redis?.stop()]);
  });

  async function startRun(): Promise<Run> {
    const ns = testNamespace();
    const env = {
      DRAINWATCH_LISTEN: '127.0.0.1:0',
      NATS_URL: nats.urls,
      REDIS_CLUSTER_NODES: redis.seedList,
      DRAINWATCH_REDIS_PREFIX: ns.redisPrefix,
      DRAINWATCH_SUBJECT_ROOT: ns.subjectRoot,
      DRAINWATCH_STREAM: ns.streamName,
      DRAINWATCH_STREAM_REPLICAS: '3',
      DRAINWATCH_CONSUMER: 'ha-test',
      DRAINWATCH_ACK_WAIT: '3s',
      DRAINWATCH_ROLLOUT_QUIET: '1000d',
    };
    const applied: string[] = [];
    const collectors = [0, 1].map(() =>
      createCollector(loadCollectorConfig({}, env), {
        onApplied: (events) => applied.push(...events.map((e) => e.id)),
      }),
    );
    // One at a time: the first creates the R3 stream and the durable consumer, the second finds them.
    for (const c of collectors) await c.start();
    const client = await connectRedisClient({ cluster: redis.seeds }, { prefix: ns.redisPrefix });
    const run = {
      collectors,
      redis: client,
      store: createReportStore(client),
      root: ns.subjectRoot,
      stream: ns.streamName,
      applied,
    };
    runs.push(run);
    return run;
  }

  async function drained(run: Run, total: number): Promise<void> {
    await pollUntil(() => new Set(run.applied).size >= total, {
      timeoutMs: 90_000,
      intervalMs: 100,
      what: `${total} events applied`,
    });
    await Promise.all(run.collectors.map((c) => c.drain(60_000)));
  }

  it('applies every event once and reports as a fault-free run, through a NATS node loss and a Redis failover', async () => {
    const script = scripted();
    const total = script.pods.reduce((n, p) => n + p.length, 0) + 2 * WORKLOADS.length;

    const calm = await startRun();
    await publishScript(nats.urls, calm.root, script);
    await drained(calm, total);

    const faulty = await startRun();
    let moved: { from: number; to: number } | undefined;
    await publishScript(nats.urls, faulty.root, script, async () => {
      // Mid-rollout: some events applied, not all.
      await pollUntil(() => faulty.applied.length > total / 4, {
        timeoutMs: 60_000,
        what: 'a quarter applied',
      });
      const probe = new Redis({ port: redis.nodes[0]!.port, host: '127.0.0.1' });
      const slot = Number(await probe.call('CLUSTER', 'KEYSLOT', KEYS.open(workloadKey('shop', 'web'))));
      probe.disconnect();
      [, moved] = await Promise.all([nats.nodes[0]!.pause(), redis.failover(slot)]);
    });
    expect(moved?.from).not.toBe(moved?.to);
    // The collector created the stream with 3 replicas: it survived the node's loss.
    const nc = await connect({ servers: nats.urls.split(',') });
    const info = await (await jetstreamManager(nc)).streams.info(faulty.stream);
    await nc.close();
    expect(info.config.num_replicas).toBe(3);
    await drained(faulty, total);
    // The failover hit the fault-free run's data too (one cluster; its keys share the slots): a
    // forced one may drop its last writes, which its own collectors, still running, replay.
    await Promise.all(calm.collectors.map((c) => c.drain(60_000)));
    // The lost node comes back before the next test, as an operator would restart it.
    await nats.nodes[0]!.resume();

    expect(faulty.applied).toHaveLength(total);
    expect(new Set(faulty.applied).size).toBe(total);
    expect(calm.applied).toHaveLength(total);
    for (const wl of WORKLOADS) {
      const report = await faulty.store.getReport(`ro-${wl}`);
      const expected = await calm.store.getReport(`ro-${wl}`);
      // Where they differ first, in a few lines: the whole diff is hundreds.
      expect(differences(report, expected), `${wl}: fault run ≠ fault-free run`).toEqual([]);
      expect(report, wl).toEqual(expected);
      expect(report?.terminations, wl).toHaveLength(PODS_PER_WORKLOAD);
    }
    expect(await faulty.store.listRollouts({ limit: 100 })).toEqual(
      await calm.store.listRollouts({ limit: 100 }),
    );

    // The workload gauges come from one replica, the lease holder: never twice, never none.
    const exporting = async (c: Collector) => {
      const m = await c.registry.getSingleMetric('drainwatch_rollout_in_progress')?.get();
      return new Set((m?.values ?? []).map((v) => `${v.labels.namespace}/${v.labels.workload}`));
    };
    await pollUntil(
      async () => {
        const [a, b] = await Promise.all(faulty.collectors.map(exporting));
        return a!.size + b!.size === WORKLOADS.length && (a!.size === 0 || b!.size === 0);
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'one replica exporting every workload gauge' },
    );
  }, 240_000);
});
