import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Command, Option } from 'commander';
import { DEFAULT_STREAM_NAME, DEFAULT_SUBJECT_ROOT } from '../../contract/index.js';
import { ensureStream } from '../../lib/jetstream.js';
import { formatDurationMs, settingName, splitUrlList } from '../../lib/values.js';
import { delay } from '../../lib/wait.js';
import { PROBE_DEFAULTS, PROBE_ENV, resolveProbeConfig, websocketSpecProblem } from '../../probe/config.js';
import { createProbeRun, formatProgress, formatSummary, loadScenario } from '../../probe/index.js';
import { PROBE_FIGURES } from '../../witness/threshold-figures.js';
import { evaluateThresholds, formatThresholdSummary } from '../../witness/thresholds.js';
import { RuntimeFailure, UsageError } from '../errors.js';
import { durationMs, positiveInt, positiveNumber, settingOption, url } from '../parse.js';
import { action, optionsOf } from '../run.js';
import { thresholdOption, thresholdsOf, verdictsExitCode, withThresholds } from '../thresholds.js';

interface ProbeOptions {
  target?: string;
  sessions?: number;
  duration?: number;
  scenario?: string;
  websockets?: string;
  rate?: number;
  retryOnce?: boolean;
  natsUrl?: string;
  namespace?: string;
  workload?: string;
  subjectRoot?: string;
  stream?: string;
  json?: boolean;
  threshold?: string[];
}

/** The standalone probe's own defaults (the rest are the probe's, PROBE_DEFAULTS). */
const PROBE_CLI_DEFAULTS = { sessions: 50, durationMs: 30_000 } as const;

/** Rules over several options, checked with every bad value before anything starts. */
function checkProbeOptions(o: Record<string, unknown>): [string, string][] {
  const issues: [string, string][] = [];
  if (!o.target) issues.push([settingName(PROBE_ENV.target, '--target'), 'is required']);
  const ws = typeof o.websockets === 'string' ? websocketSpecProblem(o.websockets) : undefined;
  if (ws) issues.push([settingName(PROBE_ENV.websockets, '--websockets'), ws]);
  return issues;
}

/** A plain line every few seconds when stderr is not a terminal, so CI logs stay readable. */
const PLAIN_PROGRESS_EVERY_MS = 5000;

async function runProbe(opts: ProbeOptions): Promise<number> {
  if (!opts.target) throw new UsageError(`--target (or ${PROBE_ENV.target}) is required`);
  const thresholds = thresholdsOf(opts.threshold, PROBE_FIGURES);
  const scenario = await loadScenario(opts.scenario);
  const durationMsValue = opts.duration ?? PROBE_CLI_DEFAULTS.durationMs;
  const config = {
    target: opts.target,
    sessions: opts.sessions ?? PROBE_CLI_DEFAULTS.sessions,
    scenario,
    ...(opts.websockets !== undefined ? { websockets: opts.websockets } : {}),
    ...(opts.rate !== undefined ? { ratePerSession: opts.rate } : {}),
    retryOnce: Boolean(opts.retryOnce),
    ...(opts.namespace ? { namespace: opts.namespace } : {}),
    ...(opts.workload ? { workload: opts.workload } : {}),
    ...(opts.subjectRoot ? { subjectRoot: opts.subjectRoot } : {}),
  };
  // Settings are checked before any connection, so a bad value is reported as such (exit 2).
  resolveProbeConfig(config);
  let nc: NatsConnection | undefined;
  if (opts.natsUrl) {
    try {
      nc = await connect({ servers: splitUrlList(opts.natsUrl), name: 'drainwatch-probe', timeout: 5000 });
      await ensureStream(await jetstreamManager(nc), {
        ...(opts.stream ? { name: opts.stream } : {}),
        ...(opts.subjectRoot ? { root: opts.subjectRoot } : {}),
      });
    } catch (err) {
      await nc?.close().catch(() => undefined);
      throw new RuntimeFailure(`NATS at ${opts.natsUrl} is unreachable: ${(err as Error).message}`);
    }
  }
  try {
    const run = createProbeRun(config, nc ? { nats: nc } : {});
    await run.start();
    const tty = process.stderr.isTTY === true;
    let lastPlain = 0;
    const unsubscribe = run.onProgress((s) => {
      if (tty) {
        process.stderr.write(`\r\x1b[K${formatProgress(s)}`);
      } else if (s.elapsedMs - lastPlain >= PLAIN_PROGRESS_EVERY_MS) {
        lastPlain = s.elapsedMs;
        process.stderr.write(`${formatProgress(s)}\n`);
      }
    });
    // Ctrl-C ends the run early but still prints the summary.
    let onSigint: (() => void) | undefined;
    const interrupted = new Promise<void>((resolve) => {
      onSigint = resolve;
      process.once('SIGINT', resolve);
    });
    await Promise.race([delay(durationMsValue), interrupted]);
    if (onSigint) process.removeListener('SIGINT', onSigint);
    const summary = await run.stop();
    unsubscribe();
    if (tty) process.stderr.write('\n');
    // An overloaded probe's figures judge nothing (docs/architecture.md §4).
    const judged =
      thresholds.length > 0
        ? evaluateThresholds(
            thresholds,
            summary,
            summary.unreliable ? (summary.unreliableReason ?? 'the probe was overloaded') : null,
          )
        : undefined;
    process.stdout.write(
      opts.json
        ? `${JSON.stringify(judged ? { ...summary, thresholds: judged } : summary, null, 2)}\n`
        : `${formatSummary(summary)}\n${judged ? `\n${formatThresholdSummary(judged, PROBE_FIGURES)}` : ''}`,
    );
    return verdictsExitCode(judged);
  } finally {
    await nc?.drain().catch(() => undefined);
  }
}

