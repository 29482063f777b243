import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { createCollector, loadCollectorConfig, type ReportStore } from '../collector/index.js';
import { DEFAULT_SUBJECT_ROOT } from '../contract/index.js';
import { findBinary, ServerBinaryMissingError } from '../lib/servers.js';
import { DEFAULT_SCENARIO, loadScenario, type Scenario } from '../probe/index.js';
import { evaluateThresholds, formatThresholdSummary, REPORT_FIGURES } from '../witness/index.js';
import { startDependencies } from './dependencies.js';
import { DependencyUnavailableError, RehearseConfigError } from './errors.js';
import { GRPC_VARIANTS, grpcExampleScenario, QUOTE_GRPC_MAIN } from './grpc.js';
import { createProgressDisplay, type ProgressOutput } from './progress.js';
import type { RehearsalRun } from './result.js';
import { type RunSpec, runRehearsal } from './run.js';
import {
  DEFAULT_WEBSOCKETS,
  defaultBalance,
  type ExampleVariant,
  type RehearseConfig,
  rehearseSettingName,
} from './settings.js';
import { formatComparison } from './table.js';

// `drainwatch rehearse`: the runs it asks for (the example app naive and drained, or one `--app`
// run), one after the other against one set of NATS, Redis and collector, then the table.

/** The compiled example app next to this module (dist/rehearse → dist/examples). */
export const QUOTE_APP_MAIN = fileURLToPath(new URL('../examples/quote-app/main.js', import.meta.url));

/** The naive run has no preStop: the agent's fixed wait of 0, labelled `none` in the table. */
const NO_PRESTOP = { prestop: 'none', prestopPolicy: { mode: 'fixed', seconds: 0 } } as const;
/** The naive gRPC pod has no preStop hook at all (rehearse/grpc.ts). */
const NO_HOOK = { prestop: 'no hook', prestopPolicy: { mode: 'fixed', seconds: 0 } } as const;

const VARIANTS: Record<
  ExampleVariant,
  { env: Record<string, string>; prestop?: typeof NO_PRESTOP; app: string }
