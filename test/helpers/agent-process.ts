import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The compiled CLI's agent as a child process, the way the rehearsal runs it: ports learned from
// its one "listening" line on stdout.

export const CLI_BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface AgentProcess {
  readonly child: ChildProcess;
  readonly trafficUrl: string;
  readonly adminUrl: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  /** Peak resident memory (VmHWM) of the agent process, in bytes. */
  peakRssBytes(): number;
  kill(): void;
}

export function vmHwmBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
  return kb * 1024;
}

export function vmRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
  return kb * 1024;
}

export async function spawnAgent(env: Record<string, string>, timeoutMs = 20_000): Promise<AgentProcess> {
  const child = spawn(process.execPath, [CLI_BIN, 'agent'], {
    env: { ...process.env, DRAINWATCH_LISTEN: '127.0.0.1:0', DRAINWATCH_ADMIN: '127.0.0.1:0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  const line = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`agent printed no listening line: ${stderr}`)),
      timeoutMs,
    );
    timer.unref();
    child.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString();
      const m = /^drainwatch agent listening traffic=(\S+) admin=(\S+)$/m.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    void exited.then((e) => reject(new Error(`agent exited (${e.code}) before listening: ${e.stderr}`)));
  });
  return {
    child,
    trafficUrl: `http://${line[1]}`,
    adminUrl: `http://${line[2]}`,
    exited,
    peakRssBytes: () => vmHwmBytes(child.pid!),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
