// One class per way the agent can fail. Codes starting with `config-` map to exit 2 in the CLI
// (cli/errors.ts exitCodeOf); the rest are run-time failures (exit 3).

/** A setting that cannot be parsed or contradicts another; the message names the setting. */
export class AgentConfigError extends Error {
  readonly code = 'config-invalid';
  readonly setting: string;
  constructor(setting: string, message: string) {
    super(`${setting}: ${message}`);
    this.name = 'AgentConfigError';
    this.setting = setting;
  }
}

/** The listen or admin address is taken by another process (or not bindable here). */
export class AgentPortInUseError extends Error {
  readonly code = 'config-port-in-use';
  readonly setting: string;
  constructor(setting: string, address: string, detail: string) {
    super(`${setting}: cannot listen on ${address} (${detail})`);
    this.name = 'AgentPortInUseError';
    this.setting = setting;
  }
}

/** start() called twice, or after stop(). */
export class AgentStateError extends Error {
  readonly code = 'agent-state';
  constructor(message: string) {
    super(message);
    this.name = 'AgentStateError';
  }
}
