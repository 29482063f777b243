import { Command, Option } from 'commander';
import { NotImplementedError } from '../errors.js';
import { action } from '../run.js';

export function createAgentCommand(): Command {
  return new Command('agent')
    .description(
      'Run the drain-witness sidecar: a reverse proxy in front of the app port that publishes lifecycle events to NATS.',
    )
    .addOption(
      new Option('--listen <host:port>', 'where traffic arrives')
        .env('DRAINWATCH_LISTEN')
        .default('0.0.0.0:15080'),
    )
    .addOption(
      new Option('--upstream <host:port>', 'the app').env('DRAINWATCH_UPSTREAM').default('127.0.0.1:8080'),
    )
    .addOption(
      new Option('--admin <host:port>', 'preStop, health, metrics, state')
        .env('DRAINWATCH_ADMIN')
        .default('0.0.0.0:15021'),
    )
    .addOption(
      new Option('--nats-url <url>', 'NATS with JetStream').env('NATS_URL').default('nats://127.0.0.1:4222'),
    )
    .addOption(
      new Option('--grace <seconds>', "the pod's terminationGracePeriodSeconds")
        .env('DRAINWATCH_GRACE_SECONDS')
        .default('30'),
    )
    .addOption(
      new Option('--prestop <policy>', 'adaptive, or fixed:<seconds>')
        .env('DRAINWATCH_PRESTOP')
        .default('adaptive'),
    )
    .action(
      action('agent', () => {
        throw new NotImplementedError('agent');
      }),
    );
}
