import type { NatsConnection } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCollector, loadCollectorConfig } from '../../collector/index.js';
import type { AnyEvent } from '../../contract/index.js';
import { createLogger } from '../../lib/log.js';
import { pollUntil } from '../../lib/wait.js';
import {
  createTestStream,
  messageSeqs,
  readStream,
  startUpstreamApp,
  type UpstreamApp,
} from '../helpers/agent-harness.js';
import { spawnAgent } from '../helpers/agent-process.js';
import { captureLog, type LogCapture, type LogRecord, lineSink } from '../helpers/log-lines.js';
import { natsClient, startTestServers, type TestServers, testNamespace } from '../helpers/servers.js';

// Issue #16, "nothing lost, nothing silent": NATS goes away before the preStop and stays away
// across the agent's exit. The real agent process keeps flushing until 1 s before the pod's grace
// deadline: NATS back before it → every event is on the stream; back after it → the agent logged
// exactly what it could not deliver, and the collector's report says evidence incomplete, never
// unclean. Secrets sent through the agent (query string, Authorization, Cookie) never reach a log.

const SECRETS = ['q-secret-4f1c', 'h-secret-9a7e', 'c-secret-2b3d'];
const POD = 'web-7d9f8b6c5d-fa1lt';
const REQUESTS = 5;

let servers: TestServers;
let app: UpstreamApp;
let nc: NatsConnection;

beforeAll(async () => {
  servers = await startTestServers();
  app = await startUpstreamApp();
  nc = await natsClient(servers.nats);
});

afterAll(async () => {
  await nc?.close();
  await app?.close();
  await servers?.stop();
});

type Outage = { begin(): Promise<void>; end(): Promise<void> };

/** SIGSTOP: the server hangs, its sockets stay open (what the issue measured). */
const hang = (): Outage => {
  const pid = servers.nats.pid;
  return {
    begin: async () => void process.kill(pid, 'SIGSTOP'),
    end: async () => void process.kill(pid, 'SIGCONT'),
  };
};

/** Killed and started again on the same port and store. */
const restart = (): Outage => ({ begin: () => servers.nats.pause(), end: () => servers.nats.resume() });

interface Run {
  readonly ns: ReturnType<typeof testNamespace>;
  readonly log: LogCapture;
  readonly exit: { code: number | null };
}

/** Traffic, then the outage, preStop, the app's exit and SIGTERM; `back` says when NATS returns. */
async function acrossExit(
  outage: Outage,
  back: 'before-deadline' | 'after-exit',
  grace: number,
): Promise<Run> {
  const ns = testNamespace();
  await createTestStream(nc, ns);
  const agent = await spawnAgent({
    DRAINWATCH_UPSTREAM: `127.0.0.1:${app.port}`,
    NATS_URL: servers.nats.url,
    DRAINWATCH_SUBJECT_ROOT: ns.subjectRoot,
    POD_NAME: POD,
    POD_NAMESPACE: 'shop',
    DRAINWATCH_GRACE_SECONDS: String(grace),
    DRAINWATCH_PRESTOP: 'fixed:0.3',
    DRAINWATCH_SUMMARY_INTERVAL: '500ms',
    DRAINWATCH_LOG_LEVEL: 'debug',
  });
  const log = captureLog(agent.child.stderr);
  try {
    await pollUntil(async () => (await readStream(nc, ns)).length >= 1, {
      timeoutMs: 15_000,
      what: 'agent.started',
    });
    for (let i = 0; i < REQUESTS; i++) {
      const res = await fetch(`${agent.trafficUrl}/cart?token=${SECRETS[0]}`, {
        headers: {
          authorization: `Bearer ${SECRETS[1]}`,
          cookie: `session=${SECRETS[2]}`,
          'x-drainwatch-probe': `f-${i}`,
        },
      });
      await res.arrayBuffer();
    }
    await pollUntil(
      async () => (await readStream(nc, ns)).filter((e) => e.kind === 'request').length === REQUESTS,
      {
        timeoutMs: 15_000,
        what: 'the requests on the stream',
      },
    );
    await outage.begin();
    await (await fetch(`${agent.adminUrl}/prestop`)).arrayBuffer();
    const exited = await fetch(`${agent.adminUrl}/lifecycle/app-exited`, {
      method: 'POST',
      body: JSON.stringify({ code: 0, signal: null, killedAtGrace: false }),
    });
    await exited.arrayBuffer();
    agent.child.kill('SIGTERM');
    if (back === 'before-deadline') {
      // NATS returns while the final flush is failing, well before the deadline.
      await pollUntil(() => log.find('final flush: publish attempt failed') !== undefined, {
        timeoutMs: 15_000,
        what: 'a failed attempt of the final flush',
      });
      await outage.end();
      const end = await agent.exited;
      return { ns, log, exit: end };
    }
    const end = await agent.exited;
    await outage.end();
    return { ns, log, exit: end };
  } finally {
    agent.kill();
  }
}

function expectNoSecrets(text: string): void {
  for (const s of SECRETS) expect(text).not.toContain(s);
}

const kinds = (events: readonly AnyEvent[]) => events.map((e) => e.kind);

