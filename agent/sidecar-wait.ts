import type { Clock, Scheduler } from './time.js';
import { sleep } from './time.js';
import type { Traffic } from './traffic.js';

// What a classic sidecar's SIGTERM waits for. A classic sidecar (a plain second container) gets
// SIGTERM together with the app, so it keeps proxying until the app stopped listening and its
// in-flight requests, WebSockets and tunnels ended — or until only the final flush's share of the
// grace period is left. An app that stopped listening may still be closing its WebSockets properly
// (Socket.IO's DISCONNECT, then the client's close frame): cutting them then would make the pod
// fail differently from the bare one.

const IN_FLIGHT_POLL_MS = 10;

type OpenTraffic = Pick<Traffic, 'inFlight' | 'websockets' | 'tcpOpen'>;

/** Resolves once no request is in flight, or after timeoutMs (polled every 10 ms). */
export async function waitForInFlight(
  traffic: Pick<Traffic, 'inFlight'>,
  clock: Clock,
  scheduler: Scheduler,
  timeoutMs: number,
): Promise<void> {
  await waitUntil(() => traffic.inFlight === 0, clock, scheduler, timeoutMs);
}

async function waitUntil(
  done: () => boolean,
  clock: Clock,
  scheduler: Scheduler,
  timeoutMs: number,
): Promise<void> {
  const deadline = clock.now() + timeoutMs;
  while (!done() && clock.now() < deadline) await sleep(scheduler, IN_FLIGHT_POLL_MS);
}

export interface AppWaitOptions {
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly traffic: OpenTraffic;
  /** Resolves when the app stopped listening or exited. */
  readonly appGone: Promise<void>;
  /** Clock ms at which the wait ends whatever the app does. */
  readonly deadline: number;
  /** Receives a function that ends the wait at once (a second signal). */
  readonly onCut: (cut: () => void) => void;
}

/**
 * Waits for the app to be gone, then for its in-flight requests, WebSockets and TCP tunnels to end
 * (the app closes them, or its exit does), both bounded by the deadline.
 */
export async function waitForApp(options: AppWaitOptions): Promise<void> {
  const { clock, scheduler, deadline } = options;
  const deadlineReached = new Promise<void>((resolve) => {
    options.onCut(resolve);
    scheduler.setTimeout(resolve, Math.max(0, deadline - clock.now()));
  });
  await Promise.race([options.appGone, deadlineReached]);
  // Requests and connections the app is still finishing after it closed its port go on through us.
  const { traffic } = options;
  const idle = () => traffic.inFlight === 0 && traffic.websockets === 0 && traffic.tcpOpen === 0;
  const remaining = Math.max(0, deadline - clock.now());
  await Promise.race([waitUntil(idle, clock, scheduler, remaining), deadlineReached]);
}
