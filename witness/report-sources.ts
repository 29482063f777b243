import type { Collector, ReportStore, RolloutReport, RolloutSummary } from '../collector/index.js';

// Where a witness reads the rollout report: the in-process collector's Redis store (rehearse, and
// verify by default), or the JSON API of a collector running elsewhere (verify `--collector-url`).

/** Where the report comes from: the in-process collector's store, or a remote collector's API. */
export interface ReportSource {
  /** The report once its rollout is closed, else undefined. */
  closedReport(rolloutId: string): Promise<RolloutReport | undefined>;
  /** Session-persistence scores of earlier closed rollouts of the workload, newest first. */
  pastScores(namespace: string, workload: string, excludeRolloutId: string): Promise<number[]>;
  /** Waits until every event published so far has been applied (in-process collector only). */
  settle?(timeoutMs: number): Promise<void>;
}

const HISTORY_LIMIT = 50;

async function scoresOf(
  summaries: readonly RolloutSummary[],
  exclude: string,
  report: (id: string) => Promise<RolloutReport | undefined>,
): Promise<number[]> {
  const scores: number[] = [];
  for (const s of summaries) {
    if (s.rolloutId === exclude || s.finishedAt === null) continue;
    const r = await report(s.rolloutId);
    const v = r?.scores.sessionPersistence;
    if (v !== null && v !== undefined) scores.push(v);
  }
  return scores;
}

export function storeReportSource(store: ReportStore, collector?: Collector): ReportSource {
  return {
    async closedReport(id) {
      const r = await store.getReport(id);
      return r && r.finishedAt !== null ? r : undefined;
    },
    async pastScores(namespace, workload, exclude) {
      const list = await store.listRollouts({ namespace, workload, limit: HISTORY_LIMIT });
      return scoresOf(list, exclude, (id) => store.getReport(id));
    },
    ...(collector ? { settle: (timeoutMs: number) => collector.drain(timeoutMs) } : {}),
  };
}

export function httpReportSource(baseUrl: string, token?: string): ReportSource {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const get = async <T>(path: string): Promise<T | undefined> => {
    const res = await fetch(new URL(path, baseUrl), { headers, signal: AbortSignal.timeout(10_000) });
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`collector ${baseUrl} answered ${res.status} to ${path}`);
    return (await res.json()) as T;
  };
  const report = (id: string) => get<RolloutReport>(`/api/rollouts/${encodeURIComponent(id)}`);
  return {
    async closedReport(id) {
      const r = await report(id);
      return r && r.finishedAt !== null ? r : undefined;
    },
    async pastScores(namespace, workload, exclude) {
      const q = new URLSearchParams({ namespace, workload, limit: String(HISTORY_LIMIT) });
      const list = await get<{ rollouts: RolloutSummary[] }>(`/api/rollouts?${q}`);
      return scoresOf(list?.rollouts ?? [], exclude, report);
    },
  };
}
