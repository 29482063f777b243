import type { ContainerSpec } from './pod-spec.js';
import { SHELLS } from './prestop-reading.js';
import { type ShellToken, tokeniseShell } from './shell-script.js';

// Who is PID 1 in a container, as far as its command and args show: the kubelet's SIGTERM goes to
// PID 1 only. A shell running the app as a child (`sh -c "node app.js"`) or npm/yarn (which start
// the app through a shell) keep it from the app, which then drains nothing and is SIGKILLed at the
// end of the grace period (Node.js Docker best practices; npm/cli#4603).

const PACKAGE_MANAGERS = new Set(['npm', 'npx', 'yarn', 'pnpm']);
/** Inits that forward signals to their child. */
const INITS = new Set(['tini', 'dumb-init', 'catatonit', 's6-svscan', 'supervisord', 'runsv']);

export interface Pid1Problem {
  /** What runs as PID 1, e.g. `sh -c "node app.js"` or `npm start`. */
  readonly pid1: string;
  /** The command the app should run as instead (`exec node app.js`), when it can be told. */
  readonly app?: string;
}

const base = (cmd: string) => cmd.replace(/^.*\//, '');

/** The last command of a script as words, or undefined when the script traps signals itself. */
function lastCommand(tokens: readonly ShellToken[]): string[] | undefined {
  let current: string[] = [];
  let last: string[] = [];
  for (const t of tokens) {
    if (typeof t === 'string') current.push(t);
    else if ('variable' in t) current.push(`$${t.variable}`);
    else if ([';', '&&', '||', '\n', '&', '|'].includes(t.op)) {
      if (current.length > 0) last = current;
      current = [];
    }
  }
  if (current.length > 0) last = current;
  if (tokens.some((t) => t === 'trap')) return undefined;
  return last;
}

/**
 * A problem when the container's command (or, without one, its args) starts a shell without `exec`
 * or a package manager as PID 1; undefined when the app is PID 1 or an init forwards signals.
 */
export function pid1Problem(c: Pick<ContainerSpec, 'command' | 'args'>): Pid1Problem | undefined {
  const argv = c.command ? [...c.command, ...(c.args ?? [])] : [...(c.args ?? [])];
  const head = argv[0];
  if (head === undefined || INITS.has(base(head))) return undefined;
  if (PACKAGE_MANAGERS.has(base(head))) return { pid1: argv.join(' ') };
  if (!SHELLS.test(head)) return undefined;
  const ci = argv.findIndex((a, i) => i > 0 && /^-[a-z]*c[a-z]*$/.test(a));
  const script = ci > 0 ? argv[ci + 1] : undefined;
  if (script === undefined) return undefined;
  const tokens = tokeniseShell(script);
  if (!tokens) return undefined;
  const cmd = lastCommand(tokens);
  if (!cmd || cmd.length === 0) return undefined;
  const shown = `${base(head)} -c ${JSON.stringify(script.trim())}`;
  if (cmd[0] === 'exec') {
    const execd = cmd[1] === undefined ? undefined : base(cmd[1]);
    if (execd !== undefined && PACKAGE_MANAGERS.has(execd)) return { pid1: cmd.slice(1).join(' ') };
    return undefined;
  }
  if (PACKAGE_MANAGERS.has(base(cmd[0]!))) return { pid1: `${shown} (then ${cmd.join(' ')})` };
  if (INITS.has(base(cmd[0]!))) return undefined;
  return { pid1: shown, app: cmd.join(' ') };
}
