import { Command, Option } from 'commander';
import { ENTRY_KINDS } from '../../cluster/local/entry-activity.js';
import { BALANCE_STRATEGIES } from '../../cluster/local/entrypoint.js';
import { rehearse } from '../../rehearse/comparison.js';
import { rehearseConfigIssues, resolveRehearseConfig } from '../../rehearse/config.js';
import {
  REHEARSE_DEFAULTS as D,
  DEFAULT_WEBSOCKETS,
  defaultBalance,
  REHEARSE_ENV as E,
  type RehearseInput,
} from '../../rehearse/settings.js';
import { type TimelineFlags, timelineFlag } from '../../timeline/flags.js';
import { rehearsalTimelineWriter } from '../../timeline/index.js';
import { REPORT_FIGURES } from '../../witness/threshold-figures.js';
import { EXIT } from '../errors.js';
import { settingOption } from '../parse.js';
import { action } from '../run.js';
import { thresholdOption, thresholdsOf, withThresholds } from '../thresholds.js';

// Defaults live in REHEARSE_DEFAULTS (applied by resolveRehearseConfig), so commander only hands
// over what the user gave: a flag, else its environment variable; help shows the same defaults.
const opt = settingOption;

/**
 * Exits as soon as stdout is flushed. After a gRPC rehearsal the process sometimes never ended by
 * itself: every run had finished and printed, but Node's exit spun in uv_run inside
 * Environment::CleanupHandles (seen with gdb) over the HTTP/2 sessions @grpc/grpc-js leaves behind
 * its closed channels. process.exit() does not go through that cleanup.
 */
function exitOnceFlushed(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

export function createRehearseCommand(): Command {
  return new Command('rehearse')
    .description(
      'Perform a real rolling update of a real app on this machine and show what users would have lost. With no --app, rolls the example quote app twice (naive, then drained) and compares.',
    )
    .addOption(
      opt(
        '--app <command>',
        'the app to run (gets PORT, REDIS_URL, NATS_URL)',
        E.app,
        'the example quote app',
      ),
    )
    .addOption(opt('--variants <list>', 'example app runs, in order', E.variants, D.variants))
    .addOption(
      opt(
        '--protocol <protocol>',
        'http, or grpc (the gRPC quote app, balanced per connection; docs/grpc.md)',
        E.protocol,
        D.protocol,
      ),
    )
    .addOption(opt('--replicas <n>', 'pods', E.replicas, D.replicas))
    .addOption(opt('--scenario <file>', 'probe scenario YAML', E.scenario, 'fits the example app'))
    .addOption(opt('--sessions <n>', 'probe sessions', E.sessions, D.sessions))
    .addOption(
      opt(
        '--websockets <n|fraction|%>',
        'sessions that keep a WebSocket',
        E.websockets,
        `${DEFAULT_WEBSOCKETS} when the scenario has one`,
      ),
    )
    .addOption(opt('--rate <rps>', 'requests per second of one session', E.rate, D.rate))
    .addOption(opt('--user-mix <mix>', 'uniform, or skewed (a few heavy users)', E.userMix, D.userMix))
    .addOption(
      opt(
        '--balance <strategy>',
        BALANCE_STRATEGIES.join(', '),
        E.balance,
        `${defaultBalance('example')} for the example app, ${defaultBalance('app')} for --app or --protocol grpc`,
      ),
    )
    .addOption(
      opt(
        '--entry <kind>',
        `the balancer in front of the pods: ${ENTRY_KINDS.join(', ')} (a real nginx or HAProxy of the run's own)`,
        E.entry,
        D.entry,
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
        'endpoint propagation per change: 2s, 1-5s, 0',
        E.propagation,
        D.propagation,
      ),
    )
    .addOption(opt('--grace <seconds>', 'terminationGracePeriodSeconds', E.grace, D.grace))
    .addOption(
      opt(
        '--prestop <policy>',
        'agent preStop of the drained or --app run: adaptive, fixed:<duration>',
        E.prestop,
        D.prestop,
      ),
    )
    .addOption(opt('--max-surge <n>', 'rolling update maxSurge', E.maxSurge, D.maxSurge))
    .addOption(
      opt('--max-unavailable <n>', 'rolling update maxUnavailable', E.maxUnavailable, D.maxUnavailable),
    )
    .addOption(opt('--ready-path <path>', 'readiness check path', E.readyPath, D.readyPath))
    .addOption(
      opt('--sidecar <kind>', 'agent, or passthrough (rehearse without the agent)', E.sidecar, D.sidecar),
    )
    .addOption(opt('--warmup <duration>', 'traffic before the rollout', E.warmup, D.warmup))
    .addOption(opt('--timeout <duration>', 'give up on a rollout after', E.timeout, D.timeout))
    .addOption(
      opt(
        '--gate <score>',
        'session persistence required (0..1 or %); exit 1 below it, 4 when the run is inconclusive',
        E.gate,
      ),
    )
    .addOption(thresholdOption('the report of the drained run (or the --app run)'))
    .addOption(opt('--seed <n>', 'seed of propagation delays and pod names', E.seed, 'random'))
    .addOption(opt('--nats-url <url>', 'NATS with JetStream', E.natsUrl, 'start nats-server'))
    .addOption(opt('--redis-url <url>', 'Redis', E.redisUrl, 'start redis-server'))
    .addOption(new Option('--json', 'print the runs and reports as JSON').env('DRAINWATCH_JSON'))
    .addOption(timelineFlag('html'))
    .addOption(timelineFlag('timelineJson'))
    .addOption(timelineFlag('timelineSvg'))
    .action(
      action(
        'rehearse',
        async (opts: RehearseInput) => {
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
            const code = outcome.inconclusive
              ? EXIT.inconclusive
              : outcome.passed
                ? EXIT.ok
                : EXIT.gateFailed;
            // grpc-js can leave HTTP/2 sessions that keep Node's exit cleanup spinning.
            if (config.protocol === 'grpc') exitOnceFlushed(code);
            return code;
          } finally {
            process.off('SIGINT', onSignal);
            process.off('SIGTERM', onSignal);
          }
        },
        // Every setting and every --threshold is named in one message before anything starts.
        withThresholds(REPORT_FIGURES, (o) => rehearseConfigIssues(o as RehearseInput)),
      ),
    );
}
