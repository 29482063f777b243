import type { NatsConnection } from '@nats-io/transport-node';
import { createLocalCluster } from '../cluster/local/cluster.js';
import type { EntryActivity, EntryKind } from '../cluster/local/entry-activity.js';
import type { BalanceStrategy } from '../cluster/local/entrypoint.js';
import { formatPropagation, type PropagationRange } from '../cluster/local/propagation.js';
import { createPassthroughLauncher, type SidecarLauncher } from '../cluster/local/sidecar.js';
import type { Collector, GrpcFigures } from '../collector/index.js';
import type { PrestopPolicy } from '../contract/index.js';
import { type ProbeConfig, type Scenario, skewedUsers } from '../probe/index.js';
import { createWitness, storeReportSource, type Threshold, type WitnessResult } from '../witness/index.js';
import { createAgentLauncher } from './agent-sidecar.js';
import { RehearseConfigError, RolloutFailedError } from './errors.js';
import type { ProgressDisplay } from './progress.js';
import { failurePct, type GrpcRunFigures, type RehearsalRun, skewOver } from './result.js';
import type { RehearseProtocol, SidecarKind, UserMix } from './settings.js';

// One rehearsal run: a local workload behind its entry point, probes through the entry point, a
// real rolling update witnessed (witness/), and the collector's report of what the probes lost
// and why.

export interface RunSpec {
  readonly label: string;
  /** Shell command of the app. */
  readonly command: string;
  /** How the table names the app. */
  readonly appLabel: string;
  /** Extra environment of the app (the flaw switches of the example). */
  readonly appEnv: Readonly<Record<string, string>>;
  readonly readyPath: string;
  /** `grpc`: the entry point balances connections and readiness is a TCP connect (docs/grpc.md). */
  readonly protocol: RehearseProtocol;
  /** false: the pod has no preStop hook (the naive gRPC run: rehearse/grpc.ts). */
  readonly prestopHook?: boolean;
  readonly replicas: number;
  readonly maxSurge: number;
  readonly maxUnavailable: number;
  readonly balance: BalanceStrategy;
  /** The balancer in front of the pods. */
  readonly entry: EntryKind;
  readonly propagation: PropagationRange;
  readonly graceMs: number;
  /** The sidecar's preStop as the table shows it: `adaptive`, `fixed:<s>`, or `none`. */
  readonly prestop: string;
  /** The sidecar's preStop (`none` is a fixed wait of 0). */
  readonly prestopPolicy: PrestopPolicy;
  readonly sidecar: SidecarKind;
  readonly sessions: number;
  readonly websockets?: string;
  readonly rate: number;
  readonly userMix: UserMix;
  readonly scenario?: Scenario;
  readonly warmupMs: number;
  readonly timeoutMs: number;
  readonly seed: number;
  readonly namespace: string;
  readonly workload: string;
  readonly gate?: number;
  /** Judged on this run's report once it ran (comparison.ts). */
  readonly thresholds?: readonly Threshold[];
}

export interface RunContext {
  readonly natsUrl: string;
  readonly redisUrl: string;
  readonly nats: NatsConnection;
  /** Started, consuming the same subject root. */
  readonly collector: Collector;
  readonly subjectRoot: string;
  readonly progress?: ProgressDisplay;
  /** App and agent output lines, for `--verbose`-style logs. */
  readonly onOutput?: (source: string, line: string) => void;
  readonly signal?: AbortSignal;
}

// Generous: a shared 2-core machine under load is slow, not broken.
const DRAIN_TIMEOUT_MS = 60_000;
/** Heavy users of a skewed mix: this share of the sessions sends this many times the traffic. */
const HEAVY_FRACTION = 0.1;
const HEAVY_WEIGHT = 20;
const PROBE_LAG_THRESHOLD_MS = 500;
const READY_TIMEOUT_MS = 60_000;
const IDENTITY_INTERVAL_MS = 1000;
const COOLDOWN_MS = 2 * IDENTITY_INTERVAL_MS;

function sidecarFor(spec: RunSpec, ctx: RunContext): SidecarLauncher {
  if (spec.sidecar === 'passthrough') {
    const policy = spec.prestopPolicy;
    if (policy.mode === 'adaptive')
      throw new RehearseConfigError(
        'prestop',
        'adaptive preStop needs the agent; use fixed:<s> with --sidecar passthrough',
      );
    return createPassthroughLauncher({ prestopMs: Math.round(policy.seconds * 1000) });
  }
  return createAgentLauncher({
    natsUrl: ctx.natsUrl,
    subjectRoot: ctx.subjectRoot,
    prestop: spec.prestopPolicy,
    ...(spec.prestopHook === false ? { prestopHook: false } : {}),
    ...(ctx.onOutput ? { onOutput: (pod: string, line: string) => ctx.onOutput!(`agent ${pod}`, line) } : {}),
  });
}

