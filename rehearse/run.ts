import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import type { ClusterEvent } from '../cluster/adapter.js';
import { createLocalCluster } from '../cluster/local/cluster.js';
import type { BalanceStrategy } from '../cluster/local/entrypoint.js';
import { formatPropagation, type PropagationRange } from '../cluster/local/propagation.js';
import { createPassthroughLauncher, type SidecarLauncher } from '../cluster/local/sidecar.js';
import type { Collector, RolloutReport } from '../collector/index.js';
import type { PrestopPolicy } from '../contract/agent-settings.js';
import { createEventSequencer, type EventSequencer } from '../contract/envelope.js';
import type { EventData, EventKind } from '../contract/events.js';
import { publishEvent } from '../lib/jetstream.js';
import { delay, pollUntil } from '../lib/wait.js';
import { createProbeRun, type ProbeRun, type Scenario, skewedUsers } from '../probe/index.js';
import { createAgentLauncher } from './agent-sidecar.js';
import type { SidecarKind, UserMix } from './config.js';
import { RehearseConfigError, RolloutFailedError } from './errors.js';
import type { ProgressDisplay } from './progress.js';
import { failurePct, gateOf, type RehearsalRun } from './result.js';

// One rehearsal run: a local workload behind its entry point, probes through the entry point, a
// real rolling update, and the collector's report of what the probes lost and why.

export interface RunSpec {
  readonly label: string;
  /** Shell command of the app. */
  readonly command: string;
  /** How the table names the app. */
  readonly appLabel: string;
  /** Extra environment of the app (the flaw switches of the example). */
  readonly appEnv: Readonly<Record<string, string>>;
  readonly readyPath: string;
  readonly replicas: number;
  readonly maxSurge: number;
  readonly maxUnavailable: number;
  readonly balance: BalanceStrategy;
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
    ...(ctx.onOutput ? { onOutput: (pod: string, line: string) => ctx.onOutput!(`agent ${pod}`, line) } : {}),
  });
}

function rolloutIdOf(label: string): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\..+$/, '');
  return `rehearse-${label}-${t}-${Math.random().toString(36).slice(2, 6)}`;
}

