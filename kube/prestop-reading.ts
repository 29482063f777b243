// What the preStop reader knows of a command, a sequence or a loop, and how those readings
// combine; and the command names both its argv reader (prestop.ts) and its script reader
// (shell-script.ts) recognise.

/** A shell, as the first word of an exec command (`sh`, `/bin/bash`, `/usr/local/bin/zsh`). */
export const SHELLS = /^(?:\/usr)?(?:\/bin\/|\/usr\/bin\/|\/usr\/local\/bin\/)?(?:sh|bash|ash|dash|zsh|ksh)$/;
export const SLEEP = /^(?:\/usr)?(?:\/bin\/|\/usr\/bin\/)?sleep$/;
/** Words a shell treats as no-op prefixes of a simple command. */
export const PREFIXES = new Set(['exec', 'command', 'builtin', 'time', 'nohup']);

/** How long a piece of a handler takes (seconds), or why that is unknown; the sleeps it rejects. */
export interface Reading {
  seconds: number | undefined;
  unknown?: string;
  onlySleeps: boolean;
  invalid: string[];
}

export const ZERO = (): Reading => ({ seconds: 0, onlySleeps: true, invalid: [] });
export const unknownReading = (why: string): Reading => ({
  seconds: undefined,
  unknown: why,
  onlySleeps: false,
  invalid: [],
});

/** `a` then `b`. */
export function seq(a: Reading, b: Reading): Reading {
  const r: Reading = {
    seconds: a.seconds === undefined || b.seconds === undefined ? undefined : a.seconds + b.seconds,
    onlySleeps: a.onlySleeps && b.onlySleeps,
    invalid: [...a.invalid, ...b.invalid],
  };
  const why = a.unknown ?? b.unknown;
  return why === undefined ? r : { ...r, unknown: why };
}

/** `r`, `n` times over. */
export function times(r: Reading, n: number): Reading {
  return { ...r, seconds: r.seconds === undefined ? undefined : r.seconds * n };
}
