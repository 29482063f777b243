import { type Command, Command as CommandClass, CommanderError } from 'commander';
import { VERSION } from '../lib/version.js';
import { EXIT } from './errors.js';

// Each command is loaded on demand: the agent runs as a sidecar in every pod and must not carry the
// collector's, the probes' or client-node's modules in its memory.
const COMMANDS: ReadonlyArray<readonly [string, () => Promise<Command>]> = [
  ['agent', async () => (await import('./commands/agent.js')).createAgentCommand()],
  ['collector', async () => (await import('./commands/collector.js')).createCollectorCommand()],
  ['probe', async () => (await import('./commands/probe.js')).createProbeCommand()],
  ['rehearse', async () => (await import('./commands/rehearse.js')).createRehearseCommand()],
  ['verify', async () => (await import('./commands/verify.js')).createVerifyCommand()],
  ['inject', async () => (await import('./commands/inject.js')).createInjectCommand()],
  ['lint', async () => (await import('./commands/lint.js')).createLintCommand()],
  ['report', async () => (await import('./commands/report.js')).createReportCommand()],
];

/** The program; with `only`, just that command (its own --help and parsing are unchanged). */
export async function createProgram(only?: string): Promise<Command> {
  const program = new CommandClass('drainwatch')
    .description('Proof that a Kubernetes rollout was invisible to users.')
    .version(VERSION, '-V, --version');
  const wanted = COMMANDS.filter(([name]) => only === undefined || name === only);
  for (const [, load] of wanted.length ? wanted : COMMANDS) program.addCommand(await load());
  applyCommon(program);
  return program;
}

// Commander's defaults exit 1 on a usage error; docs/architecture.md §3 reserves 1 for a failed gate, so every
// command throws instead and runCli maps usage errors to 2.
function applyCommon(cmd: Command): void {
  cmd.exitOverride();
  cmd.configureOutput({
    outputError: (str, write) => write(`drainwatch: ${str.replace(/^error: /, '').trim()}\n`),
  });
  for (const sub of cmd.commands) applyCommon(sub);
}

/** Runs the CLI and returns the exit code (it never calls process.exit itself). */
export async function runCli(argv: readonly string[]): Promise<number> {
  const first = argv[0];
  const program = await createProgram(first && COMMANDS.some(([name]) => name === first) ? first : undefined);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end with exitCode 0; `drainwatch` alone (help on stderr) and every
      // parse error are usage errors.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    throw err;
  }
  return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
}
