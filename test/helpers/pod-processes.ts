import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { canConnect, findBinary, freePort } from '../../lib/servers.js';
import { pollUntil } from '../../lib/wait.js';

// The processes of a manifest's containers on loopback (test/helpers/manifest-pods.ts reads what
// they run): started with exactly the environment given, watched until they listen, signalled as
// the kubelet signals a container, and all killed at the end of a test.

/**
 * The names of the binaries that are not installed (none: the test can run). An override such as
 * DRAINWATCH_NATS_SERVER_BIN (lib/servers.ts's convention) counts as installed.
 */
export function missingBinaries(names: readonly string[]): string[] {
  return names.filter((n) => {
    try {
      findBinary(n, `DRAINWATCH_${n.toUpperCase().replaceAll('-', '_')}_BIN`);
      return false;
    } catch {
      return true;
    }
  });
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** `n` consecutive free loopback ports, the first returned: for a script that computes `base + i`. */
export async function freePortBlock(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = await freePort();
    const rest = await Promise.all(Array.from({ length: n - 1 }, (_, k) => bindable(base + k + 1)));
    if (rest.every(Boolean)) return base;
  }
  throw new Error(`no ${n} consecutive free ports found`);
}

/** `n` distinct free loopback ports, none of `taken`. */
export async function freePorts(n: number, taken: readonly number[] = []): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) {
    const p = await freePort();
    if (!taken.includes(p)) ports.add(p);
  }
  return [...ports];
}

export interface PodProcess {
  readonly pid: number;
  /** Resolves when the process has exited, with its exit code or signal. */
  readonly exited: Promise<string>;
  signal(sig: NodeJS.Signals): void;
  /** The last 16,000 characters it wrote (stdout and stderr). */
  output(): string;
}

export interface PodProcesses {
  /**
   * Starts `bin args` with exactly `env` (plus PATH) in `cwd`; resolves once `host` (default
   * 127.0.0.1):`port` accepts connections, throws (with its output) if it exits first.
   */
  start(o: {
    bin: string;
    args: readonly string[];
    env: Record<string, string>;
    cwd: string;
    port: number;
    host?: string;
  }): Promise<PodProcess>;
  /**
   * SIGKILL to every process still running, and to what they started (their process group), as
   * the end of a pod kills every process in its containers.
   */
  stopAll(): Promise<void>;
}

/** SIGKILL to `c`'s process group (it leads one: spawned detached); nothing when it has ended. */
function killGroup(c: ChildProcess): void {
  try {
    process.kill(-c.pid!, 'SIGKILL');
  } catch {
    // ESRCH: the group has ended.
  }
}

export function createPodProcesses(): PodProcesses {
  const live = new Set<ChildProcess>();
  const started: ChildProcess[] = [];
  return {
    async start(o) {
      const child = spawn(o.bin, o.args, {
        cwd: o.cwd,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...o.env },
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group: what the container's script leaves in the background ends with it.
        detached: true,
      });
      live.add(child);
      started.push(child);
      let out = '';
      const keep = (b: Buffer) => {
        out = (out + b.toString()).slice(-16_000);
      };
      child.stdout!.on('data', keep);
      child.stderr!.on('data', keep);
      let gone: string | undefined;
      const exited = new Promise<string>((resolve) => {
        // 'close', not 'exit': by then its output has been read, for the error message.
        child.once('close', (code, sig) => {
          live.delete(child);
          gone = String(sig ?? code);
          resolve(gone);
        });
        child.once('error', (err) => {
          gone = err.message;
          resolve(gone);
        });
      });
      await pollUntil(
        async () => {
          if (gone !== undefined) throw new Error(`${o.bin} exited (${gone}) before listening: ${out}`);
          return canConnect(o.port, o.host);
        },
        {
          timeoutMs: 15_000,
          intervalMs: 25,
          what: `${o.bin} on port ${o.port}`,
          fatal: () => gone !== undefined,
        },
      );
      return {
        pid: child.pid!,
        exited,
        // SIGKILL ends the container, every process in it; another signal goes to its first process.
        signal: (sig) => {
          if (gone === undefined) sig === 'SIGKILL' ? killGroup(child) : child.kill(sig);
        },
        output: () => out,
      };
    },
    async stopAll() {
      const all = [...live];
      await Promise.all(
        all.map(
          (c) =>
            new Promise<void>((resolve) => {
              c.once('close', () => resolve());
              killGroup(c);
            }),
        ),
      );
      // What an exited container's first process left behind.
      for (const c of started) killGroup(c);
    },
  };
}
