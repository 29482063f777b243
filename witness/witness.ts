import type { NatsConnection } from '@nats-io/transport-node';
import type { ClusterAdapter, ClusterEvent, RolloutResult, WorkloadRef } from '../cluster/adapter.js';
import { type GateVerdict, gateVerdict, type RolloutReport } from '../collector/index.js';
import type { EventKind } from '../contract/index.js';
import type { EventData } from '../contract/validate.js';
import { delay, pollUntil } from '../lib/wait.js';
import {
  createProbeRun,
  type ProbeConfig,
  type ProbeRun,
  type ProbeSnapshot,
  type ProbeSummary,
} from '../probe/index.js';
import { VerifyNoPodsError, VerifyReportMissingError } from './errors.js';
import { createEvidence, type Evidence } from './evidence.js';
import { type GatePlan, resolveThreshold } from './gate.js';
import type { ReportSource } from './report-sources.js';

// Witnessing one rollout, for `rehearse` (local cluster) and `verify` (Kubernetes) alike: probes
// through the entry point, a baseline, the rollout triggered and followed through the adapter's
// events, a tail, then the collector's report and the gate. The callers build the adapter, the
// probe's settings and the report source; what differs between them is in the plan.

/** The live figures of a witnessed rollout, every PROGRESS_INTERVAL_MS and once at the end. */
export interface WitnessProgress {
  readonly podsReplaced: number;
  readonly sessionsOk: number;
  readonly sessionsLost: number;
  readonly requests: number;
  readonly errors: number;
  readonly elapsedMs: number;
}

export interface WitnessProgressSink {
  update(progress: WitnessProgress): void;
  /** The run is over (called at least once, possibly more). */
  done(): void;
}

export interface WitnessDeps {
  readonly nats: NatsConnection;
  /** Started here if it is not yet (start() is idempotent); the caller stops it. */
  readonly adapter: ClusterAdapter;
  readonly reports: ReportSource;
  /** Milliseconds, for the progress's elapsed time; Date.now by default. */
  readonly now?: () => number;
  readonly progress?: WitnessProgressSink;
  /** Progress lines (verify's stderr). */
  readonly log?: (line: string) => void;
  /** A failed publish of the witness's own events; without it the run fails with the error. */
  readonly onPublishError?: (kind: EventKind, err: Error) => void;
  readonly signal?: AbortSignal;
}

export interface WitnessPlan {
  readonly workload: WorkloadRef;
  /** Names the workload in log lines and errors, e.g. `Deployment shop/web`. */
  readonly subject: string;
  readonly subjectRoot: string;
  readonly trigger: EventData<'rollout.started'>['trigger'];
  /** Called once, when the rollout is triggered. */
  readonly rolloutId: () => string;
  /** More `rollout.started` fields; `replicas` is the pods found before the baseline unless given. */
  readonly rolloutDetails?: Omit<EventData<'rollout.started'>, 'rolloutId' | 'trigger'>;
  /** The probe's settings (namespace, workload and subject root are the plan's), read once the adapter has started. */
  readonly probe: () => Omit<ProbeConfig, 'namespace' | 'workload' | 'subjectRoot'>;
  /** Wait for every session's first login before the baseline starts. */
  readonly awaitSessions?: boolean;
  readonly baselineMs: number;
  /** Judges the traffic of the baseline; throws to stop before the rollout. */
  readonly checkBaseline?: (baseline: ProbeSnapshot) => void;
  readonly rolloutTimeoutMs: number;
  /** Probing after the rollout, so sessions re-routed at its very end get checked once more. */
  readonly tailMs: number;
  /** An aborted rollout skips the tail and is still reported; otherwise the abort propagates. */
  readonly reportAborted?: boolean;
  /**
   * `rollout.finished` (the end of the report's window) is published after the probe stopped, so
   * its last identity checks and summary (skew, stickiness) count; otherwise at the end of the tail.
   */
  readonly probeSummaryInWindow?: boolean;
  /** Judges the rollout's outcome once the probe stopped; throws to skip the report. */
  readonly checkRollout?: (result: RolloutResult) => void;
  /** How long the collector may take to apply the events and close the report. */
  readonly reportTimeoutMs: number;
  readonly gate?: GatePlan;
  /** `instance` of the witness's per-pod events. */
  readonly instance?: string;
  /** How endpoint propagation is seen, e.g. `endpointslices`. */
  readonly propagationVia: string;
}

