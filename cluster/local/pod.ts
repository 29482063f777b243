import { type ChildProcess, spawn } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { canConnect, freePort } from '../../lib/servers.js';
import { delay, pollUntil } from '../../lib/wait.js';
import type { ClusterEvent, PodRef, PodStatus } from '../adapter.js';
import type { Readiness } from './config.js';
import {
  afterTopExit,
  createLineTail,
  execScript,
  groupAlive,
  STDERR_TAIL_LINES,
  signalGroup,
  signalTop,
} from './container-process.js';
import type { Entrypoint } from './entrypoint.js';
import { PodStartError } from './errors.js';
import type { AppExit, Sidecar, SidecarLauncher } from './sidecar.js';

// One local pod: the app (any shell command, run as the top process of its own process group, as
// a container's PID 1) and a sidecar in front of it. Termination follows the kubelet's order: the
// endpoint is marked terminating while preStop runs, SIGTERM to the top process follows preStop,
// SIGKILL to the whole group comes at the grace period (container-process.ts), and the sidecar is
// stopped only after the app is gone.

export interface LocalPodOptions {
  readonly ref: PodRef;
  readonly command: string;
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly readyPath: string;
  /** `http-get` of readyPath through the sidecar, or `tcp-socket`: a connect to the app's port. */
  readonly readiness: Readiness;
  readonly readyTimeoutMs: number;
  readonly graceMs: number;
  readonly sidecar: SidecarLauncher;
  readonly entrypoint: Entrypoint;
  readonly emit: (event: ClusterEvent) => void;
  /** Each line the app prints, for logs and error messages. */
  readonly onOutput?: (pod: string, line: string) => void;
}

export interface LocalPod {
  readonly ref: PodRef;
  status(): PodStatus;
  /** Starts app and sidecar, resolves when the readiness check passes. */
  start(): Promise<void>;
  /** Runs the termination sequence; repeated calls return the same promise. */
  terminate(): Promise<void>;
  /** Kills whatever still runs, without the termination sequence (teardown). */
  kill(): Promise<void>;
  /** Settles when the app process has exited. */
  readonly appExit: Promise<AppExit>;
  /** SIGKILLs the app's process group at once, synchronously (the process-exit safety net). */
  killNow(): void;
}

const PORT_ATTEMPTS = 3;

/** The kubelet's probe User-Agent, so agents count the readiness check apart from users. */
const READINESS_USER_AGENT = 'kube-probe/1.31 (drainwatch-local)';

