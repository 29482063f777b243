import { Command, Option } from 'commander';
import {
  COLLECTOR_DEFAULTS,
  COLLECTOR_ENV,
  type CollectorFlags,
  createCollector,
  loadCollectorConfig,
} from '../../collector/index.js';
import { createLogger } from '../../lib/log.js';
import { durationHelp } from '../../lib/values.js';
import { action } from '../run.js';

export function createCollectorCommand(): Command {
  const D = COLLECTOR_DEFAULTS;
  const E = COLLECTOR_ENV;
  const UNITS = durationHelp();
  const cmd = new Command('collector')
    .description(
      'Consume agent and probe events, correlate them, keep state in Redis, expose metrics and reports.',
    )
    .addOption(
      new Option('--listen <host:port>', `HTTP API and /metrics (default ${D.listen})`).env(E.listen),
    )
    .addOption(
      new Option(
        '--nats-url <urls>',
        `NATS with JetStream; several servers of a cluster comma-separated (default ${D.natsUrl})`,
      ).env(E.natsUrl),
    )
    .addOption(new Option('--redis-url <url>', `Redis (default ${D.redisUrl})`).env(E.redisUrl))
    .addOption(
      new Option('--redis-cluster <host:port,...>', 'Redis Cluster seed nodes, instead of --redis-url').env(
        E.redisCluster,
      ),
    )
    .addOption(
      new Option('--redis-prefix <prefix>', `Redis key prefix (default ${D.redisPrefix})`).env(E.redisPrefix),
    )
    .addOption(new Option('--api-token <token>', 'bearer token required on /api').env(E.apiToken))
    .addOption(
      new Option('--subject-root <root>', `NATS subject root (default ${D.subjectRoot})`).env(E.subjectRoot),
    )
    .addOption(new Option('--stream <name>', `JetStream stream (default ${D.stream})`).env(E.stream))
    .addOption(
      new Option('--consumer <name>', `durable consumer, shared by replicas (default ${D.consumer})`).env(
        E.consumer,
      ),
    )
    .addOption(
      new Option(
        '--stream-max-age <duration>',
        `how long the stream keeps events, if it creates it (default 7d; ${UNITS})`,
      ).env(E.streamMaxAge),
    )
    .addOption(
      new Option('--stream-max-bytes <size>', 'stream size limit, if it creates it (default 1g)').env(
        E.streamMaxBytes,
      ),
    )
    .addOption(
      new Option(
        '--stream-replicas <n>',
        `copies of the stream JetStream keeps, if it creates it: at most the cluster's size (default ${D.streamReplicas})`,
      ).env(E.streamReplicas),
    )
    .addOption(
      new Option(
        '--rollout-quiet <duration>',
        `close a rollout after this long without pod activity (default 5m; ${UNITS})`,
      ).env(E.rolloutQuiet),
    )
    .addOption(
      new Option(
        '--pod-series-expiry <duration>',
        `drop per-termination pod series after (default 15m; ${UNITS})`,
      ).env(E.podSeriesExpiry),
    )
    .addOption(
      new Option('--dead-letter-max <n>', `refused events kept in Redis (default ${D.deadLetterMax})`).env(
        E.deadLetterMax,
      ),
    )
    .addOption(
      new Option(
        '--ack-wait <duration>',
        `redelivery delay for unacknowledged events (default 30s; ${UNITS})`,
      ).env(E.ackWait),
    )
    .addOption(
      new Option(
        '--gate <score>',
        'session-persistence threshold behind drainwatch_gate_passed (default 1)',
      ).env(E.gate),
    )
    .addOption(
      new Option('--log-level <level>', `fatal … trace, or silent (default ${D.logLevel})`).env(E.logLevel),
    )
    .addOption(
      new Option('--log-format <format>', `json lines or text (default ${D.logFormat})`).env(E.logFormat),
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
