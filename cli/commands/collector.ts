import { Command, Option } from 'commander';
import {
  COLLECTOR_DEFAULTS,
  type CollectorFlags,
  createCollector,
  loadCollectorConfig,
} from '../../collector/index.js';
import { createLogger } from '../../lib/log.js';
import { action } from '../run.js';

export function createCollectorCommand(): Command {
  const D = COLLECTOR_DEFAULTS;
  const cmd = new Command('collector')
    .description(
      'Consume agent and probe events, correlate them, keep state in Redis, expose metrics and reports.',
    )
    .addOption(
      new Option('--listen <host:port>', `HTTP API and /metrics (default ${D.listen})`).env(
        'DRAINWATCH_LISTEN',
      ),
    )
    .addOption(new Option('--nats-url <url>', `NATS with JetStream (default ${D.natsUrl})`).env('NATS_URL'))
    .addOption(new Option('--redis-url <url>', `Redis (default ${D.redisUrl})`).env('REDIS_URL'))
    .addOption(
      new Option('--redis-prefix <prefix>', `Redis key prefix (default ${D.redisPrefix})`).env(
        'DRAINWATCH_REDIS_PREFIX',
      ),
    )
    .addOption(new Option('--api-token <token>', 'bearer token required on /api').env('DRAINWATCH_API_TOKEN'))
    .addOption(
      new Option('--subject-root <root>', `NATS subject root (default ${D.subjectRoot})`).env(
        'DRAINWATCH_SUBJECT_ROOT',
      ),
    )
    .addOption(
      new Option('--stream <name>', `JetStream stream (default ${D.stream})`).env('DRAINWATCH_STREAM'),
    )
    .addOption(
      new Option('--consumer <name>', `durable consumer, shared by replicas (default ${D.consumer})`).env(
        'DRAINWATCH_CONSUMER',
      ),
    )
    .addOption(
      new Option(
        '--stream-max-age <duration>',
        'how long the stream keeps events, if it creates it (default 7d)',
      ).env('DRAINWATCH_STREAM_MAX_AGE'),
    )
    .addOption(
      new Option('--stream-max-bytes <size>', 'stream size limit, if it creates it (default 1g)').env(
        'DRAINWATCH_STREAM_MAX_BYTES',
      ),
    )
    .addOption(
      new Option(
        '--rollout-quiet <duration>',
        'close a rollout after this long without pod activity (default 5m)',
      ).env('DRAINWATCH_ROLLOUT_QUIET'),
    )
    .addOption(
      new Option('--pod-series-expiry <duration>', 'drop per-termination pod series after (default 15m)').env(
        'DRAINWATCH_POD_SERIES_EXPIRY',
      ),
    )
    .addOption(
      new Option('--dead-letter-max <n>', `refused events kept in Redis (default ${D.deadLetterMax})`).env(
        'DRAINWATCH_DEAD_LETTER_MAX',
      ),
    )
    .addOption(
      new Option('--ack-wait <duration>', 'redelivery delay for unacknowledged events (default 30s)').env(
        'DRAINWATCH_ACK_WAIT',
      ),
    )
    .addOption(
      new Option(
        '--gate <score>',
        'session-persistence threshold behind drainwatch_gate_passed (default 1)',
      ).env('DRAINWATCH_GATE'),
    )
    .addOption(
      new Option('--log-level <level>', `fatal … trace, or silent (default ${D.logLevel})`).env(
        'DRAINWATCH_LOG_LEVEL',
      ),
    )
    .addOption(
      new Option('--log-format <format>', `json lines or text (default ${D.logFormat})`).env(
        'DRAINWATCH_LOG_FORMAT',
      ),
    );
  return cmd.action(
    action('collector', async () => {
      // Commander already applied flag > env; the loader adds defaults and the cross-field rules.
      const config = loadCollectorConfig(cmd.opts() as CollectorFlags, process.env);
      const log = createLogger({ name: 'collector', level: config.logLevel, format: config.logFormat });
      const collector = createCollector(config, { log });
      const stopped = new Promise<void>((resolve) => {
        const stop = () => void collector.stop().then(resolve, resolve);
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      let http: Awaited<ReturnType<typeof collector.start>>['http'];
      try {
        ({ http } = await collector.start());
      } catch (err) {
        // Close whatever did connect, so the process can exit with the error's code.
        await collector.stop();
        throw err;
      }
      process.stdout.write(`drainwatch collector listening on http://${http.address}:${http.port}\n`);
      await stopped;
      return 0;
    }),
  );
}
