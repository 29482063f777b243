import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canConnect, freePort } from '../../lib/servers.js';
import { pollUntil } from '../../lib/wait.js';
import { redisCall } from './redis-call.js';

// The pods of manifests/redis-sentinel/ on loopback: each "pod" is two processes, its Redis and its
// sentinel, both started by the container command of the StatefulSet running the start.sh of the
// ConfigMap, with the pod's environment and only the addresses changed (every host 127.0.0.1,
// distinct free ports, passed as NODE_HOSTS/REDIS_PORTS/SENTINEL_PORTS, which start.sh reads).
// A pod's data and config directories outlive its processes, as its volumes outlive its containers.

export type PodRole = 'redis' | 'sentinel';

export interface LoopbackPodsOptions {
  /** The text of start.sh, from the ConfigMap. */
  readonly script: string;
  /** The path the containers run it from (the ConfigMap's mount), replaced in `command`. */
  readonly scriptPath: string;
  /** Each container's command, from the StatefulSet: `['sh', '/scripts/start.sh', 'redis']`. */
  readonly command: Readonly<Record<PodRole, readonly string[]>>;
  /** The containers' literal env (values from the manifest), plus the pod's own settings. */
  readonly env: Readonly<Record<string, string>>;
  readonly replicas: number;
}

export interface LoopbackPods {
  readonly redisPorts: readonly number[];
  readonly sentinelPorts: readonly number[];
  /**
   * Starts one container of pod `i`; resolves once it accepts connections, with what start.sh
   * logged (its one decision line). Throws if the process exits first.
   */
  start(i: number, role: PodRole): Promise<string>;
  /** SIGKILL to both containers of pod `i` (a node lost); its directories stay. */
  kill(i: number): Promise<void>;
  /** One command on the server or sentinel at `port`, authenticated with `password`. */
  ask(port: number, ...args: string[]): Promise<unknown>;
  stop(): Promise<void>;
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

export async function startLoopbackPods(password: string, o: LoopbackPodsOptions): Promise<LoopbackPods> {
  const root = await mkdtemp(join(tmpdir(), 'drainwatch-sentinel-pods-'));
  const scriptFile = join(root, 'start.sh');
  await writeFile(scriptFile, o.script);
  const ports = await distinctFreePorts(2 * o.replicas);
  const redisPorts = ports.slice(0, o.replicas);
  const sentinelPorts = ports.slice(o.replicas);
  const children = new Map<string, ChildProcess>();

  const podEnv = async (i: number): Promise<Record<string, string>> => {
    const dir = join(root, `pod-${i}`);
    await mkdir(join(dir, 'data'), { recursive: true });
    return {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      ...o.env,
      POD_NAME: `redis-node-${i}`,
      REDIS_PASSWORD: password,
      NODE_HOSTS: redisPorts.map(() => '127.0.0.1').join(' '),
      REDIS_PORTS: redisPorts.join(' '),
      SENTINEL_PORTS: sentinelPorts.join(' '),
      DATA_DIR: join(dir, 'data'),
      CONF_DIR: join(dir, 'conf'),
      BIND: '127.0.0.1',
      // A test's timeouts (the manifest's: down after 5 s, failover timeout 30 s).
      DOWN_AFTER_MS: '1000',
      FAILOVER_TIMEOUT_MS: '5000',
    };
  };

  async function start(i: number, role: PodRole): Promise<string> {
    const [bin, ...args] = o.command[role].map((a) => (a === o.scriptPath ? scriptFile : a));
    const port = role === 'redis' ? redisPorts[i]! : sentinelPorts[i]!;
    const child = spawn(bin!, args, { env: await podEnv(i), stdio: ['ignore', 'pipe', 'pipe'] });
    children.set(`${i}/${role}`, child);
    let log = '';
    let tail = '';
    child.stderr!.on('data', (b: Buffer) => {
      log += b.toString();
    });
    child.stdout!.on('data', (b: Buffer) => {
      tail = (tail + b.toString()).slice(-2000);
    });
    let exited: string | undefined;
    child.once('exit', (code, signal) => {
      exited = `exited with ${signal ?? code}`;
    });
    await pollUntil(
      async () => {
        if (exited) throw new Error(`pod ${i} ${role} ${exited}: ${log}${tail}`);
        return canConnect(port);
      },
      { timeoutMs: 15_000, intervalMs: 25, what: `pod ${i} ${role} on ${port}`, fatal: () => !!exited },
    );
    return log.split('\n').find((l) => l.startsWith('start.sh:')) ?? '';
  }

  async function killOne(key: string): Promise<void> {
    const child = children.get(key);
    children.delete(key);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await gone;
  }

  const ask = (port: number, ...args: string[]): Promise<unknown> => redisCall({ port, password }, ...args);

  let stopping: Promise<void> | undefined;
  return {
    redisPorts,
    sentinelPorts,
    start,
    kill: (i) => Promise.all([killOne(`${i}/redis`), killOne(`${i}/sentinel`)]).then(() => undefined),
    ask,
    stop() {
      stopping ??= Promise.all([...children.keys()].map(killOne)).then(() =>
        rm(root, { recursive: true, force: true }),
      );
      return stopping;
    },
  };
}
