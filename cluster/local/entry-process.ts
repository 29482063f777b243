import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { canConnect } from '../../lib/servers.js';
import { pollUntil } from '../../lib/wait.js';
import { EntryStartError } from './errors.js';

// A balancer process (nginx, HAProxy) run in the foreground for one rehearsal: started, waited for
// until its port accepts, stopped with SIGTERM (SIGKILL after 5 s), and killed should this process
// exit without stopping it.

export interface EntryProcess {
  readonly pid: number;
  /** Sends a signal to the process (nginx reloads on SIGHUP). */
  signal(signal: NodeJS.Signals): void;
  /** The last 2000 characters it wrote on stderr. */
  stderrTail(): string;
  stop(): Promise<void>;
}

export async function startEntryProcess(spec: {
  readonly what: string;
  readonly binary: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly port: number;
  readonly timeoutMs: number;
}): Promise<EntryProcess> {
  const child: ChildProcess = spawn(spec.binary, spec.args, {
    cwd: spec.cwd,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const killNow = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killNow);
  let tail = '';
  child.stderr?.on('data', (c: Buffer) => {
    tail = (tail + c.toString()).slice(-2000);
  });
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `exited with ${signal ?? code}`;
    process.off('exit', killNow);
  });
  child.once('error', (err) => {
    exited = err.message;
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(killNow, 5000);
      timer.unref();
      await gone;
      clearTimeout(timer);
    })();
    return stopping;
  };
  try {
    await pollUntil(
      async () => {
        if (exited) throw new EntryStartError(spec.what, `${exited}${tail ? `: ${tail.trim()}` : ''}`);
        return canConnect(spec.port);
      },
      {
        timeoutMs: spec.timeoutMs,
        intervalMs: 25,
        what: `${spec.what} accepting on port ${spec.port}`,
        fatal: (err) => err instanceof EntryStartError,
      },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    pid: child.pid ?? -1,
    signal: (s) => {
      child.kill(s);
    },
    stderrTail: () => tail,
    stop,
  };
}

/** What `<binary> <flag>` prints first (its version line), on stdout or stderr. */
export function versionLine(binary: string, flag: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(binary, [flag], { timeout: 5000 }, (_err, stdout, stderr) => {
      resolve(`${stdout}${stderr}`.split('\n')[0]?.trim() ?? binary);
    });
  });
}
