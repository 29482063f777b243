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
