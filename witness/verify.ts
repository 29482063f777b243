import type { NatsConnection } from '@nats-io/transport-node';
import type { ClusterAdapter } from '../cluster/adapter.js';
import type { GateVerdict, RolloutReport } from '../collector/index.js';
import type { ProbeSummary } from '../probe/index.js';
import { checkVerifyConfig, VERIFY_PROBE_LAG_MS, type VerifyConfig } from './config.js';
import { VerifyBaselineError } from './errors.js';
import type { ReportSource } from './report-sources.js';
import { createWitness } from './witness.js';

// `drainwatch verify`: a witnessed `rollout restart` of a Kubernetes Deployment, through the real
// entry point, gated on session persistence. The CLI builds the adapter, NATS connection and
// report source; what is verify's own is here (its settings are in config.ts): the baseline check,
// reporting an interrupted rollout, and the result.

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

export async function runVerify(config: VerifyConfig, deps: VerifyDeps): Promise<VerifyResult> {
  checkVerifyConfig(config);
  const log = deps.log ?? (() => undefined);
  const witness = createWitness({
    adapter: deps.adapter,
    nats: deps.nats,
    reports: deps.reports,
    log,
    onPublishError: (kind, err) => log(`could not publish ${kind}: ${err.message}`),
    ...(deps.signal ? { signal: deps.signal } : {}),
  });
  const w = await witness.run({
    workload: { namespace: config.namespace, name: config.deployment },
    subject: `Deployment ${config.namespace}/${config.deployment}`,
    subjectRoot: config.subjectRoot,
    trigger: 'verify',
    rolloutId: () =>
      `verify-${config.deployment}-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}`,
    probe: () => ({
      target: config.target,
      sessions: config.sessions,
      lagThresholdMs: VERIFY_PROBE_LAG_MS,
      ...(config.websockets !== undefined ? { websockets: config.websockets } : {}),
      ...(config.scenario ? { scenario: config.scenario } : {}),
    }),
    baselineMs: config.baselineMs,
    checkBaseline: (base) => {
      if (base.requests === 0 || base.sessionsStarted === 0)
        throw new VerifyBaselineError(
          `no probe traffic reached ${config.target} during the baseline (${base.sessionsStarted} sessions, ${base.requests} requests)`,
        );
      if (base.sessionsLost > 0)
        log(`warning: ${base.sessionsLost} session(s) already lost before the rollout (baseline)`);
    },
    rolloutTimeoutMs: config.rolloutTimeoutMs,
    tailMs: config.tailMs,
    // An interrupted verify still reports what the users saw up to then.
    reportAborted: true,
    reportTimeoutMs: config.reportTimeoutMs,
    gate: {
      threshold: config.gate,
      ...(config.gateFromHistory ? { fromHistory: config.gateFromHistory } : {}),
      minHistory: config.minHistory,
    },
    instance: 'verify',
    propagationVia: 'endpointslices',
  });
  const gate = w.gate!;
  return {
    rolloutId: w.rolloutId,
    report: w.report,
    gate: { ...gate.verdict, source: gate.source },
    probe: w.probe,
    rollout: { outcome: w.rollout.outcome, podsReplaced: w.rollout.podsReplaced },
    passed: gate.verdict.passed && w.rollout.outcome === 'complete',
  };
}
