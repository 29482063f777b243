import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ClusterAdapter, ClusterEvent, WorkloadRef } from '../cluster/adapter.js';
import { createEventSequencer, type EventSequencer } from '../contract/envelope.js';
import type { EventData, EventKind } from '../contract/events.js';
import { type GateVerdict, gateVerdict, type RolloutReport } from '../collector/index.js';
import { publishEvent } from '../lib/jetstream.js';
import { delay, pollUntil } from '../lib/wait.js';
import { createProbeRun, type ProbeSummary, type Scenario } from '../probe/index.js';
import {
  VerifyBaselineError,
  VerifyConfigError,
  VerifyNoPodsError,
  VerifyReportMissingError,
} from './errors.js';

// `drainwatch verify`: probes through the real entry point, a baseline, `rollout restart` of the
// Deployment followed to completion, a tail, then the collector's report and the gate. The
// orchestration only: the CLI builds the adapter, NATS connection and report source.

export interface VerifyConfig {
  readonly namespace: string;
  readonly deployment: string;
  readonly target: string;
  readonly sessions: number;
  readonly websockets?: number | string;
  readonly scenario?: Scenario;
  /** A fixed session-persistence threshold, unless gateFromHistory is set. */
  readonly gate: number;
  /** `p95`: the threshold 95% of this workload's past rollouts met (at least minHistory of them). */
  readonly gateFromHistory?: string;
  readonly baselineMs: number;
  readonly tailMs: number;
  readonly rolloutTimeoutMs: number;
  readonly subjectRoot: string;
  /** Past rollouts needed before the history gate applies (else the fixed gate does). */
  readonly minHistory: number;
  /** How long to wait for the collector's report after the rollout. */
  readonly reportTimeoutMs: number;
}

export const DEFAULT_VERIFY_CONFIG = {
  sessions: 50,
  gate: 1,
  baselineMs: 10_000,
  tailMs: 10_000,
  rolloutTimeoutMs: 10 * 60_000,
  subjectRoot: 'drainwatch',
  minHistory: 5,
  reportTimeoutMs: 60_000,
} as const;

/** Where the report comes from: the in-process collector's store, or a remote collector's API. */
export interface ReportSource {
  /** The report once its rollout is closed, else undefined. */
  closedReport(rolloutId: string): Promise<RolloutReport | undefined>;
  /** Session-persistence scores of earlier closed rollouts of the workload, newest first. */
  pastScores(namespace: string, workload: string, excludeRolloutId: string): Promise<number[]>;
  /** Waits until every event published so far has been applied (in-process collector only). */
  settle?(timeoutMs: number): Promise<void>;
}

export interface VerifyDeps {
  readonly adapter: ClusterAdapter;
  readonly nats: NatsConnection;
  readonly reports: ReportSource;
  /** Progress lines (stderr in the CLI). */
  readonly log?: (line: string) => void;
  readonly signal?: AbortSignal;
}

export interface VerifyResult {
  readonly rolloutId: string;
  readonly report: RolloutReport;
  readonly gate: GateVerdict & { readonly source: string };
  readonly probe: ProbeSummary;
  readonly rollout: { readonly outcome: string; readonly podsReplaced: number };
  /** The gate passed and the rollout completed. */
  readonly passed: boolean;
}

const HISTORY = /^p(\d{1,2}(?:\.\d+)?)$/;

export function checkVerifyConfig(c: VerifyConfig): void {
  if (!c.namespace) throw new VerifyConfigError('--namespace is required');
  if (!c.deployment) throw new VerifyConfigError('--deployment is required');
  if (!c.target) throw new VerifyConfigError('--target is required');
  if (c.gateFromHistory !== undefined && !HISTORY.test(c.gateFromHistory))
    throw new VerifyConfigError(
      `--gate-from-history: expected a percentile like p95, got ${JSON.stringify(c.gateFromHistory)}`,
    );
  if (!(c.gate >= 0 && c.gate <= 1)) throw new VerifyConfigError(`--gate: expected 0..1, got ${c.gate}`);
}

/**
 * The threshold that `pNN` of past scores met: p95 → the 5th percentile (nearest rank), so a
 * rollout fails when it is worse than 95% of the workload's history.
 */
