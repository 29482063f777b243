import { spawnSync } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApplier } from '../../collector/apply.js';
import { eventEntry } from '../../collector/event-ops.js';
import { createHttpApp } from '../../collector/http.js';
import { createReportStore, type ReportStore, type RolloutReport } from '../../collector/index.js';
import { decodeKeyPart, encodeKeyPart, KEYS, workloadKey } from '../../collector/keys.js';
import type { AnyEvent } from '../../contract/index.js';
import { createEventSequencer } from '../../contract/validate.js';
import { createRng, type Rng } from '../../lib/random.js';
import type { RunningServer } from '../../lib/servers.js';
import { startRedisServer } from '../../lib/servers.js';
import { CLI_BIN } from '../helpers/collector-process.js';
import { SAMPLE_DATA } from '../helpers/sample-events.js';
import { redisClient, testNamespace } from '../helpers/servers.js';

// Names from users reach Redis keys, the apply script, the API and `drainwatch report`. Whatever
// printable characters they hold, a rollout stored must be found again by all of them. Random but
// seeded (DRAINWATCH_TEST_SEED to replay a failure): each failure message names its seed and case.

const SEED = Number(process.env.DRAINWATCH_TEST_SEED ?? 20261130);
const CASES = 40;

// Printable ASCII, the characters that broke keys before, and non-ASCII up to astral planes.
const TRICKY = ['/', '|', ' ', '%', ':', '%2F', '%25', '.', '*', '"', '\\', '+', '?', '#', '&', '='];
const UNICODE = ['é', 'ß', '中', 'Ж', '😀', '\u0301', '\u00a0', '\u2028', 'ﬁ', '🏳️‍🌈'];

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[Math.floor(rng() * xs.length)]!;
}

function randomName(rng: Rng, maxLength = 24): string {
  const length = 1 + Math.floor(rng() * maxLength);
  let s = '';
  while (s.length < length) {
    const r = rng();
    if (r < 0.5) s += String.fromCharCode(0x20 + Math.floor(rng() * 95));
    else if (r < 0.8) s += pick(rng, TRICKY);
    else s += pick(rng, UNICODE);
  }
  // `.` and `..` are dot segments to every URL parser, so no path can name them: not storage's concern.
  return /^\.{1,2}$/.test(s) ? `${s}x` : s;
}

/** A rollout with two pods: the second pod's preStop comes after the first one's exit. */
function rolloutEvents(ids: Names, t0: number): AnyEvent[] {
  const seq = (pod: string | null) =>
    createEventSequencer({ namespace: ids.namespace, workload: ids.workload, pod });
  const adapter = seq(null);
  const [a, b] = [seq(ids.pods[0]), seq(ids.pods[1])];
  const at = (ms: number) => new Date(t0 + ms);
  return [
    adapter.next('rollout.started', { rolloutId: ids.rolloutId, trigger: 'cli' }, at(0)),
    a.next('prestop.started', SAMPLE_DATA['prestop.started'], at(100)),
    a.next('app.exited', SAMPLE_DATA['app.exited'], at(200)),
    b.next('prestop.started', SAMPLE_DATA['prestop.started'], at(300)),
    b.next('app.exited', SAMPLE_DATA['app.exited'], at(400)),
    adapter.next(
      'rollout.finished',
      { rolloutId: ids.rolloutId, outcome: 'complete', podsReplaced: 2 },
      at(500),
    ),
  ];
}

interface Names {
  readonly namespace: string;
  readonly workload: string;
  readonly pods: readonly [string, string];
  readonly rolloutId: string;
}

function randomNames(rng: Rng): Names {
  const pod = randomName(rng);
  let other = randomName(rng);
  while (other === pod) other = randomName(rng);
  return {
    namespace: randomName(rng),
    workload: randomName(rng),
    pods: [pod, other],
    rolloutId: randomName(rng, 40),
  };
}

