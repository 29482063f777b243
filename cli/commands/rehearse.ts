import { Command, Option } from 'commander';
import { ENTRY_KINDS } from '../../cluster/local/entry-activity.js';
import { BALANCE_STRATEGIES } from '../../cluster/local/entrypoint.js';
import { durationHelp } from '../../lib/values.js';
import { rehearse } from '../../rehearse/comparison.js';
import {
  REHEARSE_DEFAULTS as D,
  DEFAULT_WEBSOCKETS,
  defaultBalance,
  REHEARSE_ENV as E,
  type RehearseInput,
  resolveRehearseConfig,
} from '../../rehearse/config.js';
import { type TimelineFlags, timelineFlag } from '../../timeline/flags.js';
import { rehearsalTimelineWriter } from '../../timeline/index.js';
import { REPORT_FIGURES } from '../../witness/threshold-figures.js';
import { EXIT } from '../errors.js';
import { action } from '../run.js';
import { thresholdOption, thresholdsOf } from '../thresholds.js';

// Defaults live in REHEARSE_DEFAULTS (applied by resolveRehearseConfig), so commander only hands
// over what the user gave: a flag, else its environment variable.
function opt(flags: string, description: string, env: string): Option {
  return new Option(flags, description).env(env);
}

export function createRehearseCommand(): Command {
  return new Command('rehearse')
    .description(
      'Perform a real rolling update of a real app on this machine and show what users would have lost. With no --app, rolls the example quote app twice (naive, then drained) and compares.',
    )
    .addOption(
      opt(
        '--app <command>',
        'the app to run (gets PORT, REDIS_URL, NATS_URL); default: the example quote app',
        E.app,
      ),
    )
    .addOption(opt('--variants <list>', `example app runs, in order (default ${D.variants})`, E.variants))
    .addOption(opt('--replicas <n>', `pods (default ${D.replicas})`, E.replicas))
    .addOption(opt('--scenario <file>', 'probe scenario YAML (default: fits the example app)', E.scenario))
    .addOption(opt('--sessions <n>', `probe sessions (default ${D.sessions})`, E.sessions))
    .addOption(
      opt(
        '--websockets <n|fraction|%>',
        `sessions that keep a WebSocket (default ${DEFAULT_WEBSOCKETS} when the scenario has one)`,
        E.websockets,
      ),
    )
    .addOption(opt('--rate <rps>', `requests per second of one session (default ${D.rate})`, E.rate))
    .addOption(opt('--user-mix <mix>', 'uniform, or skewed (a few heavy users) (default uniform)', E.userMix))
    .addOption(
      opt(
        '--balance <strategy>',
        `${BALANCE_STRATEGIES.join(', ')} (default: ${defaultBalance('example')} for the example app, ${defaultBalance('app')} for --app)`,
        E.balance,
      ),
    )
    .addOption(
      opt(
        '--entry <kind>',
        `the balancer in front of the pods: ${ENTRY_KINDS.join(', ')} (a real nginx or HAProxy of the run's own) (default ${D.entry})`,
        E.entry,
      ),
    )
    .addOption(
      opt(
        '--compare-entries <list>',
        'run each app through each of these entry points, side by side (e.g. local,nginx)',
        E.compareEntries,
      ),
    )
    .addOption(
      opt(
        '--propagation <delay>',
        `endpoint propagation per change: 2s, 1-5s, 0 (default ${D.propagation})`,
        E.propagation,
      ),
    )
    .addOption(opt('--grace <seconds>', `terminationGracePeriodSeconds (default ${D.grace})`, E.grace))
    .addOption(
      opt(
        '--prestop <policy>',
        `agent preStop of the drained or --app run: adaptive, fixed:<s> (default ${D.prestop})`,
        E.prestop,
      ),
    )
    .addOption(opt('--max-surge <n>', `rolling update maxSurge (default ${D.maxSurge})`, E.maxSurge))
    .addOption(
      opt(
        '--max-unavailable <n>',
        `rolling update maxUnavailable (default ${D.maxUnavailable})`,
        E.maxUnavailable,
      ),
    )
    .addOption(opt('--ready-path <path>', `readiness check path (default ${D.readyPath})`, E.readyPath))
    .addOption(
      opt(
        '--sidecar <kind>',
        `agent, or passthrough (rehearse without the agent) (default ${D.sidecar})`,
        E.sidecar,
      ),
    )
    .addOption(
      opt(
        '--warmup <duration>',
        `traffic before the rollout (default ${D.warmup}; ${durationHelp()})`,
        E.warmup,
      ),
    )
    .addOption(
      opt(
        '--timeout <duration>',
        `give up on a rollout after (default ${D.timeout}; ${durationHelp()})`,
        E.timeout,
      ),
    )
    .addOption(
      opt(
        '--gate <score>',
        'session persistence required (0..1 or %); exit 1 below it, 4 when the run is inconclusive',
        E.gate,
      ),
    )
    .addOption(thresholdOption('the report of the drained run (or the --app run)'))
    .addOption(opt('--seed <n>', 'seed of propagation delays and pod names (default random)', E.seed))
    .addOption(opt('--nats-url <url>', 'NATS with JetStream (default: start nats-server)', E.natsUrl))
    .addOption(opt('--redis-url <url>', 'Redis (default: start redis-server)', E.redisUrl))
    .addOption(new Option('--json', 'print the runs and reports as JSON').env('DRAINWATCH_JSON'))
    .addOption(timelineFlag('html'))
    .addOption(timelineFlag('timelineJson'))
    .addOption(timelineFlag('timelineSvg'))
    .action(
      action('rehearse', async (opts: RehearseInput) => {
        const thresholds = thresholdsOf((opts as { threshold?: string[] }).threshold, REPORT_FIGURES);
        const config = { ...resolveRehearseConfig(opts), ...(thresholds.length > 0 ? { thresholds } : {}) };
        const abort = new AbortController();
        const onSignal = (): void => abort.abort(new Error('interrupted'));
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          const outcome = await rehearse(config, {
            stdout: process.stdout,
            stderr: process.stderr,
            signal: abort.signal,
            afterRuns: rehearsalTimelineWriter(opts as TimelineFlags),
          });
          if (outcome.inconclusive) return EXIT.inconclusive;
          return outcome.passed ? EXIT.ok : EXIT.gateFailed;
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      }),
    );
}
