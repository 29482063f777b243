import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReportStore } from '../../collector/index.js';
import { KEYS } from '../../collector/keys.js';
import { pollUntil } from '../../lib/wait.js';
import { type CollectorEnv, startCollectorEnv } from '../helpers/collector-harness.js';
import { appliedCount, spawnCollector, waitCaughtUp } from '../helpers/collector-process.js';
import { expectedReport, publishAll, scriptedRollout } from '../helpers/collector-scenario.js';
import { captureLog, type LogRecord } from '../helpers/log-lines.js';
import { redisClient, testNamespace } from '../helpers/servers.js';

// Issue #16, "nothing lost": redis-server (no persistence) killed and started again empty while the
// collector process runs. The stream still holds every event and the durable consumer has
// acknowledged them all; the collector notices the applied-seq marker is gone, re-reads the stream
// from its first message and ends with the report it had before the restart, field by field.
describe('faults: Redis restarted empty under a running collector', () => {
  let env: CollectorEnv;

  beforeAll(async () => {
    env = await startCollectorEnv();
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('rebuilds every rollout from the stream: the report equals the one before the restart', async () => {
    const scenario = scriptedRollout(undefined, 500);
    const childEnv = env.childEnv({ DRAINWATCH_LOG_LEVEL: 'info' });
    const proc = await spawnCollector(childEnv);
    const log = captureLog(proc.child.stderr);
    try {
      await publishAll(env.nc, scenario.events, env.ns.subjectRoot);
      await waitCaughtUp(env.nc, env.ns.streamName, childEnv.DRAINWATCH_CONSUMER!);
      const before = await pollUntil(() => createReportStore(env.redis).getReport(scenario.rolloutId), {
        timeoutMs: 10_000,
        what: 'the report before the restart',
      });
      expect(before).toMatchObject(expectedReport(scenario.rolloutId));

      await env.servers.redis.pause();
      await env.servers.redis.resume();
      const check = await redisClient(env.servers.redis, env.ns.redisPrefix);
      try {
        // Nothing survived the restart but what the collector writes again.
        const rebuilt = (await pollUntil(() => log.find('rebuilt Redis state from the stream'), {
          timeoutMs: 60_000,
          what: 'the collector to rebuild from the stream',
        })) as LogRecord & { messages: number; fromSeq: number; toSeq: number };
        const { state } = await (await jetstreamManager(env.nc)).streams.info(env.ns.streamName);
        // Every message the stream holds was re-read: emitted = stored = re-applied.
        expect(state.messages).toBe(scenario.events.length);
        expect(rebuilt).toMatchObject({ messages: state.messages, fromSeq: 1, toSeq: state.last_seq });
        expect(log.find('Redis lost its data')?.level).toBe('warn');
        const after = await createReportStore(check).getReport(scenario.rolloutId);
        expect(after).toEqual(before);
        expect(await check.get(KEYS.appliedSeq)).toBe(String(state.last_seq));
      } finally {
        check.disconnect();
      }
    } finally {
      await proc.kill('SIGTERM');
    }
  }, 120_000);

  it('Redis hangs (SIGSTOP) mid-ingest: events wait in the stream, then each is applied exactly once', async () => {
    const scenario = scriptedRollout(undefined, 500);
    // A stream and prefix of its own: the first test's rollout has the same times and workload.
    const ns = testNamespace();
    const childEnv = env.childEnv({
      DRAINWATCH_REDIS_PREFIX: ns.redisPrefix,
      DRAINWATCH_SUBJECT_ROOT: ns.subjectRoot,
      DRAINWATCH_STREAM: ns.streamName,
    });
    const proc = await spawnCollector(childEnv);
    const half = Math.floor(scenario.events.length / 2);
    try {
      await publishAll(env.nc, scenario.events.slice(0, half), ns.subjectRoot);
      await pollUntil(async () => (await appliedCount(proc.url)) > 0, {
        timeoutMs: 30_000,
        what: 'some applied',
      });
      process.kill(env.servers.redis.pid, 'SIGSTOP');
      try {
        // Published while Redis hangs: JetStream keeps them; redeliveries (ack wait 3 s) are not applied twice.
        await publishAll(env.nc, scenario.events.slice(half), ns.subjectRoot);
      } finally {
        process.kill(env.servers.redis.pid, 'SIGCONT');
      }
      await waitCaughtUp(env.nc, ns.streamName, childEnv.DRAINWATCH_CONSUMER!);
      // Emitted = stored = applied once each.
      const { state } = await (await jetstreamManager(env.nc)).streams.info(ns.streamName);
      expect(state.messages).toBe(scenario.events.length);
      await pollUntil(async () => (await appliedCount(proc.url)) === state.messages, {
        timeoutMs: 30_000,
        what: 'every event applied once',
      });
      const check = await redisClient(env.servers.redis, childEnv.DRAINWATCH_REDIS_PREFIX!);
      try {
        expect(await createReportStore(check).getReport(scenario.rolloutId)).toMatchObject(
          expectedReport(scenario.rolloutId),
        );
      } finally {
        check.disconnect();
      }
    } finally {
      await proc.kill('SIGTERM');
    }
  }, 120_000);
});
