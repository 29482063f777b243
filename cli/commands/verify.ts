import { Command, Option } from 'commander';
import { NotImplementedError } from '../errors.js';
import { action } from '../run.js';

export function createVerifyCommand(): Command {
  return new Command('verify')
    .description(
      'Probe a Kubernetes Deployment through a rollout restart and gate on the session-persistence score.',
    )
    .addOption(new Option('--namespace <ns>', 'namespace').env('DRAINWATCH_NAMESPACE'))
    .addOption(new Option('--deployment <name>', 'Deployment to restart').env('DRAINWATCH_DEPLOYMENT'))
    .addOption(new Option('--target <url>', 'the service entry point').env('DRAINWATCH_TARGET'))
    .action(
      action('verify', () => {
        throw new NotImplementedError('verify');
      }),
    );
}
