import { Command, Option } from 'commander';
import type { KubernetesAdapter } from '../../cluster/kubernetes/index.js';
import { DEFAULT_STREAM_NAME, DEFAULT_SUBJECT_ROOT } from '../../contract/index.js';
import { formatDurationMs, settingName } from '../../lib/values.js';
import { PROBE_ENV, websocketSpecProblem } from '../../probe/config.js';
import { type TimelineFlags, timelineFlag, wantsTimeline } from '../../timeline/flags.js';
import { DEFAULT_VERIFY_CONFIG } from '../../witness/config.js';
import { HISTORY_PERCENTILE } from '../../witness/gate.js';
import { REPORT_FIGURES } from '../../witness/threshold-figures.js';
import { evaluateThresholds, formatThresholdSummary } from '../../witness/thresholds.js';
import { RuntimeFailure } from '../errors.js';
import { durationMs, positiveInt, score, url } from '../parse.js';
import { type RedisTargetFlags, redisTargetIssue, redisTargetOptions } from '../redis-target.js';
import { action, optionsOf } from '../run.js';
import { thresholdOption, thresholdsOf, verdictsExitCode, withThresholds } from '../thresholds.js';
import {
  type Cleanup,
  connectVerifyNats,
  formatVerifyResult,
  openReportSource,
  type VerifyWiringFlags,
} from './verify-wiring.js';

interface VerifyFlags extends TimelineFlags, VerifyWiringFlags {
  namespace?: string;
  deployment?: string;
  target?: string;
  sessions: number;
  websockets?: string;
  scenario?: string;
  gate: number;
  gateFromHistory?: string;
  baseline: number;
  tail: number;
  timeout: number;
  kubeconfig?: string;
  context?: string;
  json?: boolean;
  threshold?: string[];
}

const D = DEFAULT_VERIFY_CONFIG;

export function createVerifyCommand(): Command {
  const cmd: Command = new Command('verify')
    .description(
      'Probe a Kubernetes Deployment through a rollout restart and gate on the session-persistence score (exit 1 when the gate fails, 4 when the run is inconclusive).',
    )
    .addOption(new Option('--namespace <ns>', 'namespace').env('DRAINWATCH_NAMESPACE'))
    .addOption(new Option('--deployment <name>', 'Deployment to restart').env('DRAINWATCH_DEPLOYMENT'))
    .addOption(
      new Option('--target <url>', 'the service entry point')
        .env(PROBE_ENV.target)
        .argParser(url(['http', 'https'])),
    )
    .addOption(
      new Option('--sessions <n>', 'synthetic users')
        .env(PROBE_ENV.sessions)
        .argParser(positiveInt)
        .default(D.sessions),
    )
    .addOption(
      new Option('--websockets <n>', 'sessions that keep a WebSocket (count, fraction or %)').env(
        PROBE_ENV.websockets,
      ),
    )
    .addOption(new Option('--scenario <file>', 'probe scenario YAML').env(PROBE_ENV.scenario))
    .addOption(
      new Option('--gate <score>', 'session-persistence threshold (0..1 or %)')
        .env('DRAINWATCH_GATE')
        .argParser(score)
        .default(D.gate),
    )
    .addOption(
      new Option('--gate-from-history <pNN>', "threshold from this workload's past rollouts, e.g. p95")
        .env('DRAINWATCH_GATE_FROM_HISTORY')
        .conflicts('gate'),
    )
    .addOption(
      new Option('--baseline <d>', 'probe time before the restart')
        .env('DRAINWATCH_BASELINE')
        .argParser(durationMs)
        .default(D.baselineMs, formatDurationMs(D.baselineMs)),
    )
    .addOption(
      new Option('--tail <d>', 'probe time after the rollout completed')
        .env('DRAINWATCH_TAIL')
        .argParser(durationMs)
        .default(D.tailMs, formatDurationMs(D.tailMs)),
    )
    .addOption(
      new Option('--timeout <d>', 'give up on the rollout after this long')
        .env('DRAINWATCH_ROLLOUT_TIMEOUT')
        .argParser(durationMs)
        .default(D.rolloutTimeoutMs, formatDurationMs(D.rolloutTimeoutMs)),
    )
    .addOption(
      new Option(
        '--kubeconfig <file>',
        'kubeconfig file (default: KUBECONFIG, ~/.kube/config, in-cluster)',
      ).env('DRAINWATCH_KUBECONFIG'),
    )
    .addOption(new Option('--context <name>', 'kubeconfig context').env('DRAINWATCH_KUBE_CONTEXT'))
    .addOption(
      new Option('--nats-url <url>', 'NATS with JetStream (default: start one on loopback)')
        .env('NATS_URL')
        .argParser(url(['nats', 'tls'])),
    )
    .addOption(
      new Option('--redis-url <url>', 'Redis for the in-process collector (default: start one on loopback)')
        .env('REDIS_URL')
        .argParser(url(['redis', 'rediss'])),
    );
  // The other ways to name Redis, right after --redis-url in --help.
  for (const o of redisTargetOptions()) cmd.addOption(o);
  cmd
    .addOption(
      new Option('--redis-prefix <prefix>', 'key prefix')
        .env('DRAINWATCH_REDIS_PREFIX')
        .default('drainwatch:'),
    )
    .addOption(
      new Option('--subject-root <root>', 'NATS subject root')
        .env('DRAINWATCH_SUBJECT_ROOT')
        .default(DEFAULT_SUBJECT_ROOT),
    )
    .addOption(
      new Option('--stream <name>', 'JetStream stream').env('DRAINWATCH_STREAM').default(DEFAULT_STREAM_NAME),
    )
    .addOption(
      new Option(
        '--collector-url <url>',
        'use a running collector (needs --nats-url) instead of an in-process one',
      )
        .env('DRAINWATCH_COLLECTOR_URL')
        .argParser(url(['http', 'https'])),
    )
    .addOption(new Option('--api-token <token>', "the collector's API token").env('DRAINWATCH_API_TOKEN'))
    .addOption(thresholdOption("the rollout's report"))
    .addOption(new Option('--json', 'print the result as JSON').env('DRAINWATCH_JSON'))
    .addOption(timelineFlag('html'))
    .addOption(timelineFlag('timelineJson'))
    .addOption(timelineFlag('timelineSvg'))
    .action(
      action(
        'verify',
        () => verify(optionsOf<VerifyFlags>(cmd)),
        withThresholds(REPORT_FIGURES, checkVerifyOptions),
      ),
    );
  return cmd;
}

