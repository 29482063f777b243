import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnyEvent, LIFECYCLE_KINDS, MAX_REQUEST_BATCH_RECORDS } from '../../contract/index.js';
import { createLogger } from '../../lib/log.js';
import { delay, pollUntil } from '../../lib/wait.js';
import {
  appGoes,
  callPrestop,
  clusterClient,
  createR3Stream,
  driveProbes,
  failureStreakOpen,
  freeze,
  killHard,
  loggedAt,
  moveStreamLeader,
  newLeaderAt,
  type ProbeTraffic,
  sampleBuffer,
} from '../helpers/agent-cluster.js';
import {
  type AgentUnderTest,
  messageSeqs,
  readStream,
  startAgentUnderTest,
  startUpstreamApp,
  type UpstreamApp,
} from '../helpers/agent-harness.js';
import { type LogCapture, lineSink } from '../helpers/log-lines.js';
import { startNatsCluster, type TestNatsCluster } from '../helpers/nats-cluster.js';
import { type TestNamespace, testNamespace, uniqueTag } from '../helpers/servers.js';

// docs/scaling.md's claim, with the real agent (createAgent, its own connection to NATS_URL listing
// a 3-node cluster, an R3 stream): its events wait in its own buffer across a server switch and
// across a whole-cluster outage, each is stored once (the event id is the JetStream msg id), and
// its termination completes. The agent numbers every event it makes (seq 1, 2, …, no gap unless
// dropped), so "every event made" is seqs 1..N where N = published + dropped once it stopped.

const LIFECYCLE = [
  'agent.started',
  'prestop.started',
  'prestop.finished',
  'app.stopped-listening',
  'app.exited',
  'sigterm',
  'drain.summary',
];

interface Run {
  /** The agent's NATS connection name (`drainwatch-agent <pod>`), one pod name per run. */
  readonly connection: string;
  readonly a: AgentUnderTest;
  readonly app: UpstreamApp;
  readonly ns: TestNamespace;
  readonly log: LogCapture;
}

let nats: TestNatsCluster;
const runs: Run[] = [];

beforeAll(async () => {
  nats = await startNatsCluster(3);
}, 120_000);

afterAll(async () => {
  for (const r of runs) {
    await r.a.agent.stop({ immediate: true });
    await r.app.close();
  }
  await nats?.stop();
});

async function startRun(env: Record<string, string> = {}): Promise<Run> {
  const tag = uniqueTag();
  const ns = testNamespace(tag);
  // Each run's pod (and so its connection name) is its own: an earlier run's agent may still be connected.
  const pod = `web-7d9f8b6c5d-${tag}`;
  await createR3Stream(nats, ns);
  const app = await startUpstreamApp();
  const sink = lineSink();
  const a = await startAgentUnderTest({
    upstreamPort: app.port,
    natsUrl: nats.urls,
    ns,
    env: { POD_NAME: pod, DRAINWATCH_PRESTOP: 'fixed:1', DRAINWATCH_SUMMARY_INTERVAL: '200ms', ...env },
    deps: { log: createLogger({ level: 'debug', format: 'json', name: 'agent', write: sink.write }) },
  });
  const run = { connection: `drainwatch-agent ${pod}`, a, app, ns, log: sink.capture };
  runs.push(run);
  await pollUntil(() => a.agent.state().events.published >= 1, {
    timeoutMs: 20_000,
    what: 'agent.started published',
  });
  return run;
}

/** What the stream holds, read once the restarted cluster answers JetStream API calls again. */
async function stored(run: Run): Promise<AnyEvent[]> {
  const nc = await clusterClient(nats);
  try {
    return await pollUntil(() => readStream(nc, run.ns), {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: `the stream ${run.ns.streamName} readable`,
    });
  } finally {
    await nc.close();
  }
}