export function createProbeCommand(): Command {
  const E = PROBE_ENV;
  return new Command('probe')
    .description(
      'Run synthetic authenticated users and WebSockets against a service and report what they lost.',
    )
    .addOption(
      settingOption('--target <url>', 'the service entry point', E.target).argParser(url(['http', 'https'])),
    )
    .addOption(
      settingOption(
        '--sessions <n>',
        'synthetic users',
        E.sessions,
        String(PROBE_CLI_DEFAULTS.sessions),
      ).argParser(positiveInt),
    )
    .addOption(
      settingOption(
        '--duration <duration>',
        'how long to run',
        E.duration,
        formatDurationMs(PROBE_CLI_DEFAULTS.durationMs),
      ).argParser(durationMs),
    )
    .addOption(settingOption('--scenario <file>', 'scenario YAML', E.scenario, 'the example app'))
    .addOption(
      settingOption(
        '--websockets <n|fraction|%>',
        'sessions that also keep a WebSocket: a count, a fraction or a percentage',
        E.websockets,
        `${PROBE_DEFAULTS.websockets * 100}% when the scenario has a websocket`,
      ),
    )
    .addOption(
      settingOption(
        '--rate <rps>',
        'traffic requests per second per session',
        E.rate,
        String(PROBE_DEFAULTS.ratePerSession),
      ).argParser(positiveNumber),
    )
    .addOption(
      settingOption('--retry-once', 'retry a failed request once and report it separately', E.retryOnce),
    )
    .addOption(
      settingOption(
        '--nats-url <url>',
        'publish probe.* events to this NATS',
        E.natsUrl,
        'none: nothing is published',
      ).argParser(url(['nats', 'tls'])),
    )
    .addOption(
      settingOption('--namespace <ns>', 'namespace of the workload under test, for the events', E.namespace),
    )
    .addOption(settingOption('--workload <name>', 'workload under test, for the events', E.workload))
    .addOption(
      new Option('--subject-root <root>', 'NATS subject root')
        .env(E.subjectRoot)
        .default(DEFAULT_SUBJECT_ROOT),
    )
    .addOption(
      new Option('--stream <name>', 'JetStream stream created when missing')
        .env('DRAINWATCH_STREAM')
        .default(DEFAULT_STREAM_NAME),
    )
    .addOption(thresholdOption('the probe summary'))
    .addOption(new Option('--json', 'print the summary as JSON on stdout').env('DRAINWATCH_JSON'))
    .action(
      action(
        'probe',
        (_opts: unknown, cmd: Command) => runProbe(optionsOf<ProbeOptions>(cmd)),
        withThresholds(PROBE_FIGURES, checkProbeOptions),
      ),
    );
}
