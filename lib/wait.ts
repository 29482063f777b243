// Bounded waits: every wait in drainwatch has a deadline, and no timer keeps the process alive.

export class WaitTimeoutError extends Error {
  readonly code = 'wait-timeout';
  constructor(what: string, timeoutMs: number, lastError?: unknown) {
    super(
      `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message ?? lastError})` : ''}`,
    );
    this.name = 'WaitTimeoutError';
  }
}

/**
 * setTimeout's largest delay (ms): a signed 32-bit count (Node's timers doc). A longer one,
 * Infinity too, fires after 1 ms with a TimeoutOverflowWarning.
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/**
 * True when `work` settles (resolves or rejects) within `ms` (ms; capped at MAX_TIMER_DELAY_MS, so
 * Infinity waits), false when the time runs out first; the work goes on either way. The timer is
 * unref'ed and cleared. Never rejects.
 */
export async function settledWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.min(MAX_TIMER_DELAY_MS, Math.max(0, ms)));
    timer.unref();
  });
  const done = work.then(
    () => true,
    () => true,
  );
  try {
    return await Promise.race([done, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves after `ms`; the timer is unref'ed so it never holds the process open. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    timer.unref();
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface PollOptions {
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** Named in the timeout error. */
  readonly what?: string;
}

/**
 * Calls `check` until it returns a truthy value, then resolves with it. An error thrown by `check`
 * is rethrown at once when `fatal` says it is final; other errors are remembered and retried until
 * the deadline (the last one is named in the timeout error).
 */
export async function pollUntil<T>(
  check: () => T | Promise<T>,
  options: PollOptions & { fatal?: (err: unknown) => boolean },
): Promise<NonNullable<T>> {
  const deadline = Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 20;
  const isFatal = options.fatal ?? (() => false);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      if (isFatal(err)) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline)
      throw new WaitTimeoutError(options.what ?? 'a condition', options.timeoutMs, lastError);
    await delay(interval);
  }
}