/** Rules over several options, checked with every bad value before anything starts. */
function checkVerifyOptions(o: Record<string, unknown>): [string, string][] {
  const issues: [string, string][] = [];
  for (const [env, flag, key] of [
    ['DRAINWATCH_NAMESPACE', '--namespace', 'namespace'],
    ['DRAINWATCH_DEPLOYMENT', '--deployment', 'deployment'],
    [PROBE_ENV.target, '--target', 'target'],
  ] as const) {
    if (!o[key]) issues.push([settingName(env, flag), 'is required']);
  }
  if (o.collectorUrl && !o.natsUrl)
    issues.push([
      settingName('DRAINWATCH_COLLECTOR_URL', '--collector-url'),
      'needs --nats-url: the probes publish to the NATS that collector reads',
    ]);
  const history = o.gateFromHistory;
  if (typeof history === 'string' && !HISTORY_PERCENTILE.test(history))
    issues.push([
      settingName('DRAINWATCH_GATE_FROM_HISTORY', '--gate-from-history'),
      `expected a percentile like p95, got ${JSON.stringify(history)}`,
    ]);
  if (typeof o.websockets === 'string') {
    const detail = websocketSpecProblem(o.websockets);
    if (detail) issues.push([settingName(PROBE_ENV.websockets, '--websockets'), detail]);
  }
  // The Redis target is read only without --collector-url; its conflict is named with the rest,
  // not after the kubeconfig was found (the rule resolveRedisTarget applies later).
  if (!o.collectorUrl) {
    const redis = o as RedisTargetFlags & { redisUrl?: string };
    const issue = redisTargetIssue({
      ...redis,
      urlSet: redis.redisUrl !== undefined && redis.redisUrl !== '',
    });
    if (issue) issues.push(issue);
  }
  return issues;
}

async function verify(f: VerifyFlags): Promise<number> {
  const thresholds = thresholdsOf(f.threshold, REPORT_FIGURES);
  // Loaded here, not at start-up: client-node, the collector and the probes take seconds to import
  // on a busy machine, and every other command would pay for them.
  const [{ createKubernetesAdapter, loadKubeConfig }, { formatReportText }, { runVerify }, probeMod] =
    await Promise.all([
      import('../../cluster/kubernetes/index.js'),
      import('../../collector/index.js'),
      import('../../witness/index.js'),
      import('../../probe/index.js'),
    ]);
  const scenario = await probeMod.loadScenario(f.scenario);
  const kubeConfig = loadKubeConfig({
    ...(f.kubeconfig ? { kubeconfig: f.kubeconfig } : {}),
    ...(f.context ? { context: f.context } : {}),
  });

  const cleanup: Cleanup = [];
  const log = (line: string) => process.stderr.write(`drainwatch verify: ${line}\n`);
  const abort = new AbortController();
  const onSigint = () => abort.abort(new RuntimeFailure('interrupted'));
  process.once('SIGINT', onSigint);
  try {
    const { nc, natsUrl } = await connectVerifyNats(f, cleanup);
    const { reports, store } = await openReportSource(f, nc, natsUrl, cleanup);
    const adapter: KubernetesAdapter = createKubernetesAdapter({ kubeConfig, namespace: f.namespace! });
    cleanup.push(() => adapter.stop());
    const result = await runVerify(
      {
        ...D,
        namespace: f.namespace!,
        deployment: f.deployment!,
        target: f.target!,
        sessions: f.sessions,
        ...(f.websockets !== undefined ? { websockets: f.websockets } : {}),
        scenario,
        gate: f.gate,
        ...(f.gateFromHistory ? { gateFromHistory: f.gateFromHistory } : {}),
        baselineMs: f.baseline,
        tailMs: f.tail,
        rolloutTimeoutMs: f.timeout,
        subjectRoot: f.subjectRoot,
      },
      { adapter, nats: nc, reports, log, signal: abort.signal },
    );
    // Inconclusive as the gate is: the report's reason, else the probe's own overload.
    const judged =
      thresholds.length > 0
        ? evaluateThresholds(thresholds, result.report, result.gate.inconclusive ?? null)
        : undefined;
    process.stdout.write(
      f.json
        ? `${JSON.stringify(judged ? { ...result, thresholds: judged } : result, null, 2)}\n`
        : formatVerifyResult(result, formatReportText) +
            (judged ? `\n${formatThresholdSummary(judged, REPORT_FIGURES)}` : ''),
    );
    if (wantsTimeline(f))
      await (await import('../../timeline/index.js')).writeVerifyTimeline(f, result.rolloutId, store);
    // The gate passes only when the rollout completed too (VerifyResult.passed).
    return verdictsExitCode({ ...result.gate, passed: result.passed }, judged);
  } finally {
    process.off('SIGINT', onSigint);
    while (cleanup.length > 0) await cleanup.pop()!().catch(() => undefined);
  }
}
