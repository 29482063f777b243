import { Command, Option } from 'commander';
import {
  AGENT_DEFAULTS,
  type AgentFlags,
  capYoungGeneration,
  createAgent,
  formatHostPort,
  loadAgentConfig,
} from '../../agent/index.js';
import { action } from '../run.js';
import { VERSION } from '../version.js';

// Defaults live in AGENT_DEFAULTS (applied by loadAgentConfig), so commander's values are only
// what the user gave: a flag, else its environment variable.
function opt(flags: string, description: string, env: string): Option {
  return new Option(flags, description).env(env);
}

export function createAgentCommand(): Command {
  const d = AGENT_DEFAULTS;
  return new Command('agent')
    .description(
      'Run the drain-witness sidecar: a reverse proxy in front of the app port that publishes lifecycle events to NATS.',
    )
    .addOption(
      opt('--listen <host:port>', `where traffic arrives (default ${d.listen})`, 'DRAINWATCH_LISTEN'),
    )
    .addOption(opt('--upstream <host:port>', `the app (default ${d.upstream})`, 'DRAINWATCH_UPSTREAM'))
    .addOption(
      opt('--admin <host:port>', `preStop, health, metrics, state (default ${d.admin})`, 'DRAINWATCH_ADMIN'),
    )
    .addOption(opt('--nats-url <url>', `NATS with JetStream (default ${d.natsUrl})`, 'NATS_URL'))
    .addOption(
      opt(
        '--grace <seconds>',
        `the pod's terminationGracePeriodSeconds (default ${d.graceSeconds})`,
        'DRAINWATCH_GRACE_SECONDS',
      ),
    )
    .addOption(opt('--prestop <policy>', 'adaptive (default), or fixed:<seconds>', 'DRAINWATCH_PRESTOP'))
    .addOption(
      opt(
        '--prestop-min <duration>',
        `adaptive preStop: shortest wait (default ${d.prestopMinMs / 1000}s)`,
        'DRAINWATCH_PRESTOP_MIN',
      ),
    )
    .addOption(
      opt(
        '--prestop-quiet <duration>',
        `adaptive preStop: ends after this long without a new request (default ${d.prestopQuietMs / 1000}s)`,
        'DRAINWATCH_PRESTOP_QUIET',
      ),
    )
    .addOption(
      opt(
        '--prestop-max <duration>',
        'adaptive preStop: longest wait (default grace minus drain budget)',
        'DRAINWATCH_PRESTOP_MAX',
      ),
    )
    .addOption(
      opt(
        '--drain-budget <duration>',
        `time kept free for the app's own drain (default ${d.drainBudgetMs / 1000}s)`,
        'DRAINWATCH_DRAIN_BUDGET',
      ),
    )
    .addOption(
      opt(
        '--summary-interval <duration>',
        `traffic summary period (default ${d.summaryIntervalMs / 1000}s)`,
        'DRAINWATCH_SUMMARY_INTERVAL',
      ),
    )
    .addOption(
      opt(
        '--keepalive-timeout <duration>',
        `close an idle client connection after this long; set it above a load balancer's idle timeout (default ${d.keepAliveTimeoutMs / 1000}s)`,
        'DRAINWATCH_KEEPALIVE_TIMEOUT',
      ),
    )
    .addOption(
      opt(
        '--max-response-header-bytes <bytes>',
        `largest response head accepted from the app; a larger one is answered 502 (default ${d.maxResponseHeaderBytes})`,
        'DRAINWATCH_MAX_RESPONSE_HEADER_BYTES',
      ),
    )
    .addOption(
      opt(
        '--buffer-size <events>',
        `events kept while NATS is away (default ${d.bufferSize})`,
        'DRAINWATCH_BUFFER_SIZE',
      ),
    )
    .addOption(
      opt('--subject-root <root>', `NATS subject root (default ${d.subjectRoot})`, 'DRAINWATCH_SUBJECT_ROOT'),
    )
    .addOption(opt('--app-pid <pid>', "watch this pid for the app's exit", 'DRAINWATCH_APP_PID'))
    .addOption(opt('--pod-name <name>', 'pod name (default: hostname)', 'POD_NAME'))
    .addOption(opt('--namespace <ns>', 'pod namespace (default: default)', 'POD_NAMESPACE'))
    .addOption(
      opt('--workload <name>', 'workload (default: pod name without its hashes)', 'DRAINWATCH_WORKLOAD'),
    )
    .action(
      action('agent', async (flags: AgentFlags) => {
        const config = loadAgentConfig(flags, process.env);
        capYoungGeneration();
        // In a pod, adaptive preStop also waits for the EndpointSlices to mark this pod terminating.
        // client-node is loaded only there, so the agent stays small everywhere else.
        const endpointsTerminating = process.env.KUBERNETES_SERVICE_HOST
          ? (await import('../../cluster/kubernetes/index.js')).inClusterEndpointsSeam(process.env)
          : undefined;
        const agent = createAgent(config, {
          version: VERSION,
          ...(endpointsTerminating ? { endpointsTerminating } : {}),
        });
        const { listen, admin } = await agent.start();
        // A parent that started us with port 0 learns the ports from this one line.
        process.stdout.write(
          `drainwatch agent listening traffic=${formatHostPort({ host: listen.address, port: listen.port })} admin=${formatHostPort({ host: admin.address, port: admin.port })}\n`,
        );
        await new Promise<void>((resolve) => {
          let signals = 0;
          const onSignal = (): void => {
            signals += 1;
            // A second signal skips the wait for the app; the final flush still runs.
            agent.stop({ immediate: signals > 1 }).then(resolve, resolve);
          };
          process.on('SIGTERM', onSignal);
          process.on('SIGINT', onSignal);
        });
        await agent.stop();
        return 0;
      }),
    );
}
