import { Command, Option } from 'commander';
// The modules themselves rather than kube/index.js, which also loads verify's collector and probes.
import { DEFAULT_LINT_OPTIONS } from '../../kube/config.js';
import { readManifestSource } from '../../kube/input.js';
import { lintManifests } from '../../kube/lint.js';
import { formatFindings, LINT_FORMATS, type LintFormat } from '../../kube/lint-format.js';
import { VERSION } from '../../lib/version.js';
import { nonNegativeInt, oneOf } from '../parse.js';
import { action, optionsOf } from '../run.js';

interface LintFlags {
  format: LintFormat;
  drainBudget: number;
}

export function createLintCommand(): Command {
  const cmd: Command = new Command('lint')
    .description(
      'Check manifests for drain settings that lose users during rollouts (exit 1 when an error is found).',
    )
    .argument('[files...]', 'manifest files, or - for stdin')
    .addOption(
      new Option('--format <format>', 'text, json or sarif')
        .env('DRAINWATCH_LINT_FORMAT')
        .argParser(oneOf(LINT_FORMATS))
        .default('text'),
    )
    .addOption(
      new Option('--drain-budget <seconds>', 'time an app needs after SIGTERM')
        .env('DRAINWATCH_DRAIN_BUDGET')
        .argParser(nonNegativeInt)
        .default(DEFAULT_LINT_OPTIONS.drainBudgetSeconds),
    )
    .action(
      action('lint', async (files: string[]) => {
        const f = optionsOf<LintFlags>(cmd);
        const sources = [];
        for (const file of files.length > 0 ? files : ['-']) sources.push(await readManifestSource(file));
        const findings = lintManifests(sources, { drainBudgetSeconds: f.drainBudget });
        process.stdout.write(formatFindings(findings, f.format, VERSION));
        return findings.some((x) => x.severity === 'error') ? 1 : 0;
      }),
    );
  return cmd;
}
