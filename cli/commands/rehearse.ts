import { Command, Option } from 'commander';
import { NotImplementedError } from '../errors.js';
import { action } from '../run.js';

export function createRehearseCommand(): Command {
  return new Command('rehearse')
    .description(
      'Perform a real rolling update of a real app on this machine and show what users would have lost.',
    )
    .addOption(
      new Option('--app <command>', 'the app to run (gets PORT, REDIS_URL, NATS_URL)').env('DRAINWATCH_APP'),
    )
    .addOption(new Option('--replicas <n>', 'pods').env('DRAINWATCH_REPLICAS').default('3'))
    .addOption(new Option('--json', 'print the report as JSON'))
    .action(
      action('rehearse', () => {
        throw new NotImplementedError('rehearse');
      }),
    );
}
