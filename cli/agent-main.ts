import { runCli } from './program.js';

// The agent image's entrypoint (manifests/images/agent.Dockerfile): only `agent`, so the image
// compiles and ships the agent's modules and not rehearse, kube or the collector.
const code = await runCli(process.argv.slice(2), [
  ['agent', async () => (await import('./commands/agent.js')).createAgentCommand()],
]);
process.exitCode = code;
