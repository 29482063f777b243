import { Command, Option } from 'commander';
import { NotImplementedError } from '../errors.js';
import { action } from '../run.js';

export function createProbeCommand(): Command {
  return new Command('probe')
    .description(
      'Run synthetic authenticated users and WebSockets against a service and report what they lost.',
    )
    .addOption(new Option('--target <url>', 'the service entry point').env('DRAINWATCH_TARGET'))
    .addOption(new Option('--sessions <n>', 'synthetic users').env('DRAINWATCH_SESSIONS').default('50'))
    .addOption(
      new Option('--duration <d>', 'how long to run (30s, 2m)').env('DRAINWATCH_DURATION').default('30s'),
    )
    .addOption(new Option('--scenario <file>', 'scenario YAML').env('DRAINWATCH_SCENARIO'))
    .addOption(new Option('--nats-url <url>', 'publish results to this NATS').env('NATS_URL'))
    .action(
      action('probe', () => {
        throw new NotImplementedError('probe');
      }),
    );
}
