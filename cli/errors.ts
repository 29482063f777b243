// The CLI's exit codes (docs/architecture.md §3) and the errors that map to them.

/**
 * 0 ok (or the gate passed), 1 the gate failed, 2 usage, 3 runtime failure, 4 inconclusive: a gate
 * was asked but the run cannot be judged (its probe or machine was overloaded).
 */
export const EXIT = { ok: 0, gateFailed: 1, usage: 2, runtime: 3, inconclusive: 4 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A bad flag, environment value or file: exit 2 with one line naming it. */
export class UsageError extends Error {
  readonly code = 'usage';
  readonly exitCode = EXIT.usage;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A dependency unreachable or another failure at run time: exit 3. */
export class RuntimeFailure extends Error {
  readonly code = 'runtime';
  readonly exitCode = EXIT.runtime;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RuntimeFailure';
  }
}

/** The exit code of a gate verdict: none asked is ok; an inconclusive run never passes nor fails. */
export function gateExitCode(gate: { passed: boolean; inconclusive?: string } | undefined): ExitCode {
  if (!gate) return EXIT.ok;
  if (gate.inconclusive !== undefined) return EXIT.inconclusive;
  return gate.passed ? EXIT.ok : EXIT.gateFailed;
}

/** Maps any error to the exit code docs/architecture.md §3 assigns it; errors that carry no code are runtime failures. */
export function exitCodeOf(err: unknown): ExitCode {
  const code = (err as { exitCode?: unknown })?.exitCode;
  if (code === EXIT.gateFailed || code === EXIT.usage || code === EXIT.runtime) return code;
  // Components' config errors all carry code 'config-*' or 'usage-*' and mean a bad value.
  const c = String((err as { code?: unknown })?.code ?? '');
  if (c.startsWith('config') || c === 'usage') return EXIT.usage;
  return EXIT.runtime;
}
