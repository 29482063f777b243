import type { Redis } from 'ioredis';
import { kindOfType } from '../contract/events.js';
import { KEYS, workloadKey } from './keys.js';
import {
  type AgentRequestRecord,
  computeReport,
  type ReportFacts,
  type RolloutRecord,
  type RolloutReport,
  type StoredPodEvent,
  type StoredProbeEvent,
  type StoredTraffic,
} from './report.js';

// Reads rollout state back from Redis. Usable without a running collector: `drainwatch report`
// and `rehearse` construct one on their own Redis client.

export interface RolloutSummary {
  readonly rolloutId: string;
  readonly namespace: string;
  readonly workload: string;
  readonly trigger: string;
  readonly outcome: string;
  readonly startedAt: string;
  readonly finishedAt: string | null;
}

export interface ListOptions {
  readonly namespace?: string;
  readonly workload?: string;
  /** Newest first; default 50. */
  readonly limit?: number;
}

export interface ReportOptions {
  /** A session-persistence threshold: the report then carries a gate verdict. */
  readonly gate?: number;
}

export interface TimelineEntry extends StoredPodEvent {}

export interface WorkloadStatus {
  readonly namespace: string;
  readonly workload: string;
  readonly openRolloutId: string | null;
  readonly terminating: number;
}

export interface DeadLetterEntry {
  readonly reason: string;
  readonly field: string;
  readonly subject: string;
  readonly raw: string;
}

export interface ReportStore {
  listRollouts(options?: ListOptions): Promise<RolloutSummary[]>;
  getReport(rolloutId: string, options?: ReportOptions): Promise<RolloutReport | undefined>;
  latestRollout(
    namespace?: string,
    workload?: string,
    options?: ReportOptions,
  ): Promise<RolloutReport | undefined>;
  /** Ids of rollouts open now, by workload key. */
  openRollouts(): Promise<string[]>;
  /**
   * Every workload seen, with its open rollout (if any) and how many of its pods are between
   * termination start and exit now. Cheap: no report is computed.
   */
  workloadStatus(): Promise<WorkloadStatus[]>;
  timeline(namespace: string, pod: string): Promise<TimelineEntry[]>;
  /** The stored facts a report is computed from, for other views of one rollout (the timeline). */
  facts(rolloutId: string): Promise<ReportFacts | undefined>;
  deadLetters(limit?: number): Promise<DeadLetterEntry[]>;
}

function toRecord(h: Record<string, string>): RolloutRecord | undefined {
  if (!h.id || h.startedAt === undefined) return undefined;
  return {
    id: h.id,
    namespace: h.namespace ?? '',
    workload: h.workload ?? '',
    trigger: h.trigger ?? 'implicit',
    startedAt: Number(h.startedAt),
    finishedAt: h.finishedAt === undefined ? null : Number(h.finishedAt),
    outcome: h.outcome ?? null,
    podsReplaced: h.podsReplaced === undefined ? null : Number(h.podsReplaced),
  };
}

function summaryOf(r: RolloutRecord): RolloutSummary {
  return {
    rolloutId: r.id,
    namespace: r.namespace,
    workload: r.workload,
    trigger: r.trigger,
    outcome: r.finishedAt === null ? 'open' : (r.outcome ?? 'complete'),
    startedAt: new Date(r.startedAt).toISOString(),
    finishedAt: r.finishedAt === null ? null : new Date(r.finishedAt).toISOString(),
  };
}

function parseAll<T>(members: readonly string[]): T[] {
  const out: T[] = [];
  for (const m of members) {
    try {
      out.push(JSON.parse(m) as T);
    } catch {
      // Only the collector writes these keys; an unreadable member is skipped, not fatal.
    }
  }
  return out;
}

interface WireEvent {
  readonly id: string;
  readonly type: string;
  readonly time: string;
  readonly pod: string | null;
  readonly instance: string;
  readonly seq: number;
  readonly data: unknown;
}

/** Stored members are events' wire JSON; readers want the kind, not the CloudEvents type. */
function events(members: readonly string[]): (StoredPodEvent & { pod: string | null })[] {
  return parseAll<WireEvent>(members).map((w) => ({
    id: w.id,
    kind: kindOfType(w.type) ?? w.type,
    time: w.time,
    instance: w.instance,
    seq: w.seq,
    pod: w.pod,
    data: w.data,
  }));
}

