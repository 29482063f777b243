import { connect as tcpConnect } from 'node:net';
import type { HostPort } from '../lib/values.js';

// Watches the app from outside: is its port still accepting, and is its process still alive.
// Probe connections are the agent's own and never count as traffic.

export type ListenState = 'listening' | 'refused' | 'unknown';

/** One TCP connect to the app port: 'refused' only on ECONNREFUSED (nobody listens). */
export function probeListening(target: HostPort, timeoutMs: number): Promise<ListenState> {
  return new Promise((resolve) => {
    const sock = tcpConnect({ host: target.host, port: target.port });
    const timer = setTimeout(() => {
      sock.destroy();
      // A full accept queue is slow, not closed.
      resolve('unknown');
    }, timeoutMs);
    timer.unref();
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve('listening');
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code === 'ECONNREFUSED' ? 'refused' : 'unknown');
    });
  });
}

/** True while a process with this pid exists (EPERM means it exists but is not ours). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface AppWatchOptions {
  readonly upstream: HostPort;
  readonly pid?: number;
  /** Poll interval now: fast while the pod terminates, slow while it serves. */
  readonly intervalMs: () => number;
  /** The port refused after having accepted: reported once (the app is shutting down). */
  readonly onStoppedListening: () => void;
  /** The port refused after having accepted: reported at every such change (a restart, a crash). */
  readonly onRefused?: () => void;
  /** The port accepted after having refused, or for the first time. */
  readonly onListening: () => void;
  readonly onPidGone: () => void;
}

export interface AppWatch {
  readonly everListened: boolean;
  readonly listening: boolean;
  /** Checks once right now (e.g. when SIGTERM arrives). */
  checkNow(): Promise<void>;
  /** The interval changed (termination started): check now and continue at the new pace. */
  poke(): void;
  stop(): void;
}

export function createAppWatch(options: AppWatchOptions): AppWatch {
  let everListened = false;
  let listening = false;
  let stoppedReported = false;
  let pidReported = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let checking: Promise<void> | undefined;

  const check = async (): Promise<void> => {
    if (options.pid !== undefined && !pidReported && !pidAlive(options.pid)) {
      pidReported = true;
      options.onPidGone();
    }
    const state = await probeListening(options.upstream, Math.max(100, options.intervalMs() * 4));
    if (state === 'listening') {
      everListened = true;
      if (!listening) {
        listening = true;
        options.onListening();
      }
    } else if (state === 'refused') {
      const was = listening;
      listening = false;
      // Before the app first listened, a refusal is the app starting up, not stopping.
      if (everListened && !stoppedReported) {
        stoppedReported = true;
        options.onStoppedListening();
      }
      if (was) options.onRefused?.();
    }
  };

  const checkOnce = (): Promise<void> => {
    checking ??= check().finally(() => {
      checking = undefined;
    });
    return checking;
  };

  const loop = (): void => {
    if (stopped) return;
    void checkOnce().finally(() => {
      if (stopped) return;
      // A poke() may have started a second chain; clearing first keeps exactly one timer.
      if (timer) clearTimeout(timer);
      timer = setTimeout(loop, options.intervalMs());
      timer.unref();
    });
  };
  loop();

  return {
    get everListened() {
      return everListened;
    },
    get listening() {
      return listening;
    },
    checkNow: checkOnce,
    poke() {
      if (timer) clearTimeout(timer);
      loop();
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
