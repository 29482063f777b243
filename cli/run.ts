import type { Command } from 'commander';
import { EXIT, exitCodeOf } from './errors.js';

/**
 * Wraps a command's action so every failure ends as one line on stderr and the exit code docs/architecture.md §3
 * gives it; the action itself returns the code for success or a failed gate.
 */
export function action<A extends unknown[]>(
  name: string,
  fn: (...args: A) => Promise<number | undefined> | number | undefined,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
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