function pairs(withScores: readonly string[]): [string, number][] {
  const out: [string, number][] = [];
  for (let i = 0; i + 1 < withScores.length; i += 2) out.push([withScores[i]!, Number(withScores[i + 1])]);
  return out;
}

/** Splits `<pod>|<instance>`; the instance never holds a `|`, the pod name might. */
function splitTermination(member: string): { pod: string; instance: string } {
  const at = member.lastIndexOf('|');
  return { pod: member.slice(0, at), instance: member.slice(at + 1) };
}

export function createReportStore(redis: Redis): ReportStore {
  async function record(id: string): Promise<RolloutRecord | undefined> {
    return toRecord(await redis.hgetall(KEYS.rollout(id)));
  }

  async function facts(ro: RolloutRecord): Promise<ReportFacts> {
    const wk = workloadKey(ro.namespace, ro.workload);
    const end = ro.finishedAt === null ? '+inf' : String(ro.finishedAt);
    const start = String(ro.startedAt);
    const [allTerms, probesRaw, trafficRaw] = await Promise.all([
      redis.zrange(KEYS.terminations(wk), '0', '-1', 'WITHSCORES'),
      redis.zrangebyscore(KEYS.probe(wk), start, end),
      redis.zrangebyscore(KEYS.traffic(wk), start, end),
    ]);
    const terminations: { pod: string; instance: string; startMs: number }[] = [];
    const terminationStartByPod = new Map<string, number>();
    for (const [member, score] of pairs(allTerms)) {
      const { pod, instance } = splitTermination(member);
      const prev = terminationStartByPod.get(pod);
      if (prev === undefined || score < prev) terminationStartByPod.set(pod, score);
      if (score >= ro.startedAt && (ro.finishedAt === null || score <= ro.finishedAt)) {
        terminations.push({ pod, instance, startMs: score });
      }
    }
    const probes: StoredProbeEvent[] = events(probesRaw);
    const failed = probes.filter(
      (p) => p.kind === 'probe.request' && (p.data as { ok?: boolean }).ok === false,
    ) as (StoredProbeEvent & { data: { probeId: string; pod?: string; sessionId: string } })[];
    const lostSessions = new Set<string>();
    for (const p of probes) {
      const d = p.data as { sessionId?: string; event?: string; error?: string; ok?: boolean };
      if (!d.sessionId) continue;
      if (p.kind === 'probe.session' && d.event === 'lost') lostSessions.add(d.sessionId);
      if (p.kind === 'probe.request' && d.ok === false) lostSessions.add(d.sessionId);
    }
    const pods = new Set<string>(terminations.map((t) => t.pod));
    for (const f of failed) if (f.data.pod) pods.add(f.data.pod);

    const probeIds = [...new Set(failed.map((f) => f.data.probeId))];
    const agentRaw = probeIds.length > 0 ? await redis.hmget(KEYS.agentRequests(wk), ...probeIds) : [];
    const agentRequests = new Map<string, AgentRequestRecord>();
    probeIds.forEach((id, i) => {
      const raw = agentRaw[i];
      if (!raw) return;
      const w = events([raw])[0];
      const rec = w
        ? ({ ...(w.data as object), pod: w.pod, instance: w.instance, time: w.time } as AgentRequestRecord)
        : undefined;
      if (rec) {
        agentRequests.set(id, rec);
        pods.add(rec.pod);
      }
    });

    const podList = [...pods];
    const sessionList = [...lostSessions];
    const pipe = redis.pipeline();
    for (const pod of podList) {
      pipe.zrange(KEYS.timeline(ro.namespace, pod), '0', '-1');
      pipe.hgetall(KEYS.seqs(ro.namespace, pod));
    }
    for (const s of sessionList) pipe.zrange(KEYS.logins(wk, s), '0', '-1', 'WITHSCORES');
    const results = (await pipe.exec()) ?? [];
    for (const [err] of results) if (err) throw err;
    const timelines = new Map<string, StoredPodEvent[]>();
    const seqs = new Map<string, Record<string, string>>();
    podList.forEach((pod, i) => {
      timelines.set(pod, events(results[i * 2]![1] as string[]));
      seqs.set(pod, results[i * 2 + 1]![1] as Record<string, string>);
    });
    const logins = new Map<string, { atMs: number; issuedBy: string | null }[]>();
    sessionList.forEach((s, i) => {
      const raw = results[podList.length * 2 + i]![1] as string[];
      logins.set(
        s,
        pairs(raw)
          .map(([m, score]) => ({
            atMs: score,
            issuedBy: parseAll<{ issuedBy: string | null }>([m])[0]?.issuedBy ?? null,
          }))
          .sort((a, b) => a.atMs - b.atMs),
      );
    });
    return {
      rollout: ro,
      terminations,
      terminationStartByPod,
      timelines,
      seqs,
      probes,
      agentRequests,
      logins,
      traffic: events(trafficRaw).map(
        (e) => ({ pod: e.pod ?? '', time: e.time, data: e.data }) as StoredTraffic,
      ),
    };
  }

  async function report(ro: RolloutRecord, options: ReportOptions): Promise<RolloutReport> {
    return computeReport(await facts(ro), options.gate === undefined ? {} : { gate: options.gate });
  }

  return {
    async listRollouts(options = {}) {
      const limit = options.limit ?? 50;
      const key =
        options.namespace !== undefined && options.workload !== undefined
          ? KEYS.workloadRollouts(workloadKey(options.namespace, options.workload))
          : KEYS.rollouts;
      // Filtering by namespace alone scans the global index; rollouts are few, so that is cheap.
      const ids = await redis.zrevrange(
        key,
        '0',
        String(options.namespace !== undefined && options.workload === undefined ? -1 : limit - 1),
      );
      if (ids.length === 0) return [];
      const pipe = redis.pipeline();
      for (const id of ids) pipe.hgetall(KEYS.rollout(id));
      const rows = (await pipe.exec()) ?? [];
      const out: RolloutSummary[] = [];
      for (const [err, h] of rows) {
        if (err) throw err;
        const r = toRecord(h as Record<string, string>);
        if (!r) continue;
        if (options.namespace !== undefined && r.namespace !== options.namespace) continue;
        out.push(summaryOf(r));
        if (out.length >= limit) break;
      }
      return out;
    },
    async getReport(rolloutId, options = {}) {
      const ro = await record(rolloutId);
      return ro ? report(ro, options) : undefined;
    },
    async latestRollout(namespace, workload, options = {}) {
      const [latest] = await this.listRollouts({
        ...(namespace !== undefined ? { namespace } : {}),
        ...(workload !== undefined ? { workload } : {}),
        limit: 1,
      });
      return latest ? this.getReport(latest.rolloutId, options) : undefined;
    },
    async openRollouts() {
      return Object.values(await redis.hgetall(KEYS.open));
    },
    async workloadStatus() {
      const [wks, open] = await Promise.all([redis.smembers(KEYS.workloads), redis.hgetall(KEYS.open)]);
      const out: WorkloadStatus[] = [];
      for (const wk of wks.sort()) {
        const [ns = '', wl = ''] = wk.split('/');
        const id = open[wk] ?? null;
        const start = id ? await redis.hget(KEYS.rollout(id), 'startedAt') : null;
        // Only terminations of the open rollout count: a pod whose agent vanished stays behind otherwise.
        const terminating = start === null ? 0 : await redis.zcount(KEYS.terminating(wk), start, '+inf');
        out.push({
          namespace: decodeURIComponent(ns),
          workload: decodeURIComponent(wl),
          openRolloutId: id,
          terminating,
        });
      }
      return out;
    },
    async timeline(namespace, pod) {
      return events(await redis.zrange(KEYS.timeline(namespace, pod), '0', '-1')).map(
        ({ pod: _pod, ...e }) => e,
      );
    },
    async facts(rolloutId) {
      const ro = await record(rolloutId);
      return ro ? facts(ro) : undefined;
    },
    async deadLetters(limit = 100) {
      return parseAll<DeadLetterEntry>(await redis.lrange(KEYS.deadLetters, '0', String(limit - 1)));
    },
  };
}
