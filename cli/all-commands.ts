import type { CommandTable } from './program.js';

// Each command is loaded on demand: `drainwatch agent` must not carry the collector's, the probes'
// or client-node's modules in its memory.
export const ALL_COMMANDS: CommandTable = [
  ['agent', async () => (await import('./commands/agent.js')).createAgentCommand()],
  ['collector', async () => (await import('./commands/collector.js')).createCollectorCommand()],
  ['probe', async () => (await import('./commands/probe.js')).createProbeCommand()],
  ['rehearse', async () => (await import('./commands/rehearse.js')).createRehearseCommand()],
  ['verify', async () => (await import('./commands/verify.js')).createVerifyCommand()],
  ['inject', async () => (await import('./commands/inject.js')).createInjectCommand()],
  ['lint', async () => (await import('./commands/lint.js')).createLintCommand()],
  ['report', async () => (await import('./commands/report.js')).createReportCommand()],
];
