import type { RedisClient } from '../lib/redis.js';
import { readFacts } from './facts.js';
import { KEYS, parseWorkloadKey, ROLLOUT_FIELDS, rolloutField, workloadKey } from './keys.js';
import { computeReport } from './report.js';
import type { ReportFacts, RolloutRecord, RolloutReport, StoredPodEvent } from './report-types.js';
import {
  type DeadLetterEntry,
  decodeDeadLetters,
  decodeRollout,
  decodeTimeline,
  podEventOf,
  withScores,
} from './stored.js';

// Reads rollout state back from Redis. Usable without a running collector: `drainwatch report`
// and `rehearse` construct one on their own Redis client. A workload's state lives in its own
// slot (keys.ts), so reads across workloads are plain commands per workload, never a script: the
// same on a single Redis and on a Redis Cluster.

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

/** Newest first: score descending, then member descending (ZREVRANGE's order), by bytes. */
function newestFirst(a: [string, number], b: [string, number]): number {
  return b[1] - a[1] || Buffer.compare(Buffer.from(b[0]), Buffer.from(a[0]));
}

export function createReportStore(redis: RedisClient): ReportStore {
  // A rollout's workload never changes once found: remembered, so a report reads its workload once.
  const workloadOf = new Map<string, string>();

  /** The workloads with rollouts (`any`: with any state), in one namespace or all. */
  async function workloads(namespace?: string, any = false): Promise<string[]> {
    const all = (await redis.smembers(any ? KEYS.anyWorkloads : KEYS.workloads)).sort();
    return namespace === undefined ? all : all.filter((wk) => parseWorkloadKey(wk).namespace === namespace);
  }

  async function rolloutIn(wk: string, id: string): Promise<RolloutRecord | undefined> {
    const values = await redis.hmget(KEYS.rollouts(wk), ...ROLLOUT_FIELDS.map((f) => rolloutField(id, f)));
    const h: Record<string, string> = {};
    ROLLOUT_FIELDS.forEach((f, i) => {
      const v = values[i];
      if (v !== null && v !== undefined) h[f] = v;
    });
    return decodeRollout(h);
  }

  async function record(id: string): Promise<RolloutRecord | undefined> {
    const known = workloadOf.get(id);
    if (known !== undefined) return rolloutIn(known, id);
    const wks = await workloads();
    const scores = await Promise.all(wks.map((wk) => redis.zscore(KEYS.workloadRollouts(wk), id)));
    for (const [i, wk] of wks.entries()) {
      if (scores[i] === null) continue;
      const ro = await rolloutIn(wk, id);
      if (ro) {
        workloadOf.set(id, wk);
        return ro;
      }
    }
    // Stored before 2026-12-01, kept for the retention: a finish applied before its own start
    // closed the rollout its preStops had opened under their implicit id, with `<id>|aliasOf`
    // the way back. Today's script gives such a rollout the controller's id (lua/apply.lua rename).
    const aliases = await Promise.all(
      wks.map((wk) => redis.hget(KEYS.rollouts(wk), rolloutField(id, 'aliasOf'))),
    );
    for (const [i, wk] of wks.entries()) {
      const alias = aliases[i];
      if (alias === null || alias === undefined) continue;
      const ro = await rolloutIn(wk, alias);
      if (ro) return ro;
    }
    return undefined;
  }

  async function report(ro: RolloutRecord, options: ReportOptions): Promise<RolloutReport> {
    return computeReport(
      await readFacts(redis, ro),
      options.gate === undefined ? {} : { gate: options.gate },
    );
  }

  async function listRollouts(options: ListOptions = {}): Promise<RolloutSummary[]> {
    const limit = options.limit ?? 50;
    const wks =
      options.namespace !== undefined && options.workload !== undefined
        ? [workloadKey(options.namespace, options.workload)]
        : (await workloads(options.namespace)).filter(
            (wk) => options.workload === undefined || parseWorkloadKey(wk).workload === options.workload,
          );
    // Each workload's newest `limit`, merged: the newest `limit` overall are among them.
    const perWorkload = await Promise.all(
      wks.map((wk) => redis.zrevrange(KEYS.workloadRollouts(wk), '0', String(limit - 1), 'WITHSCORES')),
    );
    const ids = perWorkload
      .flatMap((reply, i) => withScores(reply).map(([id, score]) => ({ id, score, wk: wks[i]! })))
      .sort((a, b) => newestFirst([a.id, a.score], [b.id, b.score]));
    const out: RolloutSummary[] = [];
    for (const chunk of chunks(ids, limit)) {
      const records = await Promise.all(chunk.map(({ wk, id }) => rolloutIn(wk, id)));
      for (const [j, r] of records.entries()) {
        if (!r) continue;
        workloadOf.set(r.id, chunk[j]!.wk);
        out.push(summaryOf(r));
        if (out.length >= limit) return out;
      }
    }
    return out;
  }

  async function getReport(rolloutId: string, options: ReportOptions = {}) {
    const ro = await record(rolloutId);
    return ro ? report(ro, options) : undefined;
  }

  return {
    listRollouts,
    getReport,
    async latestRollout(namespace, workload, options = {}) {
      const [latest] = await listRollouts({
        ...(namespace !== undefined ? { namespace } : {}),
        ...(workload !== undefined ? { workload } : {}),
        limit: 1,
      });
      return latest ? getReport(latest.rolloutId, options) : undefined;
    },
    async openRollouts() {
      const open = await Promise.all((await workloads()).map((wk) => redis.get(KEYS.open(wk))));
      return open.filter((id): id is string => id !== null);
    },
    async workloadStatus() {
      return Promise.all(
        (await workloads()).map(async (wk): Promise<WorkloadStatus> => {
          const id = await redis.get(KEYS.open(wk));
          const start = id ? await redis.hget(KEYS.rollouts(wk), rolloutField(id, 'startedAt')) : null;
          // Only terminations of the open rollout count: a pod whose agent vanished stays behind otherwise.
          const terminating = start === null ? 0 : await redis.zcount(KEYS.terminating(wk), start, '+inf');
          return { ...parseWorkloadKey(wk), openRolloutId: id, terminating };
        }),
      );
    },
    async timeline(namespace, pod) {
      // A pod's timeline is kept under its workload's tag: merged over the namespace's workloads.
      const replies = await Promise.all(
        (await workloads(namespace, true)).map((wk) =>
          redis.zrange(KEYS.timeline(wk, pod), '0', '-1', 'WITHSCORES'),
        ),
      );
      const members = replies
        .flatMap(withScores)
        .sort((a, b) => -newestFirst(a, b))
        .map(([m]) => m);
      return decodeTimeline(members).map(podEventOf);
    },
    async facts(rolloutId) {
      const ro = await record(rolloutId);
      return ro ? readFacts(redis, ro) : undefined;
    },
    async deadLetters(limit = 100) {
      return decodeDeadLetters(await redis.lrange(KEYS.deadLetters, '0', String(limit - 1)));
    },
  };
}

function* chunks<T>(xs: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < xs.length; i += Math.max(1, size)) yield xs.slice(i, i + Math.max(1, size));
}
