import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Collector, createCollector, loadCollectorConfig } from '../../collector/index.js';
import { type RunningServer, startRedisServer } from '../../lib/servers.js';
import { pollUntil } from '../../lib/wait.js';
import { expectedReport, publishUntilAcked, scriptedRollout } from '../helpers/collector-scenario.js';
import { startNatsCluster, type TestNatsCluster } from '../helpers/nats-cluster.js';
import { missingBinaries } from '../helpers/pod-processes.js';
import { testNamespace } from '../helpers/servers.js';

// The collector's pull request waits on its consumer's leader alone (JetStream does not replicate
// it). Here that leader's node is SIGKILLed while the collector is connected to another node, so
// the collector sees no disconnect: only the request's missing heartbeats tell it to pull again
// (collector/pull.ts). With nats.js's defaults (expiry 30 s, heartbeats 15 s) that took 30-45 s.

const MISSING = missingBinaries(['nats-server', 'redis-server']);
if (MISSING.length > 0)
  console.warn(`collector-consumer-leader: skipped, not installed: ${MISSING.join(', ')} (scripts/setup.sh)`);

describe.skipIf(MISSING.length > 0)("collector: its consumer's leader lost", () => {
  let nats: TestNatsCluster;
  let redis: RunningServer;
  let collector: Collector | undefined;
  let nc: NatsConnection | undefined;

  beforeAll(async () => {
    [nats, redis] = await Promise.all([startNatsCluster(3), startRedisServer()]);
  }, 90_000);
  afterAll(async () => {
    await collector?.stop();
    await nc?.close();
    await Promise.all([nats?.stop(), redis?.stop()]);
  });

  it('pulls from the new leader and applies the next events once, well before a 30 s pull expiry', async () => {
    const ns = testNamespace();
    const config = loadCollectorConfig(
      {},
      {
        DRAINWATCH_LISTEN: '127.0.0.1:0',
        NATS_URL: nats.urls,
        REDIS_URL: redis.url,
        DRAINWATCH_REDIS_PREFIX: ns.redisPrefix,
        DRAINWATCH_SUBJECT_ROOT: ns.subjectRoot,
        DRAINWATCH_STREAM: ns.streamName,
        DRAINWATCH_STREAM_REPLICAS: '3',
      },
    );
    const applied: string[] = [];
    const appliedAt = new Map<string, number>();
    collector = createCollector(config, {
      onApplied: (events, at) => {
        for (const e of events) {
          applied.push(e.id);
          appliedAt.set(e.id, at);
        }
      },
    });
    await collector.start();
    nc = await connect({ servers: nats.urls.split(','), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const conn = nc;
    const [collectorNode, ...others] = await nats.connectedTo('drainwatch-collector');
    expect(others).toEqual([]);

    // The consumer's leader on another node than the collector's (stepped down until it is), with
    // the collector's pull request waiting on it.
    const nodeOf = (name: string) => Number(name.replace(/^n/, '')) - 1; // servers are n1..n3
    const leader = await pollUntil(
      async () => {
        const info = await jsm.consumers.info(config.stream, config.consumer);
        const l = info.cluster?.leader;
        if (l && nodeOf(l) !== collectorNode) return info.num_waiting > 0 ? nodeOf(l) + 1 : undefined;
        await conn.request(
          `$JS.API.CONSUMER.LEADER.STEPDOWN.${config.stream}.${config.consumer}`,
          undefined,
          {
            timeout: 5000,
          },
        );
        return undefined;
      },
      {
        timeoutMs: 90_000,
        intervalMs: 500,
        what: "the consumer's leader away from the collector, a pull waiting",
      },
    );
    const lost = leader - 1;

    const scenario = scriptedRollout();
    const half = Math.ceil(scenario.events.length / 2);
    const ackedAt = new Map<string, number>();
    await publishUntilAcked(js, scenario.events.slice(0, half), config.subjectRoot, { ackedAt });
    await pollUntil(() => applied.length >= half, { timeoutMs: 30_000, what: 'the first half applied' });

    process.kill(nats.nodes[lost]!.pid, 'SIGKILL');
    await nats.nodes[lost]!.pause(); // reaps the killed process
    const after = scenario.events.slice(half);
    await publishUntilAcked(js, after, config.subjectRoot, { ackedAt });
    await pollUntil(() => after.every((e) => appliedAt.has(e.id)), {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: 'the events published after the loss applied',
    });
    // A generous functional bound, not a speed measure: with the lost request noticed only by
    // nats.js's defaults, it could not hold (the first check comes 30 s after the last heartbeat).
    const lateMs = Math.max(...after.map((e) => appliedAt.get(e.id)! - ackedAt.get(e.id)!));
    console.log(
      `collector-consumer-leader: node n${leader} (the consumer's leader) SIGKILLed; each later event applied at most ${lateMs} ms after its acknowledgement`,
    );
    expect(lateMs).toBeLessThan(20_000);

    await collector.drain(30_000);
    expect(applied.slice().sort()).toEqual(scenario.events.map((e) => e.id).sort());
    expect(await collector.store.getReport(scenario.rolloutId)).toMatchObject(
      expectedReport(scenario.rolloutId),
    );
    await nats.nodes[lost]!.resume();
  }, 240_000);
});
