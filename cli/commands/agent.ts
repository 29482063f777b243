import { Command, type Option } from 'commander';
import { type AgentFlags, capYoungGeneration, createAgent, loadAgentConfig } from '../../agent/index.js';
import {
  AGENT_SETTINGS,
  type AgentSettingKey,
  agentSettingDefault,
  agentSettingHelp,
} from '../../contract/index.js';
import { createLogger } from '../../lib/log.js';
import { formatHostPort } from '../../lib/values.js';
import { VERSION } from '../../lib/version.js';
import { settingOption } from '../parse.js';
import { action } from '../run.js';

// Generated from the contract's settings table. Defaults are applied by loadAgentConfig, so
// commander's values are only what the user gave: a flag, else its environment variable.
function settingOptions(): Option[] {
  return (Object.keys(AGENT_SETTINGS) as AgentSettingKey[]).map((key) =>
    settingOption(
      AGENT_SETTINGS[key].flag,
      agentSettingHelp(key),
      AGENT_SETTINGS[key].env,
      agentSettingDefault(key),
    ),
  );
}

export function createAgentCommand(): Command {
  const cmd = new Command('agent').description(
    'Run the drain-witness sidecar: a reverse proxy in front of the app port that publishes lifecycle events to NATS.',
  );
  for (const option of settingOptions()) cmd.addOption(option);
  return cmd.action(
    action('agent', async (flags: AgentFlags) => {
      const config = loadAgentConfig(flags, process.env);
      capYoungGeneration();
      // In a pod, adaptive preStop also waits for the EndpointSlices to mark this pod terminating.
      // client-node is loaded only there, so the agent stays small everywhere else.
      const endpointsTerminating = process.env.KUBERNETES_SERVICE_HOST
        ? (await import('../../cluster/kubernetes/index.js')).inClusterEndpointsSeam(process.env)
        : undefined;
      const log = createLogger({ name: 'agent', level: config.logLevel, format: config.logFormat });
      const agent = createAgent(config, {
        version: VERSION,
        log,
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