function httpStatus(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const req = httpGet(
      url,
      { agent: false, timeout: timeoutMs, headers: { 'user-agent': READINESS_USER_AGENT } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

export function createLocalPod(options: LocalPodOptions): LocalPod {
  const { ref } = options;
  let phase: PodStatus['phase'] = 'pending';
  let ready = false;
  let terminatingSince: Date | undefined;
  let endpointsTerminating = false;
  let child: ChildProcess | undefined;
  let sidecar: Sidecar | undefined;
  let killedAtGrace = false;
  let sigtermSent = false;
  let tail = '';
  const stderrTail = createLineTail();

  let resolveExit!: (exit: AppExit) => void;
  let appExit = new Promise<AppExit>((resolve) => {
    resolveExit = resolve;
  });
  let exited: AppExit | undefined;

  const now = (): Date => new Date();

  async function spawnApp(port: number): Promise<void> {
    const proc = spawn('sh', ['-c', execScript(options.command)], {
      cwd: options.cwd,
      // POD_NAME as manifests pass it with the downward API (fieldRef metadata.name).
      env: { ...process.env, ...options.env, PORT: String(port), POD_NAME: ref.name },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child = proc;
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString();
      tail = (tail + text).slice(-2000);
      if (options.onOutput) for (const line of text.split('\n')) if (line) options.onOutput(ref.name, line);
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.stderr?.on('data', (chunk: Buffer) => stderrTail.push(chunk.toString()));
    proc.once('error', (err) => {
      tail += `\n${err.message}`;
    });
    proc.once('exit', (code, signal) => {
      // The rest of the group either goes with the top process (the container ended) or runs on
      // until it exits or the grace period's SIGKILL (a wrapper that died of a SIGTERM PID 1
      // would have ignored): the app has exited only when its whole process group has.
      void (async () => {
        const pid = proc.pid;
        if (pid !== undefined && groupAlive(pid)) {
          if (afterTopExit(signal, sigtermSent) === 'kill') signalGroup(proc, 'SIGKILL');
          await pollUntil(() => !groupAlive(pid), {
            timeoutMs: options.graceMs + 10_000,
            intervalMs: 20,
            what: `process group of ${ref.name}`,
          }).catch(() => signalGroup(proc, 'SIGKILL'));
        }
        // Killed at the grace period, the container's PID 1 ends by that SIGKILL, whatever
        // became of the local top process before.
        exited = killedAtGrace
          ? { code: null, signal: 'SIGKILL', killedAtGrace: true }
          : { code, signal, killedAtGrace: false };
        resolveExit(exited);
      })();
    });
  }

  /** The app's death before readiness, with its last stderr lines (else its last output). */
  function diedAtStart(exit: AppExit): string {
    const head = `the app exited (${exit.signal ?? exit.code}) before it was ready`;
    const stderr = stderrTail.lines();
    const lines = stderr.length > 0 ? stderr : tail.trim().split('\n').slice(-STDERR_TAIL_LINES);
    if (lines.length === 0 || lines[0] === '') return head;
    const what = stderr.length > 0 ? 'stderr' : 'output';
    return `${head}; its last ${what} lines:\n${lines.map((l) => `    ${l}`).join('\n')}`;
  }

  let terminating: Promise<void> | undefined;
  async function startOnce(appPort: number): Promise<void> {
    sidecar = await options.sidecar.launch({ pod: ref, appPort, graceMs: options.graceMs });
    await spawnApp(appPort);
    phase = 'running';
    const url = `http://127.0.0.1:${sidecar.trafficPort}${options.readyPath}`;
    // The kubelet's tcpSocket probe connects to the container's port: the app's, not the sidecar's
    // (which listens before the app does).
    const check =
      options.readiness === 'tcp-socket'
        ? () => canConnect(appPort, '127.0.0.1', 1000)
        : async () => {
            const status = await httpStatus(url, 1000);
            return status >= 200 && status < 300;
          };
    await pollUntil(
      async () => {
        if (exited) {
          throw new PodStartError(ref.name, diedAtStart(exited));
        }
        return check();
      },
      {
        timeoutMs: options.readyTimeoutMs,
        intervalMs: 100,
        what: `readiness of pod ${ref.name} (${options.readiness === 'tcp-socket' ? `TCP connect to port ${appPort}` : `GET ${options.readyPath}`})`,
        fatal: (err) => err instanceof PodStartError,
      },
    ).catch((err: unknown) => {
      if (err instanceof PodStartError) throw err;
      throw new PodStartError(ref.name, (err as Error).message);
    });
  }

  return {
    ref,
    get appExit() {
      return appExit;
    },
    status() {
      return {
        ...ref,
        ip: '127.0.0.1',
        ready,
        endpointsTerminating,
        phase,
        ...(terminatingSince ? { terminatingSince } : {}),
      };
    },
    async start() {
      options.emit({ type: 'pod-added', pod: ref, at: now() });
      // freePort() releases the port before the app binds it; on this shared machine another
      // process can take it in between. Then the app dies while something else answers on its
      // port, and the pod starts again on a fresh port (in Kubernetes each pod has its own IP).
      for (let attempt = 1; ; attempt++) {
        const appPort = await freePort();
        try {
          await startOnce(appPort);
          break;
        } catch (err) {
          const stolen = exited !== undefined && (/EADDRINUSE/.test(tail) || (await canConnect(appPort)));
          if (!stolen || attempt >= PORT_ATTEMPTS) throw err;
          await sidecar?.stop();
          exited = undefined;
          tail = '';
          stderrTail.clear();
          appExit = new Promise<AppExit>((resolve) => {
            resolveExit = resolve;
          });
        }
      }
      ready = true;
      options.emit({ type: 'pod-ready', pod: ref, at: now() });
      options.entrypoint.addEndpoint(ref.name, sidecar!.trafficPort, sidecar!.keepAliveTimeoutMs);
    },
    terminate() {
      terminating ??= (async () => {
        const started = Date.now();
        terminatingSince = now();
        phase = 'terminating';
        ready = false;
        options.emit({ type: 'pod-terminating', pod: ref, at: terminatingSince });
        const propagated = options.entrypoint.markTerminating(ref.name).then((propagationMs) => {
          endpointsTerminating = true;
          options.emit({ type: 'endpoints-terminating', pod: ref, at: now(), propagationMs });
        });
        const graceLeft = (): number => Math.max(0, options.graceMs - (Date.now() - started));
        // preStop counts against the grace period, as in Kubernetes.
        const prestopDone = sidecar ? sidecar.prestop().catch(() => {}) : Promise.resolve();
        await Promise.race([prestopDone, delay(graceLeft())]);
        if (child && !exited) {
          sigtermSent = true;
          signalTop(child, 'SIGTERM');
          const killTimer = setTimeout(() => {
            if (!exited && child) {
              killedAtGrace = true;
              signalGroup(child, 'SIGKILL');
            }
          }, graceLeft());
          killTimer.unref();
          await appExit;
          clearTimeout(killTimer);
        }
        const exit = exited ?? (await appExit);
        options.emit({
          type: 'container-exited',
          pod: ref,
          container: 'app',
          exitCode: exit.code,
          signal: exit.signal,
          killedAtGrace: exit.killedAtGrace,
          at: now(),
        });
        if (sidecar) {
          await sidecar.appExited(exit).catch(() => {});
          await sidecar.stop();
          options.emit({
            type: 'container-exited',
            pod: ref,
            container: 'sidecar',
            exitCode: 0,
            signal: null,
            killedAtGrace: false,
            at: now(),
          });
        }
        // The pod object goes once its containers have; an entry point that has not yet heard
        // of the termination still routes to the dead port until the change reaches it.
        phase = 'gone';
        options.emit({ type: 'pod-deleted', pod: ref, at: now() });
        await propagated;
      })();
      return terminating;
    },
    killNow() {
      if (child && !exited) signalGroup(child, 'SIGKILL');
    },
    async kill() {
      if (child && !exited) {
        signalGroup(child, 'SIGKILL');
        await appExit;
      }
      // A teardown is not a termination: the agent must not report one.
      if (sidecar) await (sidecar.kill ? sidecar.kill() : sidecar.stop());
      phase = 'gone';
    },
  };
}
