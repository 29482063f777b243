import { Command } from 'commander';
import { NotImplementedError } from '../errors.js';
import { action } from '../run.js';

export function createLintCommand(): Command {
  return new Command('lint')
    .description('Check manifests for drain settings that lose users during rollouts.')
    .argument('[files...]', 'manifest files, or - for stdin')
    .option('--format <format>', 'text, json or sarif', 'text')
    .action(
      action('lint', () => {
        throw new NotImplementedError('lint');
      }),
    );
}
