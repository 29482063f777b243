import { Command, Option } from 'commander';
import { NotImplementedError } from '../errors.js';
import { action } from '../run.js';

export function createReportCommand(): Command {
  return new Command('report')
    .description('Print a stored rollout report again.')
    .argument('[id]', 'rollout id (default: the latest)')
    .addOption(new Option('--redis-url <url>', 'Redis').env('REDIS_URL').default('redis://127.0.0.1:6379'))
    .option('--json', 'print JSON')
    .action(
      action('report', () => {
        throw new NotImplementedError('report');
      }),
    );
}
