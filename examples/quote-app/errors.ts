// Failure modes of the example quote app, each with a stable code.

/** A bad switch or a missing dependency of one: the process exits 2 with this one line. */
export class QuoteConfigError extends Error {
  readonly code = 'config-quote';
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting}: ${message}`);
    this.name = 'QuoteConfigError';
  }
}

/** The session store (Redis) could not be reached or answered an error. */
export class SessionStoreError extends Error {
  readonly code = 'session-store';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SessionStoreError';
  }
}
