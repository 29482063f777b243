// Every way the collector can fail, one class each, with a stable `code`. Config errors carry a
// `config-*` code so the CLI maps them to exit 2.

export class CollectorConfigError extends Error {
  readonly code = 'config-invalid';
  /** The setting at fault, as its environment variable name. */
  readonly setting: string;
  /** What is wrong with it, without the setting's name. */
  readonly detail: string;
  constructor(setting: string, detail: string, flag?: string) {
    super(`${setting}${flag ? ` (${flag})` : ''}: ${detail}`);
    this.name = 'CollectorConfigError';
    this.setting = setting;
    this.detail = detail;
  }
}

/**
 * The listen address is taken (or not bindable here): a usage error, exit 2, as for the agent
 * (agent/errors.ts AgentPortInUseError).
 */
export class CollectorPortInUseError extends Error {
  readonly code = 'config-port-in-use';
  constructor(address: string, cause: Error & { code?: string }) {
    super(`DRAINWATCH_LISTEN (--listen): cannot listen on ${address} (${cause.code ?? cause.message})`, {
      cause,
    });
    this.name = 'CollectorPortInUseError';
  }
}

/** NATS or JetStream could not be reached or set up at start-up. */
export class NatsUnavailableError extends Error {
  readonly code = 'nats-unavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NatsUnavailableError';
  }
}

/** Redis could not be reached at start-up. */
export class RedisUnavailableError extends Error {
  readonly code = 'redis-unavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RedisUnavailableError';
  }
}

/** drain() did not see the consumer catch up in time. */
export class DrainTimeoutError extends Error {
  readonly code = 'drain-timeout';
  constructor(timeoutMs: number, detail: string) {
    super(`the collector did not catch up within ${timeoutMs} ms (${detail})`);
    this.name = 'DrainTimeoutError';
  }
}

/** The collector was started twice, or used after stop(). */
export class CollectorStateError extends Error {
  readonly code = 'collector-state';
  constructor(message: string) {
    super(message);
    this.name = 'CollectorStateError';
  }
}

/** A Lua script answered something its caller cannot read: the script and its caller disagree. */
export class ScriptReplyError extends Error {
  readonly code = 'script-reply';
  constructor(script: string, detail: string) {
    super(`${script} script: ${detail}`);
    this.name = 'ScriptReplyError';
  }
}
