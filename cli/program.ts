import { Command, CommanderError } from 'commander';
import { createAgentCommand } from './commands/agent.js';
import { createCollectorCommand } from './commands/collector.js';
import { createInjectCommand } from './commands/inject.js';
import { createLintCommand } from './commands/lint.js';
import { createProbeCommand } from './commands/probe.js';
import { createRehearseCommand } from './commands/rehearse.js';
import { createReportCommand } from './commands/report.js';
import { createVerifyCommand } from './commands/verify.js';
import { EXIT } from './errors.js';
import { VERSION } from './version.js';

export function createProgram(): Command {
  const program = new Command('drainwatch')
    .description('Proof that a Kubernetes rollout was invisible to users.')
    .version(VERSION, '-V, --version')
    .addCommand(createAgentCommand())
    .addCommand(createCollectorCommand())
    .addCommand(createProbeCommand())
    .addCommand(createRehearseCommand())
    .addCommand(createVerifyCommand())
    .addCommand(createInjectCommand())
    .addCommand(createLintCommand())
    .addCommand(createReportCommand());
  applyCommon(program);
  return program;
}

// Commander's defaults exit 1 on a usage error; DESIGN §3 reserves 1 for a failed gate, so every
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
  const program = createProgram();
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
