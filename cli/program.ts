import { type Command, Command as CommandClass, CommanderError, type Option } from 'commander';
import { DURATION_GRAMMAR_HELP } from '../lib/values.js';
import { VERSION } from '../lib/version.js';
import { EXIT } from './errors.js';

/**
 * A command's name and the loader that imports its module on demand. Each entrypoint (the full CLI
 * in main.ts, each container image's in *-main.ts) lists its own table, so a compiler or an image
 * build following one entrypoint's imports reaches only the commands it can run.
 */
export type CommandTable = ReadonlyArray<readonly [name: string, load: () => Promise<Command>]>;

/** The program over `commands`; with `only`, just that command (its own --help and parsing are unchanged). */
export async function createProgram(commands: CommandTable, only?: string): Promise<Command> {
  const program = new CommandClass('drainwatch')
    .description('Proof that a Kubernetes rollout was invisible to users.')
    .version(VERSION, '-V, --version');
  const wanted = commands.filter(([name]) => only === undefined || name === only);
  for (const [, load] of wanted.length ? wanted : commands) program.addCommand(await load());
  applyCommon(program);
  return program;
}

// Commander's defaults exit 1 on a usage error; docs/architecture.md §3 reserves 1 for a failed gate, so every
// command throws instead and runCli maps usage errors to 2.
function applyCommon(cmd: Command): void {
  cmd.exitOverride();
  cmd.configureHelp({ optionDescription });
  if (cmd.parent) cmd.addHelpText('after', `\n${DURATION_GRAMMAR_HELP}`);
  cmd.configureOutput({
    outputError: (str, write) => write(`drainwatch: ${str.replace(/^error: /, '').trim()}\n`),
  });
  for (const sub of cmd.commands) applyCommon(sub);
}

/**
 * One format for every option's help: `<help> (default: 30s, env: DRAINWATCH_DURATION)`. The
 * default is the option's `defaultValueDescription` (set from the setting's one definition, also
 * when the component's config loader applies it rather than commander), shown as written.
 */
function optionDescription(option: Option): string {
  const extra: string[] = [];
  const shown =
    option.defaultValueDescription ??
    (option.defaultValue === undefined || typeof option.defaultValue === 'boolean'
      ? undefined
      : String(option.defaultValue));
  if (shown !== undefined) extra.push(`default: ${shown}`);
  if (option.envVar !== undefined) extra.push(`env: ${option.envVar}`);
  return extra.length > 0 ? `${option.description} (${extra.join(', ')})` : option.description;
}

/** Runs the CLI over `commands` and returns the exit code (it never calls process.exit itself). */
export async function runCli(argv: readonly string[], commands: CommandTable): Promise<number> {
  const first = argv[0];
  const only = first && commands.some(([name]) => name === first) ? first : undefined;
  const program = await createProgram(commands, only);
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
