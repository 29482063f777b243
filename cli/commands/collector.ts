import { Command, Option } from 'commander';
import { NotImplementedError } from '../errors.js';
import { action } from '../run.js';

export function createCollectorCommand(): Command {
  return new Command('collector')
    .description(
      'Consume agent and probe events, correlate them, keep state in Redis, expose metrics and reports.',
    )
    .addOption(
      new Option('--listen <host:port>', 'HTTP API and /metrics')
        .env('DRAINWATCH_LISTEN')
        .default('0.0.0.0:15090'),
    )
    .addOption(
      new Option('--nats-url <url>', 'NATS with JetStream').env('NATS_URL').default('nats://127.0.0.1:4222'),
    )
    .addOption(new Option('--redis-url <url>', 'Redis').env('REDIS_URL').default('redis://127.0.0.1:6379'))
    .addOption(
      new Option('--redis-prefix <prefix>', 'key prefix')
        .env('DRAINWATCH_REDIS_PREFIX')
        .default('drainwatch:'),
    )
    .addOption(new Option('--api-token <token>', 'bearer token required on /api').env('DRAINWATCH_API_TOKEN'))
    .action(
      action('collector', () => {
        throw new NotImplementedError('collector');
      }),
    );
}
