import { Command } from 'commander';
import {
  COLLECTOR_DEFAULTS,
  COLLECTOR_ENV,
  type CollectorFlags,
  createCollector,
  loadCollectorConfig,
} from '../../collector/index.js';
import { createLogger } from '../../lib/log.js';
import { formatDurationMs } from '../../lib/values.js';
import { settingOption } from '../parse.js';
import { redisTargetOptions } from '../redis-target.js';
import { action } from '../run.js';

export function createCollectorCommand(): Command {
  const D = COLLECTOR_DEFAULTS;
  const E = COLLECTOR_ENV;
  const ms = formatDurationMs;
  const cmd = new Command('collector')
    .description(
      'Consume agent and probe events, correlate them, keep state in Redis, expose metrics and reports.',
    )
    .addOption(settingOption('--listen <host:port>', 'HTTP API and /metrics', E.listen, D.listen))
    .addOption(settingOption('--nats-url <url>', 'NATS with JetStream', E.natsUrl, D.natsUrl))
    .addOption(settingOption('--redis-url <url>', 'Redis', E.redisUrl, D.redisUrl));
  // The other ways to name Redis (lib/redis-target.ts), right after --redis-url in --help.
  for (const o of redisTargetOptions()) cmd.addOption(o);
  cmd
    .addOption(settingOption('--redis-prefix <prefix>', 'Redis key prefix', E.redisPrefix, D.redisPrefix))
    .addOption(settingOption('--api-token <token>', 'bearer token required on /api', E.apiToken))
    .addOption(settingOption('--subject-root <root>', 'NATS subject root', E.subjectRoot, D.subjectRoot))
    .addOption(settingOption('--stream <name>', 'JetStream stream', E.stream, D.stream))
    .addOption(
      settingOption('--consumer <name>', 'durable consumer, shared by replicas', E.consumer, D.consumer),
    )
    .addOption(
      settingOption(
        '--stream-max-age <duration>',
        'how long the stream keeps events, if it creates it',
        E.streamMaxAge,
        ms(D.streamMaxAgeSeconds * 1000),
      ),
    )
    .addOption(
      settingOption(
        '--stream-max-bytes <size>',
        'stream size limit, if it creates it',
        E.streamMaxBytes,
        '1g',
      ),
    )
    .addOption(
      settingOption(
        '--stream-replicas <n>',
        "copies of the stream JetStream keeps, if it creates it: at most the cluster's size",
        E.streamReplicas,
        String(D.streamReplicas),
      ),
    )
    .addOption(
      settingOption(
        '--rollout-quiet <duration>',
        'close a rollout after this long without pod activity',
        E.rolloutQuiet,
        ms(D.rolloutQuietMs),
      ),
    )
    .addOption(
      settingOption(
        '--pod-series-expiry <duration>',
        'drop per-termination pod series after',
        E.podSeriesExpiry,
        ms(D.podSeriesExpiryMs),
      ),
    )
    .addOption(
      settingOption(
        '--dead-letter-max <n>',
        'refused events kept in Redis',
        E.deadLetterMax,
        String(D.deadLetterMax),
      ),
    )
    .addOption(
      settingOption(
        '--ack-wait <duration>',
        'redelivery delay for unacknowledged events (1s to 1h)',
        E.ackWait,
        ms(D.ackWaitMs),
      ),
    )
    .addOption(
      settingOption(
        '--pull-expiry <duration>',
        "expiry of the consumer's pull requests, 1s to 60s (heartbeat half of it): bounds the pause after its NATS node is lost",
        E.pullExpiry,
        ms(D.pullExpiryMs),
      ),
    )
    .addOption(
      settingOption(
        '--apply-linger <duration>',
        'how long a batch that is not full waits for more events before it is applied, 0 to 1s and at most half the ack wait: fewer, larger batches for that much more lag (0 = none)',
        E.applyLinger,
        ms(D.applyLingerMs),
      ),
    )
    .addOption(
      settingOption(
        '--refresh-interval <duration>',
        'how often gauges are recomputed and quiet rollouts looked for (a quiet deadline is met on time whatever it is)',
        E.refreshInterval,
        ms(D.refreshIntervalMs),
      ),
    )
    .addOption(
      settingOption(
        '--redis-replay-window <duration>',
        'after losing Redis (a failover, a crash), apply again the events acknowledged this long before the loss (0 = off)',
        E.redisReplayWindow,
        ms(D.redisReplayWindowMs),
      ),
    )
    .addOption(
      settingOption(
        '--gate <score>',
        'session-persistence threshold behind drainwatch_gate_passed (0..1 or %)',
        E.gate,
        String(D.gate),
      ),
    )
    .addOption(settingOption('--log-level <level>', 'fatal … trace, or silent', E.logLevel, D.logLevel))
    .addOption(settingOption('--log-format <format>', 'json lines or text', E.logFormat, D.logFormat));
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
