import type { Redis } from 'ioredis';
import { readFacts } from './facts.js';
import { KEYS, parseWorkloadKey, workloadKey } from './keys.js';
import { computeReport } from './report.js';
import type { ReportFacts, RolloutRecord, RolloutReport, StoredPodEvent } from './report-types.js';
import {
  type DeadLetterEntry,
  decodeDeadLetters,
  decodeEvents,
  decodeRollout,
  podEventOf,
} from './stored.js';

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

export function createReportStore(redis: Redis): ReportStore {
  async function record(id: string): Promise<RolloutRecord | undefined> {
    return decodeRollout(await redis.hgetall(KEYS.rollout(id)));
  }

  async function report(ro: RolloutRecord, options: ReportOptions): Promise<RolloutReport> {
    return computeReport(
      await readFacts(redis, ro),
      options.gate === undefined ? {} : { gate: options.gate },
    );
  }

  async function listRollouts(options: ListOptions = {}): Promise<RolloutSummary[]> {
    const limit = options.limit ?? 50;
    const key =
      options.namespace !== undefined && options.workload !== undefined
        ? KEYS.workloadRollouts(workloadKey(options.namespace, options.workload))
        : KEYS.rollouts;
    // Filtering by namespace or workload alone scans the global index; rollouts are few, so that is cheap.
    const byOneOnly = (options.namespace === undefined) !== (options.workload === undefined);
    const ids = await redis.zrevrange(key, '0', String(byOneOnly ? -1 : limit - 1));
    const hashes = await Promise.all(ids.map((id) => redis.hgetall(KEYS.rollout(id))));
    const out: RolloutSummary[] = [];
    for (const h of hashes) {
      const r = decodeRollout(h);
      if (!r) continue;
      if (options.namespace !== undefined && r.namespace !== options.namespace) continue;
      if (options.workload !== undefined && r.workload !== options.workload) continue;
      out.push(summaryOf(r));
      if (out.length >= limit) break;
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
      return Object.values(await redis.hgetall(KEYS.open));
    },
    async workloadStatus() {
      const [wks, open] = await Promise.all([redis.smembers(KEYS.workloads), redis.hgetall(KEYS.open)]);
      const out: WorkloadStatus[] = [];
      for (const wk of wks.sort()) {
        const id = open[wk] ?? null;
        const start = id ? await redis.hget(KEYS.rollout(id), 'startedAt') : null;
        // Only terminations of the open rollout count: a pod whose agent vanished stays behind otherwise.
        const terminating = start === null ? 0 : await redis.zcount(KEYS.terminating(wk), start, '+inf');
        out.push({ ...parseWorkloadKey(wk), openRolloutId: id, terminating });
      }
      return out;
    },
    async timeline(namespace, pod) {
      return decodeEvents(await redis.zrange(KEYS.timeline(namespace, pod), '0', '-1')).map(podEventOf);
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
