import type { Server } from 'node:net';
import { formatHostPort, type HostPort } from '../lib/values.js';
import { listenOn } from './listen.js';

// The agent's traffic port follows the app's: a new connection to the bare pod whose app stopped
// listening is refused, and a balancer (ingress-nginx, Envoy) retries a refused connect on another
// endpoint, while it never retries the 502 an agent that still accepted would answer, nor any
// non-idempotent request. So once the app stopped listening and no request is in flight through
// the agent, the agent closes its listener; when the app listens again (a container restart, a
// crash outside any termination) the agent listens again on the same address.
// While requests are still in flight the listener stays open: a connection accepted then is
// proxied as usual, its request tried on the app (a kept-alive connection to the app may still
// answer it; a new one is refused and the client gets 502, recorded as upstream-refused).

const RETRY_MS = 1000;

export interface ListenerMirrorOptions {
  readonly server: Server;
  /** The address the listener was bound to first (port 0 resolved). */
  readonly address: HostPort;
  /** Requests in flight through the agent now. */
  readonly inFlight: () => number;
  /** The listener closed (false) or opened again (true). */
  readonly onChange: (accepting: boolean) => void;
  /** How often the wait for in-flight requests looks again, in ms. */
  readonly pollMs?: number;
}

export interface ListenerMirror {
  /** The agent's listener accepts connections now. */
  readonly accepting: boolean;
  /** The app's port refused (it had accepted before). */
  appStopped(): void;
  /** The app's port accepted. */
  appListening(): void;
  /** No more changes; resolves once a re-listen under way has settled (the agent then closes it). */
  stop(): Promise<void>;
}

export function createListenerMirror(options: ListenerMirrorOptions): ListenerMirror {
  const { server } = options;
  const pollMs = options.pollMs ?? 20;
  let appUp = true;
  let accepting = true;
  let stopped = false;
  let opening: Promise<void> | undefined;
  let waiting: NodeJS.Timeout | undefined;

  const reconcile = (): void => {
    if (stopped || opening !== undefined) return;
    if (!appUp && accepting) {
      if (options.inFlight() > 0) {
        waiting ??= setInterval(reconcile, pollMs);
        waiting.unref();
        return;
      }
      stopWaiting();
      accepting = false;
      // close() stops accepting at once; connections already accepted carry on.
      server.close();
      options.onChange(false);
    } else if (appUp && !accepting) {
      stopWaiting();
      opening = listenOn(server, options.address, formatHostPort(options.address)).then(
        () => {
          opening = undefined;
          accepting = true;
          options.onChange(true);
          reconcile();
        },
        (err: Error) => {
          opening = undefined;
          // Someone took the port meanwhile: try again in a second.
          process.emitWarning(`drainwatch agent: cannot listen again: ${err.message}`);
          setTimeout(reconcile, RETRY_MS).unref();
        },
      );
    } else stopWaiting();
  };

  const stopWaiting = (): void => {
    if (waiting !== undefined) clearInterval(waiting);
    waiting = undefined;
  };

  return {
    get accepting() {
      return accepting;
    },
    appStopped() {
      appUp = false;
      reconcile();
    },
    appListening() {
      appUp = true;
      reconcile();
    },
    async stop() {
      stopped = true;
      stopWaiting();
      await opening;
    },
  };
}
