import type { AnyEvent, DrainwatchEvent } from '../contract/index.js';
import type { RedisClient } from '../lib/redis.js';
import { KEYS, parseTerminationMember, type TerminationMember, workloadKey } from './keys.js';
import type {
  AgentRequestRecord,
  ReportFacts,
  RolloutRecord,
  StoredPodEvent,
  StoredProbeEvent,
  StoredTraffic,
} from './report-types.js';
import { decodeRequestPointer, type RequestPointer } from './request-pointer.js';
import { decodeEvents, decodeLogins, decodeTimeline, type Login, podEventOf, withScores } from './stored.js';

// Reads the stored facts of one rollout window (ReportFacts) out of Redis: the terminations and
// probe events of the window first, then what they point at (pods' timelines, agents' request
// records, sessions' logins).

interface Terminations {
  readonly inWindow: (TerminationMember & { startMs: number })[];
  readonly startByPod: Map<string, number>;
}

async function readTerminations(redis: RedisClient, wk: string, ro: RolloutRecord): Promise<Terminations> {
  const inWindow: (TerminationMember & { startMs: number })[] = [];
  const startByPod = new Map<string, number>();
  const reply = await redis.zrange(KEYS.terminations(wk), '0', '-1', 'WITHSCORES');
  for (const [member, score] of withScores(reply)) {
    const { pod, instance } = parseTerminationMember(member);
    const prev = startByPod.get(pod);
    if (prev === undefined || score < prev) startByPod.set(pod, score);
    if (score >= ro.startedAt && (ro.finishedAt === null || score <= ro.finishedAt)) {
      inWindow.push({ pod, instance, startMs: score });
    }
  }
  return { inWindow, startByPod };
}

type ProbeRequest = DrainwatchEvent<'probe.request'>;

function failedProbeRequests(probes: readonly AnyEvent[]): ProbeRequest[] {
  return probes.filter((p): p is ProbeRequest => p.kind === 'probe.request' && !p.data.ok);
}

/** Sessions a probe saw lost, or a request of which failed: their logins tell who issued them. */
function lostSessions(probes: readonly AnyEvent[]): string[] {
  const lost = new Set<string>();
  for (const p of probes) {
    if (p.kind === 'probe.session' && p.data.event === 'lost' && p.data.sessionId) lost.add(p.data.sessionId);
    if (p.kind === 'probe.request' && !p.data.ok && p.data.sessionId) lost.add(p.data.sessionId);
  }
  return [...lost];
}

/** The agents' records of failed probe requests, by probe id. */
async function readAgentRequests(
  redis: RedisClient,
  wk: string,
  failed: readonly ProbeRequest[],
  more: readonly string[] = [],
): Promise<Map<string, AgentRequestRecord>> {
  const probeIds = [...new Set([...failed.map((f) => f.data.probeId), ...more])];
  const out = new Map<string, AgentRequestRecord>();
  if (probeIds.length === 0) return out;
  const raw = await redis.hmget(KEYS.agentRequests(wk), ...probeIds);
  const pointers = raw.map((v) => (v ? decodeRequestPointer(v) : undefined));
  const batched = await readBatchedRequests(redis, wk, pointers);
  probeIds.forEach((id, i) => {
    const member = raw[i];
    const pointer = pointers[i];
    const [e] = pointer ? [batched.get(pointer.id)] : member ? decodeEvents([member]) : [];
    if (e?.kind !== 'request' || e.pod === null) return;
    out.set(id, { ...e.data, pod: e.pod, instance: e.instance, time: e.time });
  });
  return out;
}

/**
 * The request events `pointers` name (request-pointer.ts), by id: each batch read once from its
 * pod's timeline (ZRANGE BYSCORE at the batch's score) and expanded. A pointer whose batch is gone
 * (retention) names nothing, as a missing record would.
 */
