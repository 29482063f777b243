import type { ChildProcess } from 'node:child_process';

// How a container runtime treats a pod's app, reproduced for a local process group: the command
// runs as the group's top process (the container's PID 1), SIGTERM goes to that process only,
// SIGKILL to the whole group at the grace period (the runtime kills the PID namespace), and the
// exit recorded is the top process's, as the kubelet records the container's.

/** Words a shell reads as the start of a compound command, which `exec` cannot prefix. */
const COMPOUND_START =
  /^(?:if|then|else|elif|fi|for|while|until|case|do|done|function|select|exec|\{|\}|!|\[\[)$/;

/** Leading `NAME=value` words, values quoted or not. */
const ASSIGNMENTS = /^(?:\s*[A-Za-z_][A-Za-z0-9_]*=(?:'[^']*'|"(?:[^"\\]|\\.)*"|[^\s'"])*)*\s*/;

/** True when `command` has a shell operator outside quotes: `;` `&` `|` `(` `)` a backtick or a newline. */
function hasOperator(command: string): boolean {
  let quote: string | undefined;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"') i++;
      continue;
    }
    if (c === '\\') i++;
    else if (c === "'" || c === '"') quote = c;
    else if (';&|()`\n'.includes(c)) return true;
  }
  return false;
}

/**
 * The `sh -c` script that runs `command` as the top process: a single simple command gets `exec`
 * (after its leading assignments), so the app is what receives SIGTERM, as it is when a pod's
 * `command:` names it directly. A command with shell operators (`a && b`, `a; b`, a pipeline) is
 * left as it is: the shell stays the top process, exactly as with `command: [sh, -c, ...]` in a
 * container, and must forward SIGTERM itself. Not every shell execs a lone command (Debian's dash
 * 0.5.12 does not), so this does not rely on it.
 */
export function execScript(command: string): string {
  if (hasOperator(command)) return command;
  const lead = ASSIGNMENTS.exec(command)?.[0] ?? '';
  const rest = command.slice(lead.length);
  const first = rest.split(/\s+/, 1)[0] ?? '';
  if (first === '' || COMPOUND_START.test(first)) return command;
  return `${lead}exec ${rest}`;
}

/** Sends `signal` to the top process only, as a container runtime's SIGTERM reaches PID 1 alone. */
export function signalTop(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** Sends `signal` to the whole process group (the top process was spawned `detached`, so it leads one). */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is already gone.
  }
}

/** Whether any process of the group led by `pid` is still alive. */
export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * What the top process's exit means for the rest of its group. A top process that died of the
 * SIGTERM's default action would, as a container's PID 1, have had that SIGTERM ignored by the
 * kernel (PID 1 gets no default signal actions): its children keep running until they exit or
 * the grace period's SIGKILL, which is what the group is left to do here (`wait`). Any other exit
 * of the top process ends the container, and the runtime kills what is left of it (`kill`).
 */
export function afterTopExit(signal: NodeJS.Signals | null, sigtermSent: boolean): 'wait' | 'kill' {
  return sigtermSent && signal === 'SIGTERM' ? 'wait' : 'kill';
}

/** Lines of an app's stderr a start failure quotes: enough for a Node.js stack and its cause. */
export const STDERR_TAIL_LINES = 20;

/**
 * The last `max` lines an app wrote to stderr, for the error that reports its death at start
 * (a crash's message and stack come before Node's closing `Node.js v20…` line, so one line is
 * never enough). Chunks are joined before splitting: a line may arrive in pieces.
 */
export function createLineTail(max = STDERR_TAIL_LINES): {
  push(text: string): void;
  lines(): string[];
  clear(): void;
} {
  let buffer = '';
  return {
    push(text) {
      buffer += text;
      // Keep a bounded amount: max lines of at most ~1 KiB each is plenty.
      if (buffer.length > max * 1024) buffer = buffer.slice(-max * 1024);
    },
    lines() {
      return buffer
        .split('\n')
        .map((l) => l.trimEnd())
        .filter((l) => l !== '')
        .slice(-max);
    },
    clear() {
      buffer = '';
    },
  };
}