export interface WitnessResult {
  readonly rolloutId: string;
  readonly rollout: RolloutResult;
  /** The probe's figures at the end of the baseline. */
  readonly baseline: ProbeSnapshot;
  readonly probe: ProbeSummary;
  readonly report: RolloutReport;
  readonly gate?: { readonly verdict: GateVerdict; readonly source: string };
  /** Pods deleted while the rollout ran, as the adapter saw them. */
  readonly podsReplaced: number;
  /** The longest endpoint propagation the adapter saw while the rollout ran (ms), null without any. */
  readonly propagationMaxMs: number | null;
}

export interface Witness {
  /** Witnesses one rollout of plan.workload; rejects with the first failure (the probe stopped). */
  run(plan: WitnessPlan): Promise<WitnessResult>;
}

export const PROGRESS_INTERVAL_MS = 500;
const REPORT_POLL_MS = 200;

/** What the adapter's events showed while the rollout ran. */
interface Followed {
  rolling: boolean;
  podsReplaced: number;
  propagationMaxMs: number | null;
}

export function createWitness(deps: WitnessDeps): Witness {
  return { run: (plan) => witnessRollout(deps, plan) };
}

async function baselineOf(
  deps: WitnessDeps,
  plan: WitnessPlan,
  probe: ProbeRun,
  config: ProbeConfig,
): Promise<ProbeSnapshot> {
  await probe.start();
  deps.log?.(`baseline: ${config.sessions} sessions against ${config.target} for ${plan.baselineMs} ms`);
  // Every session logs in before the rollout: sessions that never existed cannot be lost.
  if (plan.awaitSessions)
    await pollUntil(() => probe.snapshot().sessionsStarted >= config.sessions, {
      timeoutMs: 60_000 + config.sessions * 10,
      intervalMs: 100,
      what: `${config.sessions} probe sessions to log in`,
    });
  await delay(plan.baselineMs, deps.signal);
  const baseline = probe.snapshot();
  plan.checkBaseline?.(baseline);
  return baseline;
}

function follow(deps: WitnessDeps, evidence: Evidence, followed: Followed): () => void {
  return deps.adapter.watch((e: ClusterEvent) => {
    evidence.observe(e);
    if (followed.rolling && e.type === 'pod-deleted') followed.podsReplaced++;
    if (followed.rolling && e.type === 'endpoints-terminating')
      followed.propagationMaxMs = Math.max(followed.propagationMaxMs ?? 0, e.propagationMs);
    if (e.type === 'pod-terminating') deps.log?.(`pod ${e.pod.name} terminating`);
    else if (e.type === 'rollout-progress')
      deps.log?.(`rollout: ${e.updated}/${e.desired} updated, ${e.ready} ready`);
  });
}

async function rollOut(
  deps: WitnessDeps,
  plan: WitnessPlan,
  rolloutId: string,
  replicas: number,
  evidence: Evidence,
  followed: Followed,
): Promise<RolloutResult> {
  evidence.control('rollout.started', {
    rolloutId,
    trigger: plan.trigger,
    replicas,
    ...plan.rolloutDetails,
  });
  deps.log?.(`rollout ${rolloutId}: restarting ${plan.subject}`);
  followed.rolling = true;
  const result = await deps.adapter.rolloutRestart(plan.workload, {
    rolloutId,
    timeoutMs: plan.rolloutTimeoutMs,
    ...(deps.signal ? { signal: deps.signal } : {}),
  });
  followed.rolling = false;
  deps.log?.(`rollout ${result.outcome}: ${result.podsReplaced} pod(s) replaced; tail ${plan.tailMs} ms`);
  if (result.outcome !== 'aborted' || !plan.reportAborted) await delay(plan.tailMs, deps.signal);
  return result;
}

