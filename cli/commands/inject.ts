import { Command, Option } from 'commander';
// The modules themselves rather than kube/index.js, which also loads verify's collector and probes.
import { DEFAULT_INJECT_OPTIONS, resolveInjectOptions } from '../../kube/config.js';
import { injectManifests } from '../../kube/inject.js';
import { readManifestInputs } from '../../kube/input.js';
import { formatDurationMs } from '../../lib/values.js';
import { durationMs, positiveInt } from '../parse.js';
import { action, optionsOf } from '../run.js';

interface InjectFlags {
  patch?: boolean;
  image: string;
  natsUrl: string;
  prestop: string;
  prestopMax: number;
  drainBudget: number;
  adminPort: number;
  proxyPort: number;
}

export function createInjectCommand(): Command {
  const d = DEFAULT_INJECT_OPTIONS;
  const cmd: Command = new Command('inject')
    .description(
      'Add the drainwatch agent as a native sidecar to Deployments, StatefulSets and DaemonSets (YAML in, YAML out).',
    )
    .argument(
      '[paths...]',
      'manifest files, directories (every *.yaml/*.yml under them), or - for stdin; read together, written to stdout as one multi-document stream',
    )
    .addOption(
      new Option('--patch', 'emit a kustomize strategic-merge patch instead of the full manifest').env(
        'DRAINWATCH_INJECT_PATCH',
      ),
    )
    .addOption(
      new Option('--image <image>', 'agent image').env('DRAINWATCH_AGENT_IMAGE').default(d.agentImage),
    )
    .addOption(
      new Option('--nats-url <url>', 'NATS URL the injected agent publishes to')
        .env('DRAINWATCH_INJECT_NATS_URL')
        .default(d.natsUrl),
    )
    .addOption(
      new Option(
        '--prestop <policy>',
        'auto (adaptive; an existing sleep N stays fixed:N), adaptive or fixed:<s>',
      )
        .env('DRAINWATCH_INJECT_PRESTOP')
        .default(d.preStop),
    )
    .addOption(
      new Option('--prestop-max <duration>', `longest an adaptive preStop waits`)
        .env('DRAINWATCH_INJECT_PRESTOP_MAX')
        .argParser(durationMs)
        .default(d.preStopMaxSeconds * 1000, formatDurationMs(d.preStopMaxSeconds * 1000)),
    )
    .addOption(
      new Option('--drain-budget <duration>', `time the app needs after SIGTERM`)
        .env('DRAINWATCH_DRAIN_BUDGET')
        .argParser(durationMs)
        .default(d.drainBudgetSeconds * 1000, formatDurationMs(d.drainBudgetSeconds * 1000)),
    )
    .addOption(
      new Option('--admin-port <port>', "agent's admin port")
        .env('DRAINWATCH_INJECT_ADMIN_PORT')
        .argParser(positiveInt)
        .default(d.adminPort),
    )
    .addOption(
      new Option('--proxy-port <port>', "agent's traffic port")
        .env('DRAINWATCH_INJECT_PROXY_PORT')
        .argParser(positiveInt)
        .default(d.proxyPort),
    )
    .action(
      action('inject', async (paths: string[]) => {
        const f = optionsOf<InjectFlags>(cmd);
        const options = {
          agentImage: f.image,
          natsUrl: f.natsUrl,
          preStop: f.prestop,
          preStopMaxSeconds: f.prestopMax / 1000,
          drainBudgetSeconds: f.drainBudget / 1000,
          adminPort: f.adminPort,
          proxyPort: f.proxyPort,
        };
        // Options are checked before any input is read (stdin may be a long pipe).
        resolveInjectOptions(options);
        const sources = await readManifestInputs(paths);
        const result = injectManifests(sources, { mode: f.patch ? 'patch' : 'full', ...options });
        for (const n of result.notes) process.stderr.write(`drainwatch inject: note: ${n}\n`);
        for (const w of result.warnings) process.stderr.write(`drainwatch inject: warning: ${w}\n`);
        process.stdout.write(result.output);
        return 0;
      }),
    );
  return cmd;
}