> = {
  naive: {
    // Acks 1.5 s after each message (the probe pings each second): a pod that dies leaves some unsent.
    env: {
      QUOTE_SESSIONS: 'memory',
      QUOTE_GRACEFUL: 'off',
      QUOTE_WS_CLOSE: 'none',
      QUOTE_ACK_DELAY_MS: '1500',
    },
    prestop: NO_PRESTOP,
    app: 'quote-app: memory sessions, no graceful shutdown',
  },
  drained: {
    // The same slow acks, all written by the graceful shutdown before the sockets close.
    env: {
      QUOTE_SESSIONS: 'redis',
      QUOTE_GRACEFUL: 'on',
      QUOTE_WS_CLOSE: '1001',
      QUOTE_ACK_DELAY_MS: '1500',
    },
    app: 'quote-app: Redis sessions, graceful shutdown',
  },
};

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The runs a configuration asks for, in order. */
export function planRuns(config: RehearseConfig, given: Scenario | undefined): RunSpec[] {
  const grpc = config.protocol === 'grpc';
  // The gRPC example's own scenario unless one is given (an --app has to give one).
  const scenario = given ?? (grpc && !config.app ? grpcExampleScenario() : undefined);
  const seed = config.seed ?? Math.floor(Math.random() * 2 ** 31);
  const common = {
    readyPath: config.readyPath,
    protocol: config.protocol,
    replicas: config.replicas,
    maxSurge: config.maxSurge,
    maxUnavailable: config.maxUnavailable,
    propagation: config.propagation,
    graceMs: config.graceSeconds * 1000,
    sidecar: config.sidecar,
    sessions: config.sessions,
    // The probe's own rule: a scenario without a WebSocket gets none unless asked for.
    ...(config.websockets !== undefined
      ? { websockets: config.websockets }
      : (scenario ?? DEFAULT_SCENARIO).websocket ||
          scenario?.sse ||
          scenario?.socketio ||
          scenario?.grpc?.stream
        ? { websockets: DEFAULT_WEBSOCKETS }
        : {}),
    rate: config.rate,
    userMix: config.userMix,
    warmupMs: config.warmupMs,
    timeoutMs: config.timeoutMs,
    // The same seed for every run: each rollout meets the same propagation delays.
    seed,
    namespace: 'rehearsal',
    ...(scenario ? { scenario } : {}),
  };
  // One run per entry point; labels name the entry only when there are several.
  const entries = config.entries;
  const labelOf = (base: string, entry: string): string => (entries.length > 1 ? `${base}/${entry}` : base);
  const app = config.app;
  if (app) {
    return entries.map((entry) => ({
      ...common,
      entry,
      label: labelOf('app', entry),
      balance: config.balance ?? defaultBalance('app', config.protocol),
      command: app,
      appLabel: app,
      appEnv: {},
      prestop: config.prestop,
      prestopPolicy: config.prestopPolicy,
      workload: 'app',
      ...(config.gate !== undefined ? { gate: config.gate } : {}),
      ...(config.thresholds?.length ? { thresholds: config.thresholds } : {}),
    }));
  }
  // The gate and the thresholds judge the drained run: the naive one is there to be lost.
  const gated: ExampleVariant = config.variants.includes('drained') ? 'drained' : config.variants.at(-1)!;
  if (grpc)
    return config.variants.map((v) => ({
      ...common,
      entry: entries[0]!,
      label: v,
      balance: config.balance ?? defaultBalance('example', 'grpc'),
      command: `exec ${shellQuote(process.execPath)} ${shellQuote(QUOTE_GRPC_MAIN)}`,
      appLabel: GRPC_VARIANTS[v].app,
      appEnv: GRPC_VARIANTS[v].env,
      prestopHook: GRPC_VARIANTS[v].prestopHook,
      ...(GRPC_VARIANTS[v].prestopHook
        ? { prestop: config.prestop, prestopPolicy: config.prestopPolicy }
        : NO_HOOK),
      workload: `quote-grpc-${v}`,
      ...(config.gate !== undefined && v === gated ? { gate: config.gate } : {}),
      ...(config.thresholds?.length && v === gated ? { thresholds: config.thresholds } : {}),
    }));
  return config.variants.flatMap((v) =>
    entries.map((entry) => ({
      ...common,
      entry,
      label: labelOf(v, entry),
      balance: config.balance ?? defaultBalance('example'),
      command: `exec ${shellQuote(process.execPath)} ${shellQuote(QUOTE_APP_MAIN)}`,
      appLabel: VARIANTS[v].app,
      appEnv: { ...VARIANTS[v].env, QUOTE_REDIS_PREFIX: `quote-app:${labelOf(v, entry)}:` },
      ...(VARIANTS[v].prestop ?? { prestop: config.prestop, prestopPolicy: config.prestopPolicy }),
      workload: `quote-${v}`,
      ...(config.gate !== undefined && v === gated ? { gate: config.gate } : {}),
      ...(config.thresholds?.length && v === gated ? { thresholds: config.thresholds } : {}),
    })),
  );
}

/** A gRPC rehearsal probes with gRPC sessions (`grpc:`), an HTTP one never does. */
function checkScenarioProtocol(config: RehearseConfig, scenario: Scenario | undefined): void {
  const setting = rehearseSettingName('scenario');
  if (config.protocol === 'grpc' && config.app && !scenario?.grpc)
    throw new RehearseConfigError(
      setting,
      '--protocol grpc with --app needs a scenario with a grpc: section',
    );
  if (config.protocol === 'grpc' && scenario && !scenario.grpc)
    throw new RehearseConfigError(
      setting,
      'the scenario has no grpc: section; --protocol grpc probes with gRPC sessions',
    );
  if (config.protocol === 'http' && scenario?.grpc)
    throw new RehearseConfigError(setting, 'the scenario has a grpc: section; give --protocol grpc');
}

/** nginx and HAProxy must be installed before anything starts (exit 3 otherwise). */
function checkEntryBinaries(config: RehearseConfig): void {
  const env = { nginx: 'DRAINWATCH_NGINX_BIN', haproxy: 'DRAINWATCH_HAPROXY_BIN' } as const;
  for (const entry of config.entries) {
    if (entry === 'local') continue;
    try {
      findBinary(entry, env[entry]);
    } catch (err) {
      if (err instanceof ServerBinaryMissingError) throw new DependencyUnavailableError(entry, err.message);
      throw err;
    }
  }
}

/** One run, its thresholds judged on its report (an inconclusive run's neither pass nor fail). */
async function judged(spec: RunSpec, ctx: Parameters<typeof runRehearsal>[1]): Promise<RehearsalRun> {
  const run = await runRehearsal(spec, ctx);
  if (!spec.thresholds) return run;
  return { ...run, thresholds: evaluateThresholds(spec.thresholds, run.report, run.inconclusive) };
}

