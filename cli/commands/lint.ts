import { Command, Option } from 'commander';
// The modules themselves rather than kube/index.js, which also loads verify's collector and probes.
import { DEFAULT_LINT_OPTIONS } from '../../kube/config.js';
import { readManifestInputs } from '../../kube/input.js';
import { lintSources } from '../../kube/lint.js';
import { enabledRules, FAIL_ON, type FailOn, findLintConfig, parseRuleList } from '../../kube/lint-config.js';
import { formatFindings, LINT_FORMATS, type LintFormat } from '../../kube/lint-format.js';
import { DEFAULT_DOCS_BASE_URL, DOCS_URL_ENV } from '../../lib/docs-url.js';
import { formatDurationMs, parseUrl } from '../../lib/values.js';
import { VERSION } from '../../lib/version.js';
import { durationMs, oneOf } from '../parse.js';
import { action, optionsOf } from '../run.js';

interface LintFlags {
  format: LintFormat;
  drainBudget: number;
  disable: string[];
  enable: string[];
  config?: string;
  failOn?: FailOn;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function createLintCommand(): Command {
  const cmd: Command = new Command('lint')
    .description(
      'Check manifests for drain settings that lose users during rollouts (exit 1 when a finding reaches --fail-on).',
    )
    .argument(
      '[paths...]',
      'manifest files, directories (every *.yaml/*.yml under them), or - for stdin (kustomize build | drainwatch lint -)',
    )
    .addOption(
      new Option('--format <format>', 'text, json or sarif')
        .env('DRAINWATCH_LINT_FORMAT')
        .argParser(oneOf(LINT_FORMATS))
        .default('text'),
    )
    .addOption(
      new Option('--drain-budget <duration>', `time an app needs after SIGTERM`)
        .env('DRAINWATCH_DRAIN_BUDGET')
        .argParser(durationMs)
        .default(
          DEFAULT_LINT_OPTIONS.drainBudgetSeconds * 1000,
          formatDurationMs(DEFAULT_LINT_OPTIONS.drainBudgetSeconds * 1000),
        ),
    )
    .addOption(
      new Option('--disable <rules>', 'rule ids to switch off, comma-separated (all: every rule); repeatable')
        .env('DRAINWATCH_LINT_DISABLE')
        .argParser(collect)
        .default([]),
    )
    .addOption(
      new Option(
        '--enable <rules>',
        'rule ids to switch on over --disable all or the config file; repeatable',
      )
        .env('DRAINWATCH_LINT_ENABLE')
        .argParser(collect)
        .default([]),
    )
    .addOption(
      new Option(
        '--config <path>',
        'lint config file (default: .drainwatch.yaml in the working directory, if any)',
      ).env('DRAINWATCH_LINT_CONFIG'),
    )
    .addOption(
      new Option(
        '--fail-on <severity>',
        "lowest severity that exits 1: error or warning (default error, or the config file's lint.failOn)",
      )
        .env('DRAINWATCH_LINT_FAIL_ON')
        .argParser(oneOf(FAIL_ON)),
    )
    .action(
      action('lint', async (paths: string[]) => {
        const f = optionsOf<LintFlags>(cmd);
        const docsBase = parseUrl(DOCS_URL_ENV, process.env[DOCS_URL_ENV] || DEFAULT_DOCS_BASE_URL, [
          'http',
          'https',
        ]);
        // Every option is checked before any manifest is read.
        const config = await findLintConfig(f.config, process.cwd());
        const rules = enabledRules(
          { disable: parseRuleList('--disable', f.disable), enable: parseRuleList('--enable', f.enable) },
          config,
        );
        const failOn: FailOn = f.failOn ?? config?.failOn ?? 'error';
        const sources = await readManifestInputs(paths);
        const { findings, notes } = lintSources(sources, { drainBudgetSeconds: f.drainBudget / 1000, rules });
        for (const n of notes) process.stderr.write(`drainwatch lint: note: ${n}\n`);
        process.stdout.write(formatFindings(findings, f.format, VERSION, { cwd: process.cwd(), docsBase }));
        const failing = findings.some((x) => x.severity === 'error' || failOn === 'warning');
        return failing ? 1 : 0;
      }),
    );
  return cmd;
}