function rolloutIdOf(label: string): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\..+$/, '');
  // A label may name its entry point (`naive/nginx`): ids keep to letters, digits and dashes.
  return `rehearse-${label.replace(/[^A-Za-z0-9-]/g, '-')}-${t}-${Math.random().toString(36).slice(2, 6)}`;
}

export async function runRehearsal(spec: RunSpec, ctx: RunContext): Promise<RehearsalRun> {
  const rolloutId = rolloutIdOf(spec.label);
  const cluster = createLocalCluster({
    workload: { namespace: spec.namespace, name: spec.workload },
    command: spec.command,
    env: { ...spec.appEnv, NATS_URL: ctx.natsUrl, REDIS_URL: ctx.redisUrl },
    replicas: spec.replicas,
    readyPath: spec.readyPath,
    // gRPC: kube-proxy's per-connection balancing, and the kubelet's tcpSocket probe.
    ...(spec.protocol === 'grpc' ? { entryMode: 'tcp', readiness: 'tcp-socket' } : {}),
    sidecar: sidecarFor(spec, ctx),
    balance: spec.balance,
    entry: spec.entry,
    propagation: spec.propagation,
    graceMs: spec.graceMs,
    maxSurge: spec.maxSurge,
    maxUnavailable: spec.maxUnavailable,
    seed: spec.seed,
    readyTimeoutMs: READY_TIMEOUT_MS,
    ...(ctx.onOutput ? { onOutput: (pod: string, line: string) => ctx.onOutput!(`app ${pod}`, line) } : {}),
  });
  const progress = ctx.progress;
  const witness = createWitness({
    nats: ctx.nats,
    adapter: cluster,
    reports: storeReportSource(ctx.collector.store, ctx.collector),
    ...(progress
      ? {
          progress: {
            update: (p) => progress.update({ label: spec.label, podsTotal: spec.replicas, ...p }),
            done: () => progress.done(),
          },
        }
      : {}),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  try {
    // The witness would start the pods too; started here, the wait shows as a step.
    progress?.step(
      `[${spec.label}] starting ${spec.replicas} pods of ${spec.appLabel}, waiting for them to be ready`,
    );
    await cluster.start();
    progress?.step(`[${spec.label}] logging in ${spec.sessions} probe sessions`);
    const w = await witness.run({
      workload: { namespace: spec.namespace, name: spec.workload },
      subject: `workload ${spec.namespace}/${spec.workload}`,
      subjectRoot: ctx.subjectRoot,
      trigger: 'rehearse',
      rolloutId: () => rolloutId,
      rolloutDetails: {
        replicas: spec.replicas,
        maxSurge: spec.maxSurge,
        maxUnavailable: spec.maxUnavailable,
        label: spec.label,
      },
      probe: () => probeOf(spec, rolloutId, cluster.entrypointUrl()),
      awaitSessions: true,
      // Baseline traffic before the rollout, so sticky routing and skew have something to show.
      baselineMs: spec.warmupMs,
      rolloutTimeoutMs: spec.timeoutMs,
      tailMs: COOLDOWN_MS,
      probeSummaryInWindow: true,
      checkRollout: (result) => {
        if (result.outcome !== 'complete') throw new RolloutFailedError(spec.label, result.outcome);
      },
      reportTimeoutMs: DRAIN_TIMEOUT_MS,
      ...(spec.gate !== undefined ? { gate: { threshold: spec.gate } } : {}),
      // The adapter's view of endpoint propagation becomes evidence for the collector, as the
      // Kubernetes adapter's EndpointSlice watch would.
      propagationVia: `${spec.entry} entry point (${spec.balance})`,
    });
    // Read while the balancer still runs: its stats go with it.
    const running = (await cluster.pods({ namespace: spec.namespace, name: spec.workload }))
      .filter((p) => p.phase === 'running')
      .map((p) => p.name);
    const run = toRun(spec, w, await cluster.entryActivity());
    return w.report.grpc
      ? { ...run, grpc: grpcRunFigures(w.report.grpc, w.report.streamEnds, running) }
      : run;
  } finally {
    await cluster.stop();
  }
}

function probeOf(
  spec: RunSpec,
  rolloutId: string,
  target: string,
): Omit<ProbeConfig, 'namespace' | 'workload' | 'subjectRoot'> {
  return {
    target,
    sessions: spec.sessions,
    ...(spec.websockets !== undefined ? { websockets: spec.websockets } : {}),
    ratePerSession: spec.rate,
    runId: rolloutId,
    // Every pod, agent and the collector share this machine's cores with the probe: lag
    // up to half a second is load, not a probe too slow to judge a 5 s request timeout.
    lagThresholdMs: PROBE_LAG_THRESHOLD_MS,
    // A rollout takes seconds: identity is checked often enough to see a session lost in it.
    identityIntervalMs: IDENTITY_INTERVAL_MS,
    // gRPC: each failed call is sent once more (as a client's retry policy would), so the table can
    // say how many a retrying client would have hidden; it stays counted failed.
    ...(spec.protocol === 'grpc' ? { retryOnce: true } : {}),
    ...(spec.scenario ? { scenario: spec.scenario } : {}),
    ...(spec.userMix === 'skewed'
      ? {
          users: skewedUsers({
            prefix: `${spec.label}-user-`,
            sessions: spec.sessions,
            heavyFraction: HEAVY_FRACTION,
            heavyWeight: HEAVY_WEIGHT,
          }),
        }
      : {}),
  };
}

function grpcRunFigures(
  g: GrpcFigures,
  streamEnds: Readonly<Record<string, number>>,
  running: readonly string[],
): GrpcRunFigures {
  const streamsCut = Object.values(g.streamsCutByCause).reduce((a, b) => a + b, 0);
  return {
    calls: g.calls,
    unavailable: g.unavailable,
    failedByStatus: g.failedByStatus,
    retried: g.retried,
    retriedOk: g.retriedOk,
    streamsCut,
    streamsCutByCause: g.streamsCutByCause,
    streamsDrained: streamEnds['server-closed'] ?? 0,
    skewAfterRollout: skewOver(running, g.callsByPodAfterRollout),
    podsAfterRollout: running.length,
    podsAnsweringAfterRollout: running.filter((p) => (g.callsByPodAfterRollout[p] ?? 0) > 0).length,
  };
}

function toRun(spec: RunSpec, w: WitnessResult, entry: EntryActivity): RehearsalRun {
  const { report, probe } = w;
  const sessionPersistence = report.scores.sessionPersistence;
  return {
    label: spec.label,
    rolloutId: w.rolloutId,
    settings: {
      app: spec.appLabel,
      replicas: spec.replicas,
      balance: spec.balance,
      entry: spec.entry,
      propagation: formatPropagation(spec.propagation),
      graceSeconds: spec.graceMs / 1000,
      prestop: spec.prestop,
      userMix: spec.userMix,
      sidecar: spec.sidecar,
    },
    outcome: report.outcome,
    entry,
    durationSeconds: (w.rollout.finishedAt.getTime() - w.rollout.startedAt.getTime()) / 1000,
    podsReplaced: report.podsReplaced,
    probeRequests: { ...report.probeRequests },
    failurePct: failurePct(report.probeRequests.total, report.probeRequests.failed),
    sessions: { active: report.sessions.active, lost: report.sessions.lost },
    sessionPersistence,
    requestSuccess: report.scores.requestSuccess,
    cleanTerminations: report.scores.cleanTerminations,
    inFlightLost: report.inFlightLost,
    inFlightCutAllTraffic: report.inFlightCut,
    baseline: {
      failed: report.baseline.failed,
      requests: report.baseline.requests,
      sessionsLost: report.baseline.sessionsLost,
      failedByCause: report.baseline.failedByCause,
      sessionsLostByCause: report.baseline.sessionsLostByCause,
    },
    healthChecks: report.healthChecks,
    // Without an agent (passthrough) only the probes saw how their WebSockets ended.
    websocketOutcomes:
      spec.sidecar === 'agent' ? report.websocketOutcomes.atTermination : report.websocketOutcomes.probe,
    lateArrivals: report.lateArrivals,
    websocketCloses: probe.websockets.closesByCode,
    messagesLost: report.messagesLost,
    streamEnds: report.streamEndsAtTermination,
    messagesLostAtTermination: report.messagesLostAtTermination,
    messagesResent: report.messagesResent,
    failedByCause: report.failedByCause,
    sessionsLostByCause: report.sessions.lostByCause,
    trafficSkew: report.trafficSkew ?? probe.runSkewRatio,
    stickyRouting: report.stickyRouting,
    prestopP50Ms: report.prestop.p50Ms,
    latency: { p50Ms: report.latency.p50Ms, p95Ms: report.latency.p95Ms, p99Ms: report.latency.p99Ms },
    steadySkew: w.baseline.runSkewRatio,
    // The adapter saw every propagation itself; the report's figure is the same events.
    propagationMaxMs: report.endpointPropagation.maxMs ?? w.propagationMaxMs,
    unreliable: probe.unreliableReason,
    inconclusive: report.inconclusive ?? probe.unreliableReason,
    // The witness's verdict: the collector's gate, made inconclusive by an overloaded probe.
    ...(w.gate ? { gate: w.gate.verdict } : {}),
    // The report as the collector's API gives it with the gate asked for.
    report: w.gate ? { ...report, gate: w.gate.verdict } : report,
  };
}