export async function runRehearsal(spec: RunSpec, ctx: RunContext): Promise<RehearsalRun> {
  const rolloutId = rolloutIdOf(spec.label);
  const js = jetstream(ctx.nats);
  const control = createEventSequencer({ namespace: spec.namespace, workload: spec.workload, pod: null });
  const podSequencers = new Map<string, EventSequencer>();
  const publishes: Promise<unknown>[] = [];
  const publish = <K extends EventKind>(seq: EventSequencer, kind: K, data: EventData<K>): void => {
    publishes.push(publishEvent(js, seq.next(kind, data), { root: ctx.subjectRoot }));
  };

  const cluster = createLocalCluster({
    workload: { namespace: spec.namespace, name: spec.workload },
    command: spec.command,
    env: { ...spec.appEnv, NATS_URL: ctx.natsUrl, REDIS_URL: ctx.redisUrl },
    replicas: spec.replicas,
    readyPath: spec.readyPath,
    sidecar: sidecarFor(spec, ctx),
    balance: spec.balance,
    propagation: spec.propagation,
    graceMs: spec.graceMs,
    maxSurge: spec.maxSurge,
    maxUnavailable: spec.maxUnavailable,
    seed: spec.seed,
    readyTimeoutMs: READY_TIMEOUT_MS,
    ...(ctx.onOutput ? { onOutput: (pod: string, line: string) => ctx.onOutput!(`app ${pod}`, line) } : {}),
  });

  let podsReplaced = 0;
  let rolling = false;
  let localPropagationMaxMs: number | null = null;
  cluster.watch((e: ClusterEvent) => {
    if (!rolling) return;
    if (e.type === 'pod-deleted') podsReplaced++;
    // The adapter's view of endpoint propagation becomes evidence for the collector, as the
    // Kubernetes adapter's EndpointSlice watch would.
    if (e.type === 'endpoints-terminating') {
      localPropagationMaxMs = Math.max(localPropagationMaxMs ?? 0, e.propagationMs);
      let seq = podSequencers.get(e.pod.name);
      if (!seq) {
        seq = createEventSequencer({ namespace: e.pod.namespace, workload: e.pod.workload, pod: e.pod.name });
        podSequencers.set(e.pod.name, seq);
      }
      publish(seq, 'endpoints.propagated', {
        deletionAt: new Date(e.at.getTime() - e.propagationMs).toISOString(),
        terminatingAt: e.at.toISOString(),
        propagationMs: e.propagationMs,
        via: `local entry point (${spec.balance})`,
      });
    }
  });

  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  let probe: ProbeRun | undefined;
  try {
    await cluster.start();
    probe = createProbeRun(
      {
        target: cluster.entrypointUrl(),
        sessions: spec.sessions,
        ...(spec.websockets !== undefined ? { websockets: spec.websockets } : {}),
        ratePerSession: spec.rate,
        namespace: spec.namespace,
        workload: spec.workload,
        runId: rolloutId,
        subjectRoot: ctx.subjectRoot,
        // Every pod, agent and the collector share this machine's cores with the probe: lag
        // up to half a second is load, not a probe too slow to judge a 5 s request timeout.
        lagThresholdMs: PROBE_LAG_THRESHOLD_MS,
        // A rollout takes seconds: identity is checked often enough to see a session lost in it.
        identityIntervalMs: IDENTITY_INTERVAL_MS,
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
      },
      { nats: ctx.nats },
    );
    const running = probe;
    const show = (): void => {
      const s = running.snapshot();
      ctx.progress?.update({
        label: spec.label,
        podsReplaced,
        podsTotal: spec.replicas,
        sessionsOk: s.sessionsOk,
        sessionsLost: s.sessionsLost,
        requests: s.requests,
        errors: s.failed,
        elapsedMs: Date.now() - started,
      });
    };
    timer = setInterval(show, 500);
    timer.unref();
    await running.start();
    // Every session logs in before the rollout: sessions that never existed cannot be lost.
    await pollUntil(() => running.snapshot().sessionsStarted >= spec.sessions, {
      timeoutMs: 60_000 + spec.sessions * 10,
      intervalMs: 100,
      what: `${spec.sessions} probe sessions to log in`,
    });
    // Baseline traffic before the rollout, so sticky routing and skew have something to show.
    await delay(spec.warmupMs, ctx.signal);
    const steadySkew = running.snapshot().runSkewRatio;

    publish(control, 'rollout.started', {
      rolloutId,
      trigger: 'rehearse',
      replicas: spec.replicas,
      maxSurge: spec.maxSurge,
      maxUnavailable: spec.maxUnavailable,
      label: spec.label,
    });
    rolling = true;
    const result = await cluster.rolloutRestart(
      { namespace: spec.namespace, name: spec.workload },
      { rolloutId, timeoutMs: spec.timeoutMs, ...(ctx.signal ? { signal: ctx.signal } : {}) },
    );
    rolling = false;
    // Sessions re-routed at the very end must get one more identity check to show their loss.
    await delay(COOLDOWN_MS, ctx.signal);
    const summary = await running.stop();
    show();
    publish(control, 'rollout.finished', {
      rolloutId,
      outcome: result.outcome,
      podsReplaced: result.podsReplaced,
    });
    await Promise.all(publishes);
    clearInterval(timer);
    ctx.progress?.done();
    if (result.outcome !== 'complete') throw new RolloutFailedError(spec.label, result.outcome);
    await ctx.collector.drain(DRAIN_TIMEOUT_MS);
    const report = await pollUntil(
      async () => {
        const r = await ctx.collector.store.getReport(
          rolloutId,
          spec.gate !== undefined ? { gate: spec.gate } : {},
        );
        return r && r.outcome !== 'open' ? r : undefined;
      },
      { timeoutMs: DRAIN_TIMEOUT_MS, intervalMs: 200, what: `the collector's report of ${rolloutId}` },
    );
    const durationSeconds = (result.finishedAt.getTime() - result.startedAt.getTime()) / 1000;
    return toRun(spec, rolloutId, report, durationSeconds, {
      closesByCode: summary.websockets.closesByCode,
      unreliable: summary.unreliableReason,
      skew: summary.runSkewRatio,
      steadySkew,
      propagationMaxMs: localPropagationMaxMs,
    });
  } finally {
    if (timer) clearInterval(timer);
    ctx.progress?.done();
    // After a failure the probe may still run; stop() is idempotent after success.
    await probe?.stop().catch(() => {});
    await cluster.stop();
  }
}

function toRun(
  spec: RunSpec,
  rolloutId: string,
  report: RolloutReport,
  durationSeconds: number,
  local: {
    closesByCode: Readonly<Record<string, number>>;
    unreliable: string | null;
    skew: number | null;
    steadySkew: number | null;
    propagationMaxMs: number | null;
  },
): RehearsalRun {
  const sessionPersistence = report.scores.sessionPersistence;
  return {
    label: spec.label,
    rolloutId,
    settings: {
      app: spec.appLabel,
      replicas: spec.replicas,
      balance: spec.balance,
      propagation: formatPropagation(spec.propagation),
      graceSeconds: spec.graceMs / 1000,
      prestop: spec.prestop,
      userMix: spec.userMix,
      sidecar: spec.sidecar,
    },
    outcome: report.outcome,
    durationSeconds,
    podsReplaced: report.podsReplaced,
    probeRequests: { ...report.probeRequests },
    failurePct: failurePct(report.probeRequests.total, report.probeRequests.failed),
    sessions: { active: report.sessions.active, lost: report.sessions.lost },
    sessionPersistence,
    requestSuccess: report.scores.requestSuccess,
    cleanTerminations: report.scores.cleanTerminations,
    inFlightLost: report.inFlightCut,
    lateArrivals: report.lateArrivals,
    websocketCloses: local.closesByCode,
    messagesLost: report.messagesLost,
    failedByCause: report.failedByCause,
    sessionsLostByCause: report.sessions.lostByCause,
    trafficSkew: report.trafficSkew ?? local.skew,
    stickyRouting: report.stickyRouting,
    prestopP50Ms: report.prestop.p50Ms,
    steadySkew: local.steadySkew,
    // The adapter saw every propagation itself; the report's figure is the same events.
    propagationMaxMs: report.endpointPropagation.maxMs ?? local.propagationMaxMs,
    unreliable: local.unreliable,
    ...(spec.gate !== undefined ? { gate: gateOf({ sessionPersistence }, spec.gate) } : {}),
    report,
  };
}