/** The stream holds every event the agent made exactly once (none dropped), in seq order. */
function expectEveryEventOnce(run: Run, events: AnyEvent[], probePrefix: string, probes: number): void {
  const { published, buffered, dropped } = run.a.agent.state().events;
  expect({ buffered, dropped }).toEqual({ buffered: 0, dropped: 0 });
  expect(messageSeqs(events)).toEqual(Array.from({ length: published }, (_, i) => i + 1));
  expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  expect(new Set(events.map((e) => e.instance)).size).toBe(1);
  const kinds = events.filter((e) => LIFECYCLE_KINDS.has(e.kind) && e.kind !== 'agent.listener');
  expect(kinds.map((e) => e.kind)).toEqual(LIFECYCLE);
  expect(events.at(-1)?.kind).toBe('drain.summary');
  const probeIds = events.flatMap((e) =>
    e.kind === 'request' && e.data.probeId?.startsWith(`${probePrefix}-`) ? [e.data.probeId] : [],
  );
  expect(probeIds).toHaveLength(probes);
  expect(new Set(probeIds).size).toBe(probes);
}

/** The index of the node holding the agent's connection (connz), once exactly one does. */
async function agentHome(run: Run): Promise<number> {
  const holding = await pollUntil(
    async () => {
      const held = await nats.connectedTo(run.connection);
      return held.length === 1 ? held : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 50, what: 'the node holding the agent connection' },
  );
  return holding[0]!;
}

/** The rest of the termination: traffic ends, the app goes, SIGTERM (stop()) with its final flush. */
async function finish(run: Run, traffic: ProbeTraffic): Promise<{ probes: number; stopMs: number }> {
  const probes = await traffic.stop();
  expect(traffic.failed()).toBe(0);
  await appGoes(run.a, run.app);
  const stopAt = Date.now();
  await run.a.agent.stop();
  return { probes, stopMs: Date.now() - stopAt };
}

/** Publishes JetStream acknowledged as duplicates: retries of an event already stored. */
function duplicates(run: Run): number {
  return run.log.records().filter((r) => r.msg.includes('was a duplicate')).length;
}

