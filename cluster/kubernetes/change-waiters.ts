// Waits on the adapter's watch state: each wait re-evaluates its check after every watch event,
// bounded by its own timeout and abort signal.

export interface ChangeWaiters {
  /** A watch event was applied: every pending check runs again. */
  changed(): void;
  /** Resolves with the first non-undefined value of `check`, re-evaluated after each watch event. */
  waitFor<T>(
    check: () => T | undefined,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<T | 'timeout' | 'aborted'>;
  /** Forgets every pending wait (they never resolve; their timers still end them). */
  clear(): void;
}

export function createChangeWaiters(): ChangeWaiters {
  const waiters = new Set<() => void>();
  return {
    changed() {
      for (const w of [...waiters]) w();
    },
    waitFor<T>(check: () => T | undefined, timeoutMs: number, signal?: AbortSignal) {
      return new Promise<T | 'timeout' | 'aborted'>((resolve) => {
        const finish = (v: T | 'timeout' | 'aborted') => {
          waiters.delete(onChange);
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(v);
        };
        const onChange = () => {
          const v = check();
          if (v !== undefined) finish(v);
        };
        const onAbort = () => finish('aborted');
        const timer = setTimeout(() => finish('timeout'), timeoutMs);
        timer.unref();
        if (signal?.aborted) return finish('aborted');
        signal?.addEventListener('abort', onAbort, { once: true });
        waiters.add(onChange);
        onChange();
      });
    },
    clear() {
      for (const w of [...waiters]) waiters.delete(w);
    },
  };
}