export function historyThreshold(scores: readonly number[], percentile: string): number {
  const p = Number(HISTORY.exec(percentile)?.[1]);
  const sorted = [...scores].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(((100 - p) / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export async function runVerify(config: VerifyConfig, deps: VerifyDeps): Promise<VerifyResult> {
  checkVerifyConfig(config);
  const log = deps.log ?? (() => undefined);
  const workload: WorkloadRef = { namespace: config.namespace, name: config.deployment };
  const js = jetstream(deps.nats);
  const publishes: Promise<unknown>[] = [];
  const publish = <K extends EventKind>(seq: EventSequencer, kind: K, data: EventData<K>) => {
    const p = publishEvent(js, seq.next(kind, data), { root: config.subjectRoot });
    publishes.push(p.catch((err: Error) => log(`could not publish ${kind}: ${err.message}`)));
  };
  const control = createEventSequencer({
    namespace: config.namespace,
    workload: config.deployment,
    pod: null,
  });
  const podSequencers = new Map<string, EventSequencer>();
  const sequencerOf = (pod: string) => {
    let s = podSequencers.get(pod);
    if (!s) {
      s = createEventSequencer({ namespace: config.namespace, workload: config.deployment, pod }, 'verify');
      podSequencers.set(pod, s);
    }
    return s;
  };

  await deps.adapter.start();
  const pods = await deps.adapter.pods(workload);
  if (pods.length === 0)
    throw new VerifyNoPodsError(`Deployment ${config.namespace}/${config.deployment} has no pods to restart`);

  const probe = createProbeRun(
    {
      target: config.target,
      sessions: config.sessions,
      ...(config.websockets !== undefined ? { websockets: config.websockets } : {}),
      ...(config.scenario ? { scenario: config.scenario } : {}),
      namespace: config.namespace,
      workload: config.deployment,
      subjectRoot: config.subjectRoot,
    },
    { nats: deps.nats },
  );
  await probe.start();
  let stopped: Promise<ProbeSummary> | undefined;
  const stopProbe = () => {
    stopped ??= probe.stop();
    return stopped;
  };
  let unwatch: (() => void) | undefined;
  try {
    log(`baseline: ${config.sessions} sessions against ${config.target} for ${config.baselineMs} ms`);
    await delay(config.baselineMs, deps.signal);
    const base = probe.snapshot();
    if (base.requests === 0 || base.sessionsStarted === 0)
      throw new VerifyBaselineError(
        `no probe traffic reached ${config.target} during the baseline (${base.sessionsStarted} sessions, ${base.requests} requests)`,
      );
    if (base.sessionsLost > 0)
      log(`warning: ${base.sessionsLost} session(s) already lost before the rollout (baseline)`);

    const rolloutId = `verify-${config.deployment}-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}`;
    unwatch = deps.adapter.watch((e: ClusterEvent) => {
      if (e.type === 'endpoints-terminating') {
        publish(sequencerOf(e.pod.name), 'endpoints.propagated', {
          deletionAt: new Date(e.at.getTime() - e.propagationMs).toISOString(),
          terminatingAt: e.at.toISOString(),
          propagationMs: e.propagationMs,
          via: 'endpointslices',
        });
      } else if (e.type === 'pod-terminating' || e.type === 'rollout-progress') {
        log(
          e.type === 'pod-terminating'
            ? `pod ${e.pod.name} terminating`
            : `rollout: ${e.updated}/${e.desired} updated, ${e.ready} ready`,
        );
      }
    });
    publish(control, 'rollout.started', { rolloutId, trigger: 'verify', replicas: pods.length });
    log(`rollout ${rolloutId}: restarting Deployment ${config.namespace}/${config.deployment}`);
    const result = await deps.adapter.rolloutRestart(workload, {
      rolloutId,
      timeoutMs: config.rolloutTimeoutMs,
      ...(deps.signal ? { signal: deps.signal } : {}),
    });
    log(`rollout ${result.outcome}: ${result.podsReplaced} pod(s) replaced; tail ${config.tailMs} ms`);
    if (result.outcome !== 'aborted') await delay(config.tailMs, deps.signal);
    publish(control, 'rollout.finished', {
      rolloutId,
      outcome: result.outcome,
      podsReplaced: result.podsReplaced,
    });
    const summary = await stopProbe();
    await Promise.all(publishes);
    await deps.reports.settle?.(config.reportTimeoutMs);
    const report = await pollUntil(() => deps.reports.closedReport(rolloutId), {
      timeoutMs: config.reportTimeoutMs,
      intervalMs: 200,
      what: `the collector's report of ${rolloutId}`,
      fatal: () => false,
    }).catch((err: Error) => {
      throw new VerifyReportMissingError(err.message);
    });

    let threshold = config.gate;
    let source = `--gate ${config.gate}`;
    if (config.gateFromHistory) {
      const past = await deps.reports.pastScores(config.namespace, config.deployment, rolloutId);
      if (past.length >= config.minHistory) {
        threshold = historyThreshold(past, config.gateFromHistory);
        source = `${config.gateFromHistory} of ${past.length} past rollouts`;
      } else {
        source = `--gate ${config.gate} (only ${past.length} past rollout(s), ${config.minHistory} needed for ${config.gateFromHistory})`;
      }
    }
    const verdict = gateVerdict(report, threshold);
    return {
      rolloutId,
      report,
      gate: { ...verdict, source },
      probe: summary,
      rollout: { outcome: result.outcome, podsReplaced: result.podsReplaced },
      passed: verdict.passed && result.outcome === 'complete',
    };
  } finally {
    unwatch?.();
    await stopProbe().catch(() => undefined);
    await Promise.all(publishes);
  }
}