describe('the real agent on a 3-node NATS cluster (R3 stream)', () => {
  it('loses the node it publishes through, which leads the stream, mid-termination: every event stored once, the termination completes', async () => {
    const run = await startRun();
    const home = await agentHome(run);
    // The hardest case: the connection and the stream's leader go together, so publishing waits for
    // both a reconnect and a new leader, and a publish in flight may be stored with its ack lost.
    await moveStreamLeader(nats, run.ns.streamName, home);
    const sampler = sampleBuffer(run.a.agent);
    const traffic = driveProbes(run.a.trafficUrl, 'k');
    try {
      await pollUntil(() => traffic.sent() >= 50, { timeoutMs: 20_000, what: '50 probes before the kill' });
      const killedAt = Date.now();
      const sentAtKill = traffic.sent();
      await killHard(nats.nodes[home]!);
      const elected = newLeaderAt(nats, run.ns.streamName, home);
      // The preStop hook arrives while the agent has no server: prestop.started is made then.
      const hook = callPrestop(run.a);
      const away = await pollUntil(
        async () => {
          const held = await nats.connectedTo(run.connection);
          return held.length === 1 && held[0] !== home ? held[0]! + 1 : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 20, what: 'the agent connected to another node' },
      );
      const seenOnOtherNodeMs = Date.now() - killedAt;
      expect(await hook).toBe(200);
      await pollUntil(() => traffic.sent() >= sentAtKill + 150, {
        timeoutMs: 30_000,
        what: '150 probes after the kill',
      });
      const { probes, stopMs } = await finish(run, traffic);
      sampler.stop();

      const events = await stored(run);
      expectEveryEventOnce(run, events, 'k', probes);
      // Events waited in the buffer across the switch: the buffer held some while no server answered.
      const maxBuffered = sampler.maxSince(killedAt);
      expect(maxBuffered).toBeGreaterThan(0);
      const lost = loggedAt(run.log, 'NATS connection lost', killedAt);
      const back = loggedAt(run.log, 'NATS connection back', killedAt);
      expect(lost).toBeDefined();
      expect(back).toBeGreaterThanOrEqual(lost!);
      const again = loggedAt(run.log, 'publishing to NATS again', killedAt);
      const electedMs = (await elected) - killedAt;
      console.info(
        `[agent-nats-failover] node loss: ${events.length} events (${probes} probes), killed n${home + 1} ` +
          `(agent's server and stream leader); client reconnect ${back! - lost!} ms, on n${away}'s connz ` +
          `${seenOnOtherNodeMs} ms after the kill; new stream leader ${electedMs} ms after the kill; publishing again ` +
          `${again ? `${again - killedAt} ms` : 'without a failed attempt'} after the kill; max buffered ` +
          `${maxBuffered}; ${duplicates(run)} duplicate acks; agent.stop() ${stopMs} ms`,
      );
    } finally {
      await traffic.stop().catch(() => undefined);
      sampler.stop();
      // The lost node comes back for the next test, as an operator would restart it.
      await nats.nodes[home]!.resume();
    }
  }, 120_000);

  it("a retry of a publish whose ack was lost is stored once: the agent's node freezes past the publish timeout, then thaws", async () => {
    const run = await startRun();
    const home = await agentHome(run);
    // The leader elsewhere keeps the stream writable; only the agent's path to it stalls. Publishes
    // sent into the frozen node's socket time out (2 s) and are retried into it; once it thaws it
    // forwards the first attempt (stored) and the retries (acknowledged as duplicates).
    await moveStreamLeader(nats, run.ns.streamName, (home + 1) % 3);
    const traffic = driveProbes(run.a.trafficUrl, 'f');
    let frozen: { thaw(): void } | undefined;
    try {
      await pollUntil(() => traffic.sent() >= 50, { timeoutMs: 20_000, what: '50 probes before the freeze' });
      // The agent logs only the first failure of a streak: one the leader move began (an election
      // slow on a loaded machine) must have ended before the freeze, or the freeze's failures are
      // not logged (seen once in CI).
      await pollUntil(() => !failureStreakOpen(run.log), {
        timeoutMs: 20_000,
        what: 'publishing to succeed again after the leader move',
      });
      const frozenAt = Date.now();
      frozen = freeze(nats.nodes[home]!);
      const hook = callPrestop(run.a);
      // 3 s: longer than the publish timeout (2 s), far shorter than stale-connection detection
      // (2 pings of 10 s), so the agent stays on the frozen node and retries there.
      await delay(3000);
      frozen.thaw();
      const thawedAt = Date.now();
      expect(await hook).toBe(200);
      const { probes } = await finish(run, traffic);
      const events = await stored(run);
      expectEveryEventOnce(run, events, 'f', probes);
      expect(duplicates(run)).toBeGreaterThanOrEqual(1);
      expect(loggedAt(run.log, 'publishing to NATS failed', frozenAt)).toBeLessThan(thawedAt);
      console.info(
        `[agent-nats-failover] node frozen ${thawedAt - frozenAt} ms: ${events.length} events (${probes} probes) ` +
          `stored once; ${duplicates(run)} duplicate acks`,
      );
    } finally {
      frozen?.thaw();
      await traffic.stop().catch(() => undefined);
    }
  }, 120_000);

  /**
   * Every node down (SIGTERM) for 3 s while the agent serves probes, gets its preStop, sees the app
   * exit and is stopped (SIGTERM): its final flush waits for NATS. Returns the figures measured.
   */
  async function wholeClusterOutage(run: Run, probesDuring: number) {
    const traffic = driveProbes(run.a.trafficUrl, 'd');
    await pollUntil(() => traffic.sent() >= 20, { timeoutMs: 20_000, what: '20 probes before the outage' });
    const downAt = Date.now();
    await Promise.all(nats.nodes.map((n) => n.pause()));
    const sentAtDown = traffic.sent();
    await pollUntil(() => traffic.sent() >= sentAtDown + probesDuring, {
      timeoutMs: 30_000,
      what: `${probesDuring} probes while NATS is down`,
    });
    expect(await callPrestop(run.a)).toBe(200);
    const probes = await traffic.stop();
    expect(traffic.failed()).toBe(0);
    await appGoes(run.a, run.app);
    let stopped = false;
    const stopping = run.a.agent.stop().then(() => {
      stopped = true;
    });
    // The outage lasts 3 s whatever the steps above took (a fault's length, not a wait for a state).
    await delay(Math.max(0, downAt + 3000 - Date.now()));
    const held = run.a.agent.state().events;
    expect(stopped).toBe(false);
    const upAt = Date.now();
    await Promise.all(nats.nodes.map((n) => n.resume()));
    await stopping;
    return { probes, held, downMs: upAt - downAt, deliveredMs: Date.now() - upAt };
  }

  it('holds its events through a whole-cluster outage and delivers each once when the cluster is back; the termination completes', async () => {
    const run = await startRun();
    const { probes, held, downMs, deliveredMs } = await wholeClusterOutage(run, 200);
    expect(held.dropped).toBe(0);
    // The probes made while every server was down, and the termination's events, were all held:
    // the 200 records in at least 2 messages (100 records a batch at most), besides the 5 events.
    expect(held.buffered).toBeGreaterThanOrEqual(Math.ceil(200 / MAX_REQUEST_BATCH_RECORDS) + 5);
    const events = await stored(run);
    expectEveryEventOnce(run, events, 'd', probes);
    console.info(
      `[agent-nats-failover] cluster outage: ${events.length} events (${probes} probes); ${held.buffered} held ` +
        `for ${downMs} ms down; all acknowledged and agent.stop() done ${deliveredMs} ms after the restart`,
    );
  }, 120_000);

  it('with a full buffer through the outage, drops traffic events only, counts every drop, and delivers the rest once', async () => {
    // One message per record, so 60 probes overflow a buffer of 20 (batching is tested elsewhere).
    const run = await startRun({ DRAINWATCH_BUFFER_SIZE: '20', DRAINWATCH_REQUEST_BATCH: '0' });
    const { probes, held } = await wholeClusterOutage(run, 60);
    const { published, buffered, dropped } = run.a.agent.state().events;
    // What the final flush said, when it did not deliver everything (seen once in CI, 21 events
    // still buffered; not reproduced in 3 runs of this file).
    const flush = run.log.records().filter((r) => r.msg.startsWith('final flush'));
    expect(buffered, JSON.stringify(flush)).toBe(0);
    expect(dropped).toBeGreaterThanOrEqual(40);
    expect(held.dropped).toBe(dropped);
    const made = published + dropped;
    const events = await stored(run);
    const seqs = messageSeqs(events);
    // Each stored once, in order; the dropped ones are exactly the gaps below the last seq.
    expect(seqs).toEqual([...new Set(seqs)].sort((x, y) => x - y));
    expect(seqs).toHaveLength(published);
    expect(seqs.at(-1)).toBe(made);
    const kinds = events.filter((e) => LIFECYCLE_KINDS.has(e.kind) && e.kind !== 'agent.listener');
    expect(kinds.map((e) => e.kind)).toEqual(LIFECYCLE);
    // Counted, never silent: the drain summary, the metric and one log line say so.
    const summary = events.at(-1);
    expect(summary?.kind === 'drain.summary' && summary.data.eventsDropped).toBe(dropped);
    const metric = await run.a.registry.getSingleMetric('drainwatch_agent_events_dropped_total')?.get();
    expect((metric?.values ?? []).reduce((n, v) => n + v.value, 0)).toBe(dropped);
    expect(run.log.find('event buffer full')).toBeDefined();
    const probesStored = events.filter(
      (e) => e.kind === 'request' && e.data.probeId?.startsWith('d-'),
    ).length;
    console.info(
      `[agent-nats-failover] full buffer (20): ${made} events made (${probes} probes), ${dropped} dropped ` +
        `and counted, ${published} stored once (${probesStored} probes)`,
    );
  }, 120_000);
});
