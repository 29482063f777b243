import { Command } from 'commander';
import { NotImplementedError } from '../errors.js';
import { action } from '../run.js';

export function createInjectCommand(): Command {
  return new Command('inject')
    .description(
      'Add the drainwatch agent as a native sidecar to Deployments, StatefulSets and DaemonSets (YAML in, YAML out).',
    )
    .argument('[file]', 'manifest file, or - for stdin', '-')
    .option('--patch', 'emit a kustomize patch instead of the full manifest')
    .action(
      action('inject', () => {
        throw new NotImplementedError('inject');
      }),
    );
}