describe('faults: NATS away across the agent exit', () => {
  it.each([
    ['hangs (SIGSTOP)', hang],
    ['is killed and restarted', restart],
  ])(
    'NATS %s and is back before the grace deadline: every event the agent made is on the stream',
    async (_, make) => {
      const run = await acrossExit(make(), 'before-deadline', 12);
      expect(run.exit.code).toBe(0);
      const done = run.log.find('final flush done') as LogRecord & { emitted: number; published: number };
      expect(done, run.log.text()).toBeDefined();
      const events = await pollUntil(
        async () => {
          const evs = await readStream(nc, run.ns);
          return evs.some((e) => e.kind === 'drain.summary') ? evs : undefined;
        },
        { timeoutMs: 10_000, what: 'drain.summary on the stream' },
      );
      // Emitted = stored: seqs 1..n, each once, n as many as the agent made.
      const seqs = messageSeqs(events);
      expect(seqs).toEqual(seqs.map((_e, i) => i + 1));
      expect(seqs).toHaveLength(done.emitted);
      expect(done.published).toBe(done.emitted);
      expect(kinds(events).filter((k) => !['request', 'traffic.summary'].includes(k))).toEqual([
        'agent.started',
        'prestop.started',
        'prestop.finished',
        'app.exited',
        'sigterm',
        'drain.summary',
      ]);
      expect(kinds(events).filter((k) => k === 'request')).toHaveLength(REQUESTS);
      // Each failed attempt was logged; none of the secrets sent through the agent was.
      expect(
        run.log.records().filter((r) => r.msg.startsWith('final flush: publish attempt failed')).length,
      ).toBeGreaterThan(0);
      expectNoSecrets(run.log.text());
    },
    60_000,
  );

  it('NATS hangs past the grace deadline: the agent logs what it lost, the report says evidence incomplete, not unclean', async () => {
    const run = await acrossExit(hang(), 'after-exit', 5);
    expect(run.exit.code).toBe(0);
    const gaveUp = run.log.find('final flush gave up') as LogRecord & {
      undelivered: Record<string, number>;
      undeliveredTotal: number;
      emitted: number;
      published: number;
    };
    expect(gaveUp, run.log.text()).toBeDefined();
    expect(gaveUp.level).toBe('error');
    // Kinds and counts only: the closing events are among them.
    for (const kind of ['app.exited', 'sigterm', 'drain.summary']) expect(gaveUp.undelivered[kind]).toBe(1);
    expect(Object.values(gaveUp.undelivered).every((n) => typeof n === 'number')).toBe(true);
    expectNoSecrets(run.log.text());

    // What reached the stream: everything acknowledged, at most the one event in flight besides.
    const stored = await readStream(nc, run.ns);
    const messages = messageSeqs(stored).length;
    expect(messages).toBeGreaterThanOrEqual(gaveUp.published);
    expect(messages + gaveUp.undeliveredTotal).toBeGreaterThanOrEqual(gaveUp.emitted);
    expect(kinds(stored)).not.toContain('drain.summary');

    // The collector (its own log captured, at debug) closes the implicit rollout and reports it.
    const sink = lineSink();
    const collector = createCollector(
      loadCollectorConfig(
        {},
        {
          DRAINWATCH_LISTEN: '127.0.0.1:0',
          NATS_URL: servers.nats.url,
          REDIS_URL: servers.redis.url,
          DRAINWATCH_REDIS_PREFIX: run.ns.redisPrefix,
          DRAINWATCH_SUBJECT_ROOT: run.ns.subjectRoot,
          DRAINWATCH_STREAM: run.ns.streamName,
          DRAINWATCH_ROLLOUT_QUIET: '1s',
        },
      ),
      {
        registry: new Registry(),
        log: createLogger({ name: 'collector', level: 'debug', format: 'json', write: sink.write }),
      },
    );
    try {
      await collector.start();
      const rollout = await pollUntil(
        async () => (await collector.store.listRollouts({ limit: 5 })).find((r) => r.outcome !== 'open'),
        { timeoutMs: 30_000, what: 'the implicit rollout to close' },
      );
      const report = await collector.store.getReport(rollout.rolloutId);
      expect(report?.evidenceIncomplete).toEqual([POD]);
      expect(report?.terminations).toHaveLength(1);
      expect(report?.terminations[0]).toMatchObject({
        pod: POD,
        clean: false,
        uncleanReasons: [],
        evidenceIncomplete: true,
      });
      // Left out of the score, not counted as unclean: no termination with a verdict remains.
      expect(report?.scores.cleanTerminations).toBeNull();
      expect(sink.capture.find('collector started')).toBeDefined();
      expectNoSecrets(sink.capture.text());
    } finally {
      await collector.stop();
    }
  }, 90_000);

  it('NATS killed before the preStop and back only after the exit: emitted = stored + what the agent logged as lost', async () => {
    const run = await acrossExit(restart(), 'after-exit', 5);
    expect(run.exit.code).toBe(0);
    const gaveUp = run.log.find('final flush gave up') as LogRecord & {
      undelivered: Record<string, number>;
      undeliveredTotal: number;
      emitted: number;
      published: number;
    };
    expect(gaveUp, run.log.text()).toBeDefined();
    // The test's own client reconnects to the restarted server first.
    const stored = await pollUntil(() => readStream(nc, run.ns).catch(() => undefined), {
      timeoutMs: 30_000,
      what: 'the stream readable after the restart',
    });
    // A killed server keeps nothing that was in flight: the books balance exactly.
    const messages = messageSeqs(stored).length;
    expect(messages).toBe(gaveUp.published);
    expect(messages + gaveUp.undeliveredTotal).toBe(gaveUp.emitted);
    expect(kinds(stored).filter((k) => k !== 'request')).toEqual(['agent.started']);
    for (const kind of ['prestop.started', 'prestop.finished', 'app.exited', 'sigterm', 'drain.summary']) {
      expect(gaveUp.undelivered[kind]).toBe(1);
    }
    expectNoSecrets(run.log.text());
  }, 60_000);
});