async function reportOf(deps: WitnessDeps, plan: WitnessPlan, rolloutId: string): Promise<RolloutReport> {
  await deps.reports.settle?.(plan.reportTimeoutMs);
  return pollUntil(() => deps.reports.closedReport(rolloutId), {
    timeoutMs: plan.reportTimeoutMs,
    intervalMs: REPORT_POLL_MS,
    what: `the collector's report of ${rolloutId}`,
    fatal: () => false,
  }).catch((err: Error) => {
    throw new VerifyReportMissingError(err.message);
  });
}

/** Reports the probe's figures and the pods replaced so far to deps.progress. */
function progressOf(deps: WitnessDeps, probe: ProbeRun, followed: Followed, startedMs: number): () => void {
  const now = deps.now ?? Date.now;
  return () => {
    const s = probe.snapshot();
    deps.progress?.update({
      podsReplaced: followed.podsReplaced,
      sessionsOk: s.sessionsOk,
      sessionsLost: s.sessionsLost,
      requests: s.requests,
      errors: s.failed,
      elapsedMs: now() - startedMs,
    });
  };
}

/** The gate's verdict; a probe that flagged itself overloaded makes it inconclusive even when its summary fell outside the report's window. */
function verdictOf(report: RolloutReport, probe: ProbeSummary, threshold: number): GateVerdict {
  return gateVerdict(
    { ...report, inconclusive: report.inconclusive ?? probe.unreliableReason ?? null },
    threshold,
  );
}

async function witnessRollout(deps: WitnessDeps, plan: WitnessPlan): Promise<WitnessResult> {
  const started = (deps.now ?? Date.now)();
  const { workload } = plan;
  await deps.adapter.start();
  const pods = await deps.adapter.pods(workload);
  if (pods.length === 0) throw new VerifyNoPodsError(`${plan.subject} has no pods to restart`);
  const config: ProbeConfig = {
    ...plan.probe(),
    namespace: workload.namespace,
    workload: workload.name,
    subjectRoot: plan.subjectRoot,
  };
  const probe = createProbeRun(config, { nats: deps.nats });
  const evidence = createEvidence({
    nats: deps.nats,
    subjectRoot: plan.subjectRoot,
    workload,
    via: plan.propagationVia,
    ...(plan.instance !== undefined ? { instance: plan.instance } : {}),
    ...(deps.onPublishError ? { onError: deps.onPublishError } : {}),
  });
  const followed: Followed = { rolling: false, podsReplaced: 0, propagationMaxMs: null };
  const show = progressOf(deps, probe, followed, started);
  const timer = deps.progress ? setInterval(show, PROGRESS_INTERVAL_MS) : undefined;
  timer?.unref();
  let unwatch: (() => void) | undefined;
  try {
    const baseline = await baselineOf(deps, plan, probe, config);
    const rolloutId = plan.rolloutId();
    unwatch = follow(deps, evidence, followed);
    const rollout = await rollOut(deps, plan, rolloutId, pods.length, evidence, followed);
    const finished = () =>
      evidence.control('rollout.finished', {
        rolloutId,
        outcome: rollout.outcome,
        podsReplaced: rollout.podsReplaced,
      });
    if (!plan.probeSummaryInWindow) finished();
    const summary = await probe.stop();
    show();
    if (plan.probeSummaryInWindow) finished();
    await evidence.settle();
    clearInterval(timer);
    deps.progress?.done();
    plan.checkRollout?.(rollout);
    const report = await reportOf(deps, plan, rolloutId);
    const gate = plan.gate ? await resolveThreshold(plan.gate, deps.reports, workload, rolloutId) : undefined;
    return {
      rolloutId,
      rollout,
      baseline,
      probe: summary,
      report,
      ...(gate ? { gate: { verdict: verdictOf(report, summary, gate.threshold), source: gate.source } } : {}),
      podsReplaced: followed.podsReplaced,
      propagationMaxMs: followed.propagationMaxMs,
    };
  } finally {
    clearInterval(timer);
    deps.progress?.done();
    unwatch?.();
    // After a failure the probe may still run; stop() returns the same promise after success.
    await probe.stop().catch(() => undefined);
    await evidence.settle().catch(() => undefined);
  }
}