async function readBatchedRequests(
  redis: RedisClient,
  wk: string,
  pointers: readonly (RequestPointer | undefined)[],
): Promise<Map<string, AnyEvent>> {
  const places = new Map<string, { pod: string; score: number }>();
  for (const p of pointers) {
    if (p) places.set(`${p.score}|${p.pod}`, { pod: p.pod, score: p.score });
  }
  const read = await Promise.all(
    [...places.values()].map(({ pod, score }) =>
      redis.zrangebyscore(KEYS.timeline(wk, pod), String(score), String(score)),
    ),
  );
  return new Map(decodeEvents(read.flat()).map((e) => [e.id, e]));
}

async function readPods(
  redis: RedisClient,
  wk: string,
  pods: readonly string[],
): Promise<{ timelines: Map<string, StoredPodEvent[]>; seqs: Map<string, Record<string, string>> }> {
  const read = await Promise.all(
    pods.map((pod) =>
      Promise.all([redis.zrange(KEYS.timeline(wk, pod), '0', '-1'), redis.hgetall(KEYS.seqs(wk, pod))]),
    ),
  );
  const timelines = new Map<string, StoredPodEvent[]>();
  const seqs = new Map<string, Record<string, string>>();
  pods.forEach((pod, i) => {
    const [timeline, seq] = read[i]!;
    timelines.set(pod, decodeTimeline(timeline).map(podEventOf));
    seqs.set(pod, seq);
  });
  return { timelines, seqs };
}

async function readLogins(
  redis: RedisClient,
  wk: string,
  sessions: readonly string[],
): Promise<Map<string, Login[]>> {
  const read = await Promise.all(
    sessions.map((s) => redis.zrange(KEYS.logins(wk, s), '0', '-1', 'WITHSCORES')),
  );
  return new Map(sessions.map((s, i) => [s, decodeLogins(read[i]!)]));
}

function probeEventOf(e: AnyEvent): StoredProbeEvent {
  return { id: e.id, kind: e.kind, time: e.time, data: e.data };
}

function trafficOf(events: readonly AnyEvent[]): StoredTraffic[] {
  const out: StoredTraffic[] = [];
  for (const e of events) {
    if (e.kind === 'traffic.summary') out.push({ pod: e.pod ?? '', time: e.time, data: e.data });
  }
  return out;
}

/** The probe ids of the probes' gRPC server streams the server cut (a stream's id is its connectionId). */
function cutGrpcStreams(probes: readonly AnyEvent[]): string[] {
  const out: string[] = [];
  for (const p of probes) {
    const w = p.kind === 'probe.websocket' ? p.data : undefined;
    if (w?.transport === 'grpc' && w.event === 'stream-ended' && w.end === 'cut') out.push(w.connectionId);
  }
  return out;
}

/** Everything computeReport needs about one rollout, read from Redis. */
export async function readFacts(redis: RedisClient, ro: RolloutRecord): Promise<ReportFacts> {
  const wk = workloadKey(ro.namespace, ro.workload);
  const end = ro.finishedAt === null ? '+inf' : String(ro.finishedAt);
  const start = String(ro.startedAt);
  const [terminations, probesRaw, trafficRaw] = await Promise.all([
    readTerminations(redis, wk, ro),
    redis.zrangebyscore(KEYS.probe(wk), start, end),
    redis.zrangebyscore(KEYS.traffic(wk), start, end),
  ]);
  const probes = decodeEvents(probesRaw);
  const failed = failedProbeRequests(probes);
  const agentRequests = await readAgentRequests(redis, wk, failed, cutGrpcStreams(probes));
  const pods = new Set<string>(terminations.inWindow.map((t) => t.pod));
  for (const f of failed) if (f.data.pod) pods.add(f.data.pod);
  for (const rec of agentRequests.values()) pods.add(rec.pod);
  const [{ timelines, seqs }, logins] = await Promise.all([
    readPods(redis, wk, [...pods]),
    readLogins(redis, wk, lostSessions(probes)),
  ]);
  return {
    rollout: ro,
    terminations: terminations.inWindow,
    terminationStartByPod: terminations.startByPod,
    timelines,
    seqs,
    probes: probes.map(probeEventOf),
    agentRequests,
    logins,
    traffic: trafficOf(decodeEvents(trafficRaw)),
  };
}
