import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyEvent } from '../../contract/index.js';
import { decodeEvent } from '../../contract/validate.js';
import { ensureStream } from '../../lib/jetstream.js';
import { type RunningServer, startNatsServer } from '../../lib/servers.js';
import { pollUntil } from '../../lib/wait.js';
import { createProbeRun, type ProbeSummary } from '../../probe/index.js';
import {
  type AppLogEntry,
  type Balancer,
  roundRobin,
  type ScenarioApp,
  type SessionStore,
  startBalancer,
  startScenarioApp,
} from '../helpers/probe-targets.js';
import { natsClient, testNamespace } from '../helpers/servers.js';

// Three replicas behind a round-robin balancer; replica C keeps its sessions in memory only (it
// writes new sessions to the shared store too, so sessions it issued survive elsewhere). A session
// is lost exactly when a token issued by A or B is presented to C: the probe must count exactly
// those, once each, and publish them on a real nats-server.

describe('probe sessions against a replica that keeps sessions in memory', () => {
  let nats: RunningServer;
  let nc: NatsConnection;
  let apps: ScenarioApp[] = [];
  let balancer: Balancer;
  const log: AppLogEntry[] = [];
  const ns = testNamespace();
  let summary: ProbeSummary;
  const events: AnyEvent[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await natsClient(nats);
    await ensureStream(await jetstreamManager(nc), { name: ns.streamName, root: ns.subjectRoot });
    const shared: SessionStore = new Map();
    const memoryOfC: SessionStore = new Map();
    apps = await Promise.all([
      startScenarioApp({ pod: 'app-a', writeTo: [shared], readFrom: shared, log }),
      startScenarioApp({ pod: 'app-b', writeTo: [shared], readFrom: shared, log }),
      startScenarioApp({ pod: 'app-c', writeTo: [shared, memoryOfC], readFrom: memoryOfC, log }),
    ]);
    balancer = await startBalancer(
      apps.map((a) => a.url),
      roundRobin(3),
    );

    const run = createProbeRun(
      {
        target: balancer.url,
        sessions: 30,
        websockets: 0,
        ratePerSession: 5,
        identityIntervalMs: 600,
        rampMs: 300,
        namespace: 'shop',
        workload: 'quote',
        subjectRoot: ns.subjectRoot,
      },
      { nats: nc },
    );
    await run.start();
    await pollUntil(() => run.snapshot().requests >= 400 && run.snapshot().losses >= 10, {
      timeoutMs: 60_000,
      what: '400 probe requests and 10 losses',
    });
    summary = await run.stop();

    const js = jetstream(nc);
    const consumer = await js.consumers.get(ns.streamName);
    const stored = (await jetstreamManager(nc).then((m) => m.streams.info(ns.streamName))).state.messages;
    while (events.length < stored) {
      const batch = await consumer.fetch({ max_messages: 1000, expires: 2000 });
      for await (const m of batch) {
        events.push(decodeEvent(m.data));
        m.ack();
      }
    }
  });

  afterAll(async () => {
    await balancer?.stop();
    await Promise.all(apps.map((a) => a.stop()));
    await nc?.close();
    await nats?.stop();
  });

  it('counts exactly the sessions routed to the in-memory replica after a login elsewhere', () => {
    const issuedBy = new Map<string, string>();
    for (const e of log) if (e.kind === 'login') issuedBy.set(e.token, e.pod);
    const expectedLost = new Set(
      log
        .filter((e) => e.kind === 'auth' && e.pod === 'app-c' && issuedBy.get(e.token) !== 'app-c')
        .map((e) => e.token),
    );
    expect(expectedLost.size).toBeGreaterThanOrEqual(10);
    expect(summary.losses).toBe(expectedLost.size);
    expect(summary.lossesByReason).toEqual({ unauthorized: expectedLost.size });
    // Nothing else failed: the only failures are the 401s of the lost sessions.
    expect(summary.failed).toBe(expectedLost.size);
    expect(summary.errorsByKind).toEqual({ unauthorized: expectedLost.size });
    expect(summary.sessionsStarted).toBe(30);
    expect(summary.sessionsOk + summary.sessionsLost).toBe(30);
  });

  it('sees all three pods in round robin, so no stickiness and no skew beyond rounding', () => {
    expect(Object.keys(summary.perPod).sort()).toEqual(['app-a', 'app-b', 'app-c']);
    expect(Object.values(summary.perPod).reduce((a, b) => a + b, 0)).toBe(
      balancer.forwarded.reduce((a, b) => a + b, 0),
    );
    expect(summary.runSkewRatio).toBeLessThan(1.05);
    expect(summary.sticky).toBe(false);
  });

  it('publishes every probe event on NATS with the pod that lost each session', () => {
    const byKind = (k: string) => events.filter((e) => e.kind === k);
    expect(summary.eventsDropped).toBe(0);
    expect(summary.eventsPublished).toBe(events.length);
    expect(byKind('probe.request')).toHaveLength(summary.requests);
    const lost = byKind('probe.session').filter((e) => e.kind === 'probe.session' && e.data.event === 'lost');
    expect(lost).toHaveLength(summary.losses);
    for (const e of lost) {
      if (e.kind !== 'probe.session') continue;
      expect(e.data.pod).toBe('app-c');
      expect(['app-a', 'app-b']).toContain(e.data.issuedBy);
      expect(e.data.reason).toBe('unauthorized');
    }
    const ids = new Set(
      byKind('probe.request').map((e) => (e.kind === 'probe.request' ? e.data.probeId : '')),
    );
    expect(ids.size).toBe(summary.requests);
    const final = byKind('probe.summary');
    expect(final).toHaveLength(1);
    if (final[0]?.kind === 'probe.summary') {
      expect(final[0].data.requests).toBe(summary.requests);
      expect(final[0].data.sessionsLost).toBe(summary.sessionsLost);
    }
    for (const e of events) {
      expect(e.pod).toBeNull();
      expect(e.workload).toBe('quote');
    }
  });
});