export interface RehearseIo {
  readonly stdout: ProgressOutput;
  readonly stderr: ProgressOutput;
  readonly env?: NodeJS.ProcessEnv;
  readonly signal?: AbortSignal;
  /** Runs after the last run while the collector's store is still up (the timeline files). */
  readonly afterRuns?: (runs: readonly RehearsalRun[], store: ReportStore) => Promise<void>;
}

export interface RehearseOutcome {
  readonly runs: readonly RehearsalRun[];
  /** Every gate that applied passed (true without a gate). */
  readonly passed: boolean;
  /** A gate applied to a run that cannot be judged (its probe was overloaded): exit 4. */
  readonly inconclusive: boolean;
}

export async function rehearse(config: RehearseConfig, io: RehearseIo): Promise<RehearseOutcome> {
  const scenario = config.scenarioFile ? await loadScenario(config.scenarioFile) : undefined;
  checkScenarioProtocol(config, scenario);
  const specs = planRuns(config, scenario);
  checkEntryBinaries(config);
  // Shown from the first second: starting the servers, the collector and the pods takes a while.
  const progress = createProgressDisplay(io.stderr);
  const starting = [config.natsUrl ? '' : 'nats-server', config.redisUrl ? '' : 'redis-server'].filter(
    Boolean,
  );
  if (starting.length > 0) progress.step(`drainwatch rehearse: starting ${starting.join(' and ')}`);
  const deps = await startDependencies({ natsUrl: config.natsUrl, redisUrl: config.redisUrl });
  const say = (line: string): void => {
    progress.done();
    io.stderr.write(`${line}\n`);
  };
  if (deps.embedded.nats || deps.embedded.redis) {
    const which = [
      deps.embedded.nats ? `nats-server at ${deps.natsUrl}` : '',
      deps.embedded.redis ? `redis-server at ${deps.redisUrl}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    say(`drainwatch rehearse: started ${which} for this run (stopped at the end)`);
  }
  let nats: Awaited<ReturnType<typeof connect>> | undefined;
  let collector: ReturnType<typeof createCollector> | undefined;
  try {
    progress.step('drainwatch rehearse: connecting to NATS, starting the collector');
    try {
      nats = await connect({ servers: deps.natsUrl, name: 'drainwatch-rehearse', timeout: 5000 });
    } catch (err) {
      throw new DependencyUnavailableError(`NATS at ${deps.natsUrl}`, (err as Error).message);
    }
    collector = createCollector(
      loadCollectorConfig({ listen: '127.0.0.1:0', natsUrl: deps.natsUrl, redisUrl: deps.redisUrl }, {}),
      { nats },
    );
    await collector.start();
    const runs: RehearsalRun[] = [];
    for (const spec of specs) {
      say(
        `drainwatch rehearse: ${spec.label}: ${spec.replicas} pods of ${spec.appLabel} behind the ${spec.entry} entry point; ${spec.sessions} probe sessions; rolling update (maxSurge ${spec.maxSurge}, maxUnavailable ${spec.maxUnavailable}), preStop ${spec.prestop}`,
      );
      runs.push(
        await judged(spec, {
          natsUrl: deps.natsUrl,
          redisUrl: deps.redisUrl,
          nats,
          collector,
          subjectRoot: DEFAULT_SUBJECT_ROOT,
          progress,
          ...(io.signal ? { signal: io.signal } : {}),
        }),
      );
    }
    await io.afterRuns?.(runs, collector.store);
    const passed = runs.every((r) => (!r.gate || r.gate.passed) && (!r.thresholds || r.thresholds.passed));
    const inconclusive = runs.some(
      (r) => r.gate?.inconclusive !== undefined || r.thresholds?.inconclusive !== undefined,
    );
    if (config.json) io.stdout.write(`${JSON.stringify({ runs, passed, inconclusive }, null, 2)}\n`);
    else {
      io.stdout.write(formatComparison(runs));
      for (const r of runs)
        if (r.thresholds)
          io.stdout.write(
            `\n${formatThresholdSummary(r.thresholds, REPORT_FIGURES, `Thresholds (${r.label})`)}`,
          );
      io.stdout.write(
        `\nreports: ${runs.map((r) => `${r.label} ${r.rolloutId}`).join(', ')}\n` +
          (deps.embedded.redis
            ? "they were kept in this run's own Redis; give REDIS_URL to keep them for `drainwatch report <id>`\n"
            : `\`drainwatch report <id>\` prints one again from ${deps.redisUrl}\n`),
      );
    }
    return { runs, passed, inconclusive };
  } finally {
    await collector?.stop();
    await nats?.drain().catch(() => {});
    await deps.stop();
  }
}
