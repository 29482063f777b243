import { Command } from 'commander';
import { createSettingIssues, settingName } from '../lib/values.js';
import { EXIT, exitCodeOf, UsageError } from './errors.js';
import { InvalidOption } from './parse.js';

/** A command's own rule over its parsed options: each broken one as [ENV (--flag), detail]. */
export type OptionCheck = (opts: Record<string, unknown>) => ReadonlyArray<readonly [string, string]>;

/**
 * Every bad option value (the parsers of cli/parse.ts leave an InvalidOption in its place) and
 * every broken rule of `check`, named together; throws nothing when all is well.
 */
export function checkOptions(cmd: Command, check?: OptionCheck): void {
  const issues = createSettingIssues((setting, detail) => new UsageError(`${setting}: ${detail}`));
  const opts = cmd.opts() as Record<string, unknown>;
  for (const option of cmd.options) {
    const v = opts[option.attributeName()];
    if (!(v instanceof InvalidOption)) continue;
    const flag = option.long ?? option.flags;
    issues.add(option.envVar ? settingName(option.envVar, flag) : flag, v.detail);
  }
  if (check) for (const [setting, detail] of check(opts)) issues.add(setting, detail);
  issues.throwIfAny();
}

/**
 * Wraps a command's action so bad options are all named before it starts, and every failure ends as one message on stderr and the exit code docs/architecture.md §3
 * gives it; the action itself returns the code for success or a failed gate.
 */
export function action<A extends unknown[]>(
  name: string,
  fn: (...args: A) => Promise<number | undefined> | number | undefined,
  check?: OptionCheck,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      // Commander passes the command last: every option is checked before the action starts anything.
      const cmd = args[args.length - 1];
      if (cmd instanceof Command) checkOptions(cmd, check);
      const code = await fn(...args);
      process.exitCode = code ?? EXIT.ok;
    } catch (err) {
      process.stderr.write(`drainwatch ${name}: ${(err as Error)?.message ?? String(err)}\n`);
      process.exitCode = exitCodeOf(err);
    }
  };
}

/** Options of a command as commander parsed them (flag > env > default). */
export function optionsOf<T>(cmd: Command): T {
  return cmd.opts() as T;
}
