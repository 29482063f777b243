import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReportStore } from '../../collector/index.js';
import { type RunningServer, startNatsServer, startRedisServer } from '../../lib/servers.js';
import { pollUntil } from '../../lib/wait.js';
import { CLI_BIN } from '../helpers/collector-process.js';
import { collectorRuns } from '../helpers/collector-run.js';
import { expectedReport, NS, publishAll, scriptedRollout, WL } from '../helpers/collector-scenario.js';
import { startRedisSentinels, type TestSentinelSet } from '../helpers/sentinel.js';
import { natsClient } from '../helpers/servers.js';

// The collector on a Sentinel-backed Redis (a master, its replica, three sentinels, passwords on
// both, min-replicas-to-write 1 as docs/scaling.md advises) must store and report exactly what it
// does on a single Redis. A SENTINEL FAILOVER between two halves of the stream moves the collector
// to the promoted replica (it follows +switch-master) and loses nothing; `drainwatch report
// --redis-sentinel` reads the result.

const run = promisify(execFile);
const PASSWORD = 'data-secret';
const SENTINEL_PASSWORD = 'sentinel-secret';
const GROUP = 'drainwatch-test';

describe('collector on a Sentinel-backed Redis', () => {
  let nats: RunningServer;
  let single: RunningServer;
  let set: TestSentinelSet;
  let nc: NatsConnection;
  const runs = collectorRuns(() => nats.url, 'sentinel-test');

  beforeAll(async () => {
    [nats, single, set] = await Promise.all([
      startNatsServer(),
      startRedisServer(),
      startRedisSentinels({
        name: GROUP,
        password: PASSWORD,
        sentinelPassword: SENTINEL_PASSWORD,
        minReplicasToWrite: 1,
      }),
    ]);
    nc = await natsClient(nats);
  }, 120_000);
  afterAll(async () => {
    await runs.stopAll();
    await nc?.close();
    await Promise.all([nats?.stop(), single?.stop(), set?.stop()]);
  });

  const sentinelEnv = () => ({
    REDIS_SENTINEL_NODES: set.sentinelList,
    REDIS_SENTINEL_NAME: GROUP,
    REDIS_PASSWORD: PASSWORD,
    REDIS_SENTINEL_PASSWORD: SENTINEL_PASSWORD,
  });

  it('gives the report a single Redis gives, through a SENTINEL FAILOVER mid-stream', async () => {
    const scenario = scriptedRollout();
    const events = scenario.events;

    const reference = await runs.start({ REDIS_URL: single.url });
    await publishAll(nc, events, reference.root);
    await reference.collector.drain(60_000);

    const guarded = await runs.start(sentinelEnv());
    const from = await set.masterPort();
    expect(from).toBe(set.servers[0]!.port);
    const half = Math.floor(events.length / 2);
    await publishAll(nc, events.slice(0, half), guarded.root);
    await guarded.collector.drain(60_000);
    expect(await set.clientsOn(from)).toBeGreaterThanOrEqual(2); // the collector and the reader

    const moved = await set.failover();
    expect(moved).toEqual({ from, to: set.servers[1]!.port });
    // Both clients leave the old master on +switch-master, while it still thinks it is one: the
    // sentinels demote it only 8 s or more later (sentinel.c, convert-to-slave).
    await pollUntil(async () => (await set.clientsOn(from)) === 0, {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: 'the clients to leave the old master',
    });
    expect(await set.role(from)).toBe('master');
    // Published at once: the new master refuses writes until the old one is its replica
    // (min-replicas-to-write 1), so the collector retries them until then.
    await publishAll(nc, events.slice(half), guarded.root);
    await guarded.collector.drain(60_000);
    await set.settled();
    expect(await set.clientsOn(moved.to)).toBeGreaterThanOrEqual(2);

    const [a, b] = [createReportStore(reference.redis), createReportStore(guarded.redis)];
    const report = await b.getReport(scenario.rolloutId);
    expect(report).toEqual(await a.getReport(scenario.rolloutId));
    expect(report).toMatchObject(expectedReport(scenario.rolloutId));
    expect(await b.listRollouts({ limit: 100 })).toEqual(await a.listRollouts({ limit: 100 }));
    expect(await b.workloadStatus()).toEqual(await a.workloadStatus());
    expect(await b.timeline(NS, 'quote-a')).toEqual(await a.timeline(NS, 'quote-a'));
    expect(report?.workload).toBe(WL);

    // The CLI reads it through the sentinels too, flags and env as documented.
    if (!existsSync(CLI_BIN)) throw new Error(`${CLI_BIN} is missing: npm run build first`);
    const { stdout } = await run(
      process.execPath,
      [
        ...[CLI_BIN, 'report', scenario.rolloutId, '--json', '--redis-prefix', guarded.prefix],
        ...['--redis-sentinel', set.sentinelList, '--redis-sentinel-name', GROUP],
      ],
      {
        env: { ...process.env, REDIS_PASSWORD: PASSWORD, REDIS_SENTINEL_PASSWORD: SENTINEL_PASSWORD },
        timeout: 30_000,
      },
    );
    expect(JSON.parse(stdout)).toEqual(JSON.parse(JSON.stringify(report)));
  }, 240_000);

  it('refuses two ways to name Redis with one line, exit 2, before connecting', async () => {
    const err = await run(
      process.execPath,
      [CLI_BIN, 'report', '--redis-url', single.url, '--redis-sentinel', set.sentinelList],
      { timeout: 30_000 },
    ).catch((e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 2 });
    const lines = (err as { stderr: string }).stderr.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(
        /^.*REDIS_SENTINEL_NODES \(--redis-sentinel\): names Redis Sentinels, and REDIS_URL \(--redis-url\) a single Redis: set one of them$/,
      ),
    ]);
  });
});
