import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { request } from 'undici';
import type { Agent } from '../../agent/index.js';
import { ensureStream } from '../../lib/jetstream.js';
import type { RunningServer } from '../../lib/servers.js';
import { delay, pollUntil } from '../../lib/wait.js';
import type { AgentUnderTest, UpstreamApp } from './agent-harness.js';
import type { LogCapture } from './log-lines.js';
import type { TestNatsCluster } from './nats-cluster.js';
import type { TestNamespace } from './servers.js';

// The real agent against a real NATS cluster: probe traffic driven through the agent while nodes
// go away or freeze, a sampler of the agent's buffer, the R3 stream's leader moved where a test
// needs it, and the pod's termination steps (preStop, the app's exit) as the kubelet drives them.

export interface ProbeTraffic {
  /** Probe requests answered so far (each one makes one `request` event in the agent). */
  sent(): number;
  /** Answers other than 200. */
  failed(): number;
  /** Stops after the request in flight; resolves with the number sent (rejects if one threw). */
  stop(): Promise<number>;
}

/**
 * Sequential GETs through the agent's traffic port, each on its own connection and tagged
 * `x-drainwatch-probe: <prefix>-<n>`, `paceMs` apart (ms), until stop().
 */
export function driveProbes(trafficUrl: string, prefix: string, paceMs = 5): ProbeTraffic {
  let stopping = false;
  let sent = 0;
  let failed = 0;
  const loop = (async () => {
    while (!stopping) {
      // A connection per request: a reused keep-alive one may be closed by the agent as the pod
      // starts draining (by design) just as the next request is sent, which no retry here covers.
      const res = await request(`${trafficUrl}/tick`, {
        headers: { 'x-drainwatch-probe': `${prefix}-${sent}` },
        reset: true,
      });
      await res.body.text();
      if (res.statusCode !== 200) failed += 1;
      sent += 1;
      await delay(paceMs);
    }
  })();
  return {
    sent: () => sent,
    failed: () => failed,
    async stop() {
      stopping = true;
      await loop;
      return sent;
    },
  };
}

export interface BufferSample {
  /** Wall clock, ms. */
  readonly at: number;
  readonly buffered: number;
  readonly published: number;
}

export interface BufferSampler {
  /** Every sample taken, oldest first. */
  samples(): readonly BufferSample[];
  /** The largest buffer seen at or after `from` (wall clock ms). */
  maxSince(from: number): number;
  stop(): void;
}

/** Reads the agent's publisher counters every `everyMs` (a timer that never holds the process). */
export function sampleBuffer(agent: Agent, everyMs = 10): BufferSampler {
  const taken: BufferSample[] = [];
  const take = () => {
    const { buffered, published } = agent.state().events;
    taken.push({ at: Date.now(), buffered, published });
  };
  take();
  const timer = setInterval(take, everyMs);
  timer.unref();
  return {
    samples: () => taken,
    maxSince: (from) => Math.max(0, ...taken.filter((s) => s.at >= from).map((s) => s.buffered)),
    stop: () => clearInterval(timer),
  };
}

/** A client to every node of the cluster (the ones down are skipped by the client). */
export function clusterClient(nats: TestNatsCluster): Promise<NatsConnection> {
  return connect({ servers: nats.urls.split(','), name: 'drainwatch-test' });
}

/**
 * Creates the test's stream with 3 replicas, retrying while the cluster does not yet count three
 * JetStream servers (a node resumed by the previous test is still rejoining).
 */
export async function createR3Stream(nats: TestNatsCluster, ns: TestNamespace): Promise<void> {
  const nc = await clusterClient(nats);
  try {
    const jsm = await jetstreamManager(nc);
    await pollUntil(
      async () =>
        ensureStream(jsm, { name: ns.streamName, root: ns.subjectRoot, maxAgeSeconds: 3600, replicas: 3 }),
      { timeoutMs: 60_000, intervalMs: 250, what: `the R3 stream ${ns.streamName}` },
    );
  } finally {
    await nc.close();
  }
}

/** The index (into a cluster's `nodes`) of the node leading the stream, once it has a leader. */
export async function streamLeader(nc: NatsConnection, stream: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return pollUntil(
    async () => {
      const leader = (await jsm.streams.info(stream)).cluster?.leader;
      // The helper names the nodes n1, n2, n3 in the order of `nodes`.
      return leader ? Number(leader.slice(1)) : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 100, what: `a leader for ${stream}` },
  ).then((n) => n - 1);
}

