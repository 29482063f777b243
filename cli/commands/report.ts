import { Command, Option } from 'commander';
import { createReportStore, formatReportText, type ReportStore } from '../../collector/index.js';
import {
  connectRedisClient,
  DEFAULT_REDIS_PREFIX,
  DEFAULT_REDIS_URL,
  type RedisClient,
} from '../../lib/redis.js';
import { type TimelineFlags, timelineFlag } from '../../timeline/flags.js';
import { storeTimelineSource, writeTimelineFiles } from '../../timeline/index.js';
import { REPORT_FIGURES } from '../../witness/threshold-figures.js';
import { evaluateThresholds, formatThresholdSummary } from '../../witness/thresholds.js';
import { UsageError } from '../errors.js';
import { score, url } from '../parse.js';
import { redisTargetOf, redisTargetOptions } from '../redis-target.js';
import { action } from '../run.js';
import { thresholdOption, thresholdsOf, verdictsExitCode, withThresholds } from '../thresholds.js';

interface ReportFlags extends TimelineFlags {
  readonly redisUrl?: string;
  readonly redisPrefix?: string;
  readonly json?: boolean;
  readonly gate?: number;
  readonly namespace?: string;
  readonly workload?: string;
  readonly threshold?: string[];
}

/** How many stored rollouts a "no match" message lists. */
const LISTED = 5;

/** Why there is no report: no such id, nothing matching the filter (and what exists), or nothing stored. */
async function noReport(store: ReportStore, id: string | undefined, o: ReportFlags): Promise<string> {
  const stored = await store.listRollouts({ limit: LISTED });
  if (stored.length === 0) return 'no rollout stored yet';
  const some = stored.map((r) => `${r.namespace}/${r.workload} (${r.rolloutId})`).join(', ');
  const latest = `latest stored: ${some}${stored.length === LISTED ? ', …' : ''}`;
  if (id) return `no rollout with id ${JSON.stringify(id)}; ${latest}`;
  const filter = [
    o.namespace !== undefined ? `namespace ${JSON.stringify(o.namespace)}` : '',
    o.workload !== undefined ? `workload ${JSON.stringify(o.workload)}` : '',
  ]
    .filter(Boolean)
    .join(' and ');
  return `no rollout matches ${filter}; ${latest}`;
}

export function createReportCommand(): Command {
  const cmd = new Command('report')
    .description(
      'Print a stored rollout report again (with --gate or --threshold: exit 1 when one fails, 4 when the run is inconclusive).',
    )
    .argument('[id]', 'rollout id (default: the latest)')
    .addOption(
      new Option('--redis-url <url>', 'Redis')
        .env('REDIS_URL')
        .default(DEFAULT_REDIS_URL)
        .argParser(url(['redis', 'rediss'])),
    );
  // The other ways to name Redis, right after --redis-url in --help.
  for (const o of redisTargetOptions()) cmd.addOption(o);
  cmd
    .addOption(
      new Option('--redis-prefix <prefix>', 'key prefix')
        .env('DRAINWATCH_REDIS_PREFIX')
        .default(DEFAULT_REDIS_PREFIX),
    )
    .addOption(
      new Option('--namespace <ns>', 'latest rollout of this namespace (without an id)').env(
        'DRAINWATCH_NAMESPACE',
      ),
    )
    .addOption(
      new Option('--workload <name>', 'latest rollout of this workload (without an id)').env(
        'DRAINWATCH_WORKLOAD',
      ),
    )
    .addOption(
      new Option('--gate <score>', 'session-persistence threshold, 0..1 or 95%')
        .env('DRAINWATCH_GATE')
        .argParser(score),
    )
    .addOption(thresholdOption('the report'))
    .addOption(new Option('--json', 'print JSON').env('DRAINWATCH_JSON'))
    .addOption(timelineFlag('html'))
    .addOption(timelineFlag('timelineJson'))
    .addOption(timelineFlag('timelineSvg'));
  return cmd.action(
    action(
      'report',
      async (id: string | undefined) => {
        const o = cmd.opts() as ReportFlags;
        const thresholds = thresholdsOf(o.threshold, REPORT_FIGURES);
        // RedisUnreachableError is one plain line within 5 s, exit 3.
        const redis: RedisClient = await connectRedisClient(redisTargetOf(cmd, DEFAULT_REDIS_URL), {
          prefix: o.redisPrefix ?? DEFAULT_REDIS_PREFIX,
        });
        try {
          const store = createReportStore(redis);
          const options = o.gate === undefined ? {} : { gate: o.gate };
          const report = id
            ? await store.getReport(id, options)
            : await store.latestRollout(o.namespace, o.workload, options);
          if (!report) throw new UsageError(await noReport(store, id, o));
          const judged =
            thresholds.length > 0 ? evaluateThresholds(thresholds, report, report.inconclusive) : undefined;
          process.stdout.write(
            o.json
              ? `${JSON.stringify(judged ? { ...report, thresholds: judged } : report, null, 2)}\n`
              : formatReportText(report) +
                  (judged ? `\n${formatThresholdSummary(judged, REPORT_FIGURES)}` : ''),
          );
          await writeTimelineFiles(o, storeTimelineSource(store), [{ rolloutId: report.rolloutId }]);
          return verdictsExitCode(report.gate, judged);
        } finally {
          redis.disconnect();
        }
      },
      withThresholds(REPORT_FIGURES),
    ),
  );
}
