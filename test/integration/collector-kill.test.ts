import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReportStore } from '../../collector/index.js';
import { pollUntil } from '../../lib/wait.js';
import { type CollectorEnv, startCollectorEnv } from '../helpers/collector-harness.js';
import { appliedCount, spawnCollector, waitCaughtUp } from '../helpers/collector-process.js';
import { expectedReport, publishAll, scriptedRollout } from '../helpers/collector-scenario.js';
import { redisClient, testNamespace } from '../helpers/servers.js';

// The compiled CLI, SIGKILLed mid-stream and started again, must end with the report an
// uninterrupted run gives, field by field.
describe('collector process killed with SIGKILL mid-rollout', () => {
  let env: CollectorEnv;

  beforeAll(async () => {
    env = await startCollectorEnv();
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('ends with the same report as an uninterrupted run', async () => {
    // Filler events make the stream long enough for the kill to land inside it.
    const scenario = scriptedRollout(undefined, 3000);
    const events = scenario.events;

    // Uninterrupted run: its own stream, consumer and prefix on the same servers.
    const a = testNamespace();
    const aEnv = env.childEnv({
      DRAINWATCH_REDIS_PREFIX: a.redisPrefix,
      DRAINWATCH_SUBJECT_ROOT: a.subjectRoot,
      DRAINWATCH_STREAM: a.streamName,
    });
    const first = await spawnCollector(aEnv);
    try {
      await publishAll(env.nc, events, a.subjectRoot);
      await waitCaughtUp(env.nc, a.streamName, aEnv.DRAINWATCH_CONSUMER!);
    } finally {
      await first.kill('SIGTERM');
    }

    // Interrupted run.
    const bEnv = env.childEnv();
    let proc = await spawnCollector(bEnv);
    const half = Math.floor(events.length / 2);
    await publishAll(env.nc, events.slice(0, half), env.ns.subjectRoot);
    const url = proc.url;
    await pollUntil(async () => (await appliedCount(url)) > 0, {
      timeoutMs: 30_000,
      what: 'some events applied',
    });
    // Publish the rest while it works, and kill it part-way through.
    let published = false;
    const rest = publishAll(env.nc, events.slice(half), env.ns.subjectRoot).then(() => {
      published = true;
    });
    await pollUntil(async () => (await appliedCount(url)) > half + 100, {
      timeoutMs: 30_000,
      what: 'more events applied',
    });
    const killedMidStream = !published;
    await proc.kill('SIGKILL');
    expect(proc.child.signalCode).toBe('SIGKILL');
    // The kill landed while events were still being published, so before the stream's end.
    expect(killedMidStream).toBe(true);
    await rest;
    proc = await spawnCollector(bEnv);
    try {
      await waitCaughtUp(env.nc, env.ns.streamName, bEnv.DRAINWATCH_CONSUMER!);
    } finally {
      await proc.kill('SIGTERM');
    }
    // Emitted = stored: the kill cost the stream nothing.
    const { state } = await (await jetstreamManager(env.nc)).streams.info(env.ns.streamName);
    expect(state.messages).toBe(events.length);

    const aRedis = await redisClient(env.servers.redis, a.redisPrefix);
    try {
      const uninterrupted = await createReportStore(aRedis).getReport(scenario.rolloutId);
      const interrupted = await createReportStore(env.redis).getReport(scenario.rolloutId);
      expect(uninterrupted).toMatchObject(expectedReport(scenario.rolloutId));
      expect(interrupted).toEqual(uninterrupted);
    } finally {
      aRedis.disconnect();
    }
  });
});