/**
 * Asks the stream's leader to step down until `node` leads it (the new leader is chosen at random
 * among the replicas, so a few rounds may be needed), for at most 60 s. A round whose step-down
 * moved nothing within 5 s is asked again: once in CI a single step-down never moved the leader
 * (the test before resumes a paused node, which may still be catching up), and nats-server answers
 * a step-down it refuses with an error, named in the timeout's message.
 */
export async function moveStreamLeader(nats: TestNatsCluster, stream: string, node: number): Promise<void> {
  const nc = await clusterClient(nats);
  const deadline = Date.now() + 60_000;
  let refused = 'no step-down was answered';
  try {
    while (Date.now() < deadline) {
      const leader = await streamLeader(nc, stream);
      if (leader === node) return;
      try {
        const reply = await nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, undefined, {
          timeout: 5000,
        });
        const error = (reply.json() as { error?: { description?: string } }).error;
        if (error) refused = error.description ?? JSON.stringify(error);
      } catch (err) {
        refused = (err as Error).message;
      }
      await pollUntil(async () => (await streamLeader(nc, stream)) !== leader, {
        timeoutMs: 5000,
        intervalMs: 100,
        what: `${stream}'s leader to step down`,
      }).catch(() => undefined);
    }
    throw new Error(`${stream}'s leader did not move to n${node + 1} within 60 s (last refusal: ${refused})`);
  } finally {
    await nc.close();
  }
}

/**
 * Wall-clock ms at which the cluster first reports a leader for `stream` other than node `old`
 * (polled every 50 ms through a client of its own, for at most 60 s): start it right after `old` dies.
 */
export async function newLeaderAt(nats: TestNatsCluster, stream: string, old: number): Promise<number> {
  const nc = await clusterClient(nats);
  try {
    return await pollUntil(
      async () => {
        const jsm = await jetstreamManager(nc, { timeout: 1000 });
        const leader = (await jsm.streams.info(stream)).cluster?.leader;
        return leader && leader !== `n${old + 1}` ? Date.now() : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 50, what: `a new leader for ${stream}` },
    );
  } finally {
    await nc.close();
  }
}

/** SIGKILL, as a node lost with its machine: no goodbye to clients or routes. Reaps the process. */
export async function killHard(node: RunningServer): Promise<void> {
  process.kill(node.pid, 'SIGKILL');
  await node.pause();
}

/** SIGSTOP: the node freezes (a stalled machine) with its sockets open; thaw() resumes it. */
export function freeze(node: RunningServer): { thaw(): void } {
  process.kill(node.pid, 'SIGSTOP');
  let thawed = false;
  return {
    thaw() {
      if (thawed) return;
      thawed = true;
      process.kill(node.pid, 'SIGCONT');
    },
  };
}

/** The preStop hook, as the kubelet calls it; resolves with its status once the wait is over. */
export async function callPrestop(a: AgentUnderTest): Promise<number> {
  const res = await request(`${a.adminUrl}/prestop`);
  await res.body.text();
  return res.statusCode;
}

/** After the preStop: the app stops listening and exits (its parent reports it to the agent). */
export async function appGoes(a: AgentUnderTest, app: UpstreamApp): Promise<void> {
  await app.stopListening();
  await pollUntil(() => !a.agent.state().upstreamListening, { timeoutMs: 10_000, what: 'port closed seen' });
  const res = await request(`${a.adminUrl}/lifecycle/app-exited`, {
    method: 'POST',
    body: JSON.stringify({ code: 143, signal: 'SIGTERM', killedAtGrace: false }),
  });
  await res.body.text();
}

/** Wall-clock ms of the first log record whose message contains `part`, at or after `from`. */
export function loggedAt(log: LogCapture, part: string, from = 0): number | undefined {
  return log
    .records()
    .map((r) => ({ msg: r.msg, at: Date.parse(String(r.time)) }))
    .find((r) => r.msg.includes(part) && r.at >= from)?.at;
}

/**
 * True while the agent's publishing is in a failure streak: its log's latest "publishing to NATS
 * failed" (logged once per streak, agent/publisher.ts) has no "publishing to NATS again" after it.
 */
export function failureStreakOpen(log: LogCapture): boolean {
  const msgs = log.records().map((r) => r.msg);
  const failed = msgs.findLastIndex((m) => m.includes('publishing to NATS failed'));
  const again = msgs.findLastIndex((m) => m.includes('publishing to NATS again'));
  return failed > again;
}
