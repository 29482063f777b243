import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Command, Option } from 'commander';
import { DEFAULT_STREAM_NAME } from '../../contract/index.js';
import { ensureStream } from '../../lib/jetstream.js';
import { durationHelp, splitUrlList } from '../../lib/values.js';
import { delay } from '../../lib/wait.js';
import { PROBE_ENV, resolveProbeConfig } from '../../probe/config.js';
import { createProbeRun, formatProgress, formatSummary, loadScenario } from '../../probe/index.js';
import { PROBE_FIGURES } from '../../witness/threshold-figures.js';
import { evaluateThresholds, formatThresholdSummary } from '../../witness/thresholds.js';
import { RuntimeFailure, UsageError } from '../errors.js';
import { durationMs, positiveInt, positiveNumber, url } from '../parse.js';
import { action, optionsOf } from '../run.js';
import { thresholdOption, thresholdsOf, verdictsExitCode } from '../thresholds.js';

interface ProbeOptions {
  target?: string;
  sessions: number | string;
  duration: number | string;
  scenario?: string;
  websockets?: string;
  rate?: number | string;
  retryOnce?: boolean;
  natsUrl?: string;
  namespace?: string;
  workload?: string;
  subjectRoot?: string;
  stream?: string;
  json?: boolean;
  threshold?: string[];
}

// Commander applies parsers to flags and env values but not to defaults given as strings.
const asInt = (v: number | string): number => (typeof v === 'number' ? v : positiveInt(v));
const asDuration = (v: number | string): number => (typeof v === 'number' ? v : durationMs(v));

/** A plain line every few seconds when stderr is not a terminal, so CI logs stay readable. */
const PLAIN_PROGRESS_EVERY_MS = 5000;

async function runProbe(opts: ProbeOptions): Promise<number> {
  if (!opts.target) throw new UsageError(`--target (or ${PROBE_ENV.target}) is required`);
  const thresholds = thresholdsOf(opts.threshold, PROBE_FIGURES);
  const scenario = await loadScenario(opts.scenario);
  const durationMsValue = asDuration(opts.duration);
  const config = {
    target: opts.target,
    sessions: asInt(opts.sessions),
    scenario,
    ...(opts.websockets !== undefined ? { websockets: opts.websockets } : {}),
    ...(opts.rate !== undefined ? { ratePerSession: Number(opts.rate) } : {}),
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
  return new Command('probe')
    .description(
      'Run synthetic authenticated users and WebSockets against a service and report what they lost.',
    )
    .addOption(
      new Option('--target <url>', 'the service entry point')
        .env(PROBE_ENV.target)
        .argParser(url(['http', 'https'])),
    )
    .addOption(
      new Option('--sessions <n>', 'synthetic users')
        .env(PROBE_ENV.sessions)
        .default('50')
        .argParser(positiveInt),
    )
    .addOption(
      new Option('--duration <d>', `how long to run (default 30s; ${durationHelp()})`)
        .env(PROBE_ENV.duration)
        .default('30s')
        .argParser(durationMs),
    )
    .addOption(
      new Option('--scenario <file>', 'scenario YAML (default: the example app)').env(PROBE_ENV.scenario),
    )
    .addOption(
      new Option(
        '--websockets <n>',
        'sessions that also keep a WebSocket: a count, a fraction or a percentage (default 20% when the scenario has a websocket)',
      ).env(PROBE_ENV.websockets),
    )
    .addOption(
      new Option('--rate <r>', 'traffic requests per second per session (default 1)')
        .env(PROBE_ENV.rate)
        .argParser(positiveNumber),
    )
    .addOption(
      new Option('--retry-once', 'retry a failed request once and report it separately').env(
        PROBE_ENV.retryOnce,
      ),
    )
    .addOption(
      new Option(
        '--nats-url <url>',
        'publish probe.* events to this NATS (nothing is published without it)',
      ).env(PROBE_ENV.natsUrl),
    )
    .addOption(
      new Option('--namespace <ns>', 'namespace of the workload under test, for the events').env(
        PROBE_ENV.namespace,
      ),
    )
    .addOption(new Option('--workload <name>', 'workload under test, for the events').env(PROBE_ENV.workload))
    .addOption(
      new Option('--subject-root <root>', 'NATS subject root')
        .env(PROBE_ENV.subjectRoot)
        .default('drainwatch'),
    )
    .addOption(
      new Option('--stream <name>', 'JetStream stream created when missing')
        .env('DRAINWATCH_STREAM')
        .default(DEFAULT_STREAM_NAME),
    )
    .addOption(thresholdOption('the probe summary'))
    .addOption(new Option('--json', 'print the summary as JSON on stdout').env('DRAINWATCH_JSON'))
    .action(action('probe', (_opts: unknown, cmd: Command) => runProbe(optionsOf<ProbeOptions>(cmd))));
}
