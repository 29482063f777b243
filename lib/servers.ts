import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pollUntil } from './wait.js';

// Real nats-server and redis-server processes on loopback, for the tests and for the CLI's embedded
// defaults (`rehearse` with no NATS_URL/REDIS_URL). Never a mock: drainwatch's claims are about what
// happens on the wire.

export class ServerBinaryMissingError extends Error {
  readonly code = 'server-binary-missing';
  constructor(binary: string) {
    super(
      `${binary} not found on PATH or in /usr/sbin, /usr/bin; run scripts/setup.sh (Debian/Ubuntu) or install ${binary}`,
    );
    this.name = 'ServerBinaryMissingError';
  }
}

export class ServerStartError extends Error {
  readonly code = 'server-start-failed';
  constructor(binary: string, detail: string) {
    super(`${binary} did not start: ${detail}`);
    this.name = 'ServerStartError';
  }
}

export function findBinary(name: string, envOverride?: string): string {
  const override = envOverride ? process.env[envOverride] : undefined;
  if (override) return override;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  throw new ServerBinaryMissingError(name);
}

// A safety net only: children still alive when this process exits are killed, so a crashed test
// run leaves no orphan servers behind.
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of liveChildren) c.kill('SIGKILL');
    });
  }
}

/**
 * A free TCP port on 127.0.0.1 for a process that must be told its port (nats-server, redis-server,
 * an app given PORT). The port is released before that process binds it, so it is drawn at random
 * from below the kernel's ephemeral range: a port-0 bind elsewhere on the machine (every test server,
 * every outgoing connection) can never take it in between, as it could take a kernel-chosen one.
 */
export async function freePort(): Promise<number> {
  const [low] = ephemeralRange();
  const min = 10_000;
  const max = Math.max(min + 1000, low) - 1;
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = min + Math.floor(Math.random() * (max - min));
    if (await canBind(port)) return port;
  }
  return bindAndRelease(0);
}

function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (lo && hi) return [lo, hi];
  } catch {
    // not Linux: use the IANA dynamic range's bounds
  }
  return [49152, 65535];
}

async function canBind(port: number): Promise<boolean> {
  try {
    return (await bindAndRelease(port)) === port;
  } catch {
    return false;
  }
}

function bindAndRelease(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => {
      const addr = srv.address();
      const bound = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(bound));
    });
  });
}

export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = tcpConnect({ port, host });
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(false);
    }, timeoutMs);
    timer.unref();
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** The directory holding the server's data and logs; kept across restart(), removed by stop(). */
  readonly dir: string;
  /** Stops the process (SIGTERM, SIGKILL after 5 s) but keeps its data, so `start()` can bring it back on the same port. */
  pause(): Promise<void>;
  /** Starts again on the same port with the same data after pause(). */
  resume(): Promise<void>;
  /** Stops and removes its directory. Safe to call twice: the same promise is returned. */
  stop(): Promise<void>;
}

interface ProcessSpec {
  readonly binary: string;
  readonly args: (port: number) => string[];
  readonly urlFor: (port: number) => string;
}

async function startManaged(
  spec: ProcessSpec,
  dir: string,
  port: number,
  startTimeoutMs: number,
): Promise<RunningServer> {
  let child: ChildProcess | undefined;
  let stderrTail = '';

  const launch = async (): Promise<void> => {
    const proc = spawn(spec.binary, spec.args(port), { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    track(proc);
    stderrTail = '';
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString()).slice(-2000);
    });
    let exited: string | undefined;
    proc.once('exit', (code, signal) => {
      exited = `exited with ${signal ?? code}`;
    });
    proc.once('error', (err) => {
      exited = err.message;
    });
    await pollUntil(
      async () => {
        if (exited)
          throw new ServerStartError(spec.binary, `${exited}${stderrTail ? `: ${stderrTail.trim()}` : ''}`);
        return canConnect(port);
      },
      {
        timeoutMs: startTimeoutMs,
        intervalMs: 25,
        what: `${spec.binary} accepting on port ${port}`,
        // A server that exited will not start listening later: give up at once.
        fatal: (err) => err instanceof ServerStartError,
      },
    );
  };

  const kill = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    timer.unref();
    await gone;
    clearTimeout(timer);
  };

  await launch();
  let stopping: Promise<void> | undefined;
  return {
    url: spec.urlFor(port),
    port,
    get pid() {
      return child?.pid ?? -1;
    },
    dir,
    pause: kill,
    resume: launch,
    stop() {
      stopping ??= (async () => {
        await kill();
        await rm(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

export interface StartOptions {
  /** A fixed port; by default a free one is chosen. */
  readonly port?: number;
  readonly startTimeoutMs?: number;
  /** More arguments after the defaults (a cluster member's settings), given the port chosen. */
  readonly extraArgs?: (port: number, dir: string) => readonly string[];
  /**
   * A config file given before every other argument, where redis-server reads it; sentinel mode
   * (`--sentinel`) needs one it can rewrite.
   */
  readonly configFile?: string;
}

/** A real `nats-server -js` on 127.0.0.1 with its store in a fresh temp directory. */
export async function startNatsServer(options: StartOptions = {}): Promise<RunningServer> {
  const binary = findBinary('nats-server', 'DRAINWATCH_NATS_SERVER_BIN');
  const dir = await mkdtemp(join(tmpdir(), 'drainwatch-nats-'));
  const spec: ProcessSpec = {
    binary,
    args: (port) => [
      ...['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', join(dir, 'store')],
      ...(options.extraArgs?.(port, dir) ?? []),
    ],
    urlFor: (port) => `nats://127.0.0.1:${port}`,
  };
  return startWithRetry(spec, dir, options);
}

/** A real `redis-server` on 127.0.0.1 that keeps nothing on disk. */
export async function startRedisServer(options: StartOptions = {}): Promise<RunningServer> {
  const binary = findBinary('redis-server', 'DRAINWATCH_REDIS_SERVER_BIN');
  const dir = await mkdtemp(join(tmpdir(), 'drainwatch-redis-'));
  const spec: ProcessSpec = {
    binary,
    args: (port) => [
      ...(options.configFile ? [options.configFile] : []),
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--daemonize',
      'no',
      '--protected-mode',
      'yes',
      ...(options.extraArgs?.(port, dir) ?? []),
    ],
    urlFor: (port) => `redis://127.0.0.1:${port}`,
  };
  return startWithRetry(spec, dir, options);
}

async function startWithRetry(spec: ProcessSpec, dir: string, options: StartOptions): Promise<RunningServer> {
  const timeout = options.startTimeoutMs ?? 15_000;
  // freePort() releases the port before the server binds it: another process can take it in
  // between, so a start that fails is retried on a fresh port a few times.
  let lastError: unknown;
  for (let attempt = 0; attempt < (options.port ? 1 : 4); attempt++) {
    const port = options.port ?? (await freePort());
    try {
      return await startManaged(spec, dir, port, timeout);
    } catch (err) {
      lastError = err;
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError;
}