describe('collector keys: any printable name round-trips through apply, the API and report', () => {
  let server: RunningServer;
  let redis: Redis;
  let store: ReportStore;
  let http: Server;
  let base: string;
  const prefix = testNamespace().redisPrefix;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = await redisClient(server, prefix);
    store = createReportStore(redis);
    const app = createHttpApp({
      store,
      registry: new Registry(),
      ready: () => ({ ready: true, redis: true, nats: true }),
      apiToken: undefined,
      gate: 0.99,
    });
    http = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(http.address() as AddressInfo).port}/api`;
  });
  afterAll(async () => {
    await new Promise((resolve) => http?.close(resolve));
    redis?.disconnect();
    await server?.stop();
  });

  it('encodeKeyPart leaves no brace, so every key of a workload has the workload as its hash tag', () => {
    const rng = createRng(SEED);
    // Lone surrogates too: encoded as the U+FFFD that Redis receives for them.
    const samples = [
      '',
      "plain-Name_1.~*()!'",
      '{x}',
      '\ud800',
      'a\udc00b',
      ...Array.from({ length: 300 }, () => randomName(rng, 60)),
    ];
    // The hash tag Redis Cluster hashes: what lies between the first `{` and the next `}`.
    const tag = (key: string) => /\{([^}]*)\}/.exec(key)?.[1];
    for (const s of samples) {
      const where = `seed ${SEED}: ${JSON.stringify(s)}`;
      expect(encodeKeyPart(s), where).not.toMatch(/[{}]/);
      if (Buffer.from(s).toString() === s) expect(decodeKeyPart(encodeKeyPart(s)), where).toBe(s);
      const wk = workloadKey(s, `${s}-web`);
      for (const key of [
        KEYS.open(wk),
        KEYS.rollouts(wk),
        KEYS.timeline(wk, s),
        KEYS.seen(wk, s),
        KEYS.logins(wk, s),
      ]) {
        expect(tag(`${prefix}${key}`), where).toBe(wk);
      }
    }
    expect(encodeKeyPart('a/b|c d%:é')).toBe(encodeURIComponent('a/b|c d%:é'));
  });

  const expectFound = (report: RolloutReport | undefined, names: Names, where: string) => {
    expect(report, where).toBeDefined();
    expect(report, where).toMatchObject({
      rolloutId: names.rolloutId,
      namespace: names.namespace,
      workload: names.workload,
      trigger: 'cli',
      outcome: 'complete',
      podsReplaced: 2,
    });
    expect(
      report!.terminations.map((t) => t.pod),
      where,
    ).toEqual(names.pods);
  };

  it('stores random rollouts that the store and the HTTP API both find again', async () => {
    const rng = createRng(SEED + 1);
    const applier = createApplier(redis, { retentionSeconds: 3600 });
    const t0 = Date.parse('2026-11-30T12:00:00Z');
    for (let i = 0; i < CASES; i++) {
      const names = randomNames(rng);
      const where = `seed ${SEED}, case ${i}: ${JSON.stringify(names)}`;
      const events = rolloutEvents(names, t0 + i * 10_000);
      await applier.apply(events.map((e) => eventEntry(e, { quietMs: 60_000 })));

      // One rollout for the workload: the later preStop joined it instead of opening an implicit one.
      const listed = await store.listRollouts({ namespace: names.namespace, workload: names.workload });
      expect(
        listed.map((r) => r.rolloutId),
        where,
      ).toEqual([names.rolloutId]);
      expectFound(await store.getReport(names.rolloutId), names, where);
      const status = (await store.workloadStatus()).find(
        (s) => s.namespace === names.namespace && s.workload === names.workload,
      );
      expect(status, where).toMatchObject({ openRolloutId: null, terminating: 0 });

      const query = new URLSearchParams({ namespace: names.namespace, workload: names.workload });
      const list = (await (await fetch(`${base}/rollouts?${query}`)).json()) as {
        rollouts: { rolloutId: string }[];
      };
      expect(
        list.rollouts.map((r) => r.rolloutId),
        where,
      ).toEqual([names.rolloutId]);
      const res = await fetch(`${base}/rollouts/${encodeURIComponent(names.rolloutId)}`);
      expect(res.status, where).toBe(200);
      expectFound((await res.json()) as RolloutReport, names, where);
    }
    const all = await store.listRollouts({ limit: 1000 });
    expect(all).toHaveLength(CASES);
  });

  it("finds a batched probe record of a pod whatever its name holds (the lookup's pointer names the pod)", async () => {
    const rng = createRng(SEED + 2);
    const applier = createApplier(redis, { retentionSeconds: 3600 });
    const t0 = Date.parse('2026-11-30T18:00:00Z');
    // The names that broke the pointer first (a `|`, a `%`), then random ones.
    const fixed: Names[] = [
      { namespace: 'shop', workload: 'web', pods: ['web|1', 'web|2'], rolloutId: 'batch-bar' },
      { namespace: 'shop', workload: 'web2', pods: ['a%7Cb|12|x', 'p%'], rolloutId: 'batch-pct' },
    ];
    const cases = [...fixed, ...Array.from({ length: 10 }, () => randomNames(rng))];
    for (const [i, names] of cases.entries()) {
      const where = `seed ${SEED}, case ${i}: ${JSON.stringify(names)}`;
      const t = t0 + i * 10_000;
      const events = rolloutEvents(names, t);
      const agent = createEventSequencer({
        namespace: names.namespace,
        workload: names.workload,
        pod: names.pods[1],
      });
      const probes = createEventSequencer({
        namespace: names.namespace,
        workload: names.workload,
        pod: null,
      });
      const records = [0, 1].map((k) => ({
        ...SAMPLE_DATA.request,
        requestId: `r-${k}`,
        probeId: `p-${i}-${k}`,
        at: new Date(t + 250 + k).toISOString(),
      }));
      const batch = agent.next('request.batch', { records }, new Date(t + 260));
      const failed = [0, 1].map((k) =>
        probes.next(
          'probe.request',
          { ...SAMPLE_DATA['probe.request'], probeId: `p-${i}-${k}`, pod: names.pods[1] },
          new Date(t + 255 + k),
        ),
      );
      await applier.apply([...events, batch, ...failed].map((e) => eventEntry(e, { quietMs: 60_000 })));
      const facts = await store.facts(names.rolloutId);
      const found = [...(facts?.agentRequests ?? new Map()).entries()].map(([id, r]) => [
        id,
        r.pod,
        r.requestId,
      ]);
      expect(found.sort(), where).toEqual([
        [`p-${i}-0`, names.pods[1], 'r-0'],
        [`p-${i}-1`, names.pods[1], 'r-1'],
      ]);
    }
  });

  it('`drainwatch report <id>` prints a rollout whose id holds / | space % and unicode', async () => {
    const names: Names = {
      namespace: 'ns with/slash',
      workload: 'web|1 %2F',
      pods: ['pod:a/1', 'pod b|2'],
      rolloutId: 'release 2026/11 | 50%: é😀',
    };
    const applier = createApplier(redis, { retentionSeconds: 3600 });
    const events = rolloutEvents(names, Date.parse('2026-11-30T15:00:00Z'));
    await applier.apply(events.map((e) => eventEntry(e, { quietMs: 60_000 })));
    const run = spawnSync(process.execPath, [CLI_BIN, 'report', names.rolloutId, '--json'], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, REDIS_URL: server.url, DRAINWATCH_REDIS_PREFIX: prefix },
    });
    expect(run.status, run.stderr).toBe(0);
    expectFound(JSON.parse(run.stdout) as RolloutReport, names, 'drainwatch report');
  });
});
