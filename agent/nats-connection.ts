import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { type Logger, SILENT_LOGGER } from '../lib/log.js';
import { splitUrlList } from '../lib/values.js';
import { type Scheduler, sleep, systemScheduler } from './time.js';

// The agent's own NATS connection. NATS down at start is not fatal: this keeps trying, backing off
// from 250 ms to 2 s, and once a first connection exists the client's own reconnect takes over
// (forever). A loop of ours, unlike the client's waitOnFirstConnect, ends when the agent stops.

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 2000;
// How long stop() waits for the connection to close before giving up on it.
const CLOSE_BUDGET_MS = 300;

export interface NatsConnectorOptions {
  /** NATS_URL: one URL or a comma-separated list, as the client takes it. */
  readonly servers: string;
  /** The connection's name as the NATS server shows it. */
  readonly name: string;
  /** Called once, with the first connection made. */
  readonly onConnect: (nc: NatsConnection) => void;
  /** The loop tries while this is true (the agent is not stopping). */
  readonly active: () => boolean;
  /** The client's connect(); injectable for tests. */
  readonly connect?: (options: NodeConnectionOptions) => Promise<NatsConnection>;
  readonly scheduler?: Scheduler;
  /** The first failed attempt and the connection made; silent by default. */
  readonly log?: Logger;
}

export interface NatsConnector {
  /** Starts the connect loop in the background; never rejects. */
  start(): void;
  /** Closes the connection this made, if any, waiting at most 300 ms for it. */
  close(): Promise<void>;
}

/**
 * The connection options of the agent: reconnect forever, 250 ms apart, ping every 10 s. Several
 * servers (a cluster): the client connects to one and, when it goes, reconnects to another; the
 * publisher's buffer is the agent's own, so nothing buffered is lost across the switch.
 */
export function agentConnectionOptions(servers: string, name: string): NodeConnectionOptions {
  return {
    servers: splitUrlList(servers),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 100,
    pingInterval: 10_000,
    timeout: 1000,
  };
}

export function createNatsConnector(options: NatsConnectorOptions): NatsConnector {
  const open = options.connect ?? connect;
  const scheduler = options.scheduler ?? systemScheduler;
  const log = options.log ?? SILENT_LOGGER;
  let own: NatsConnection | undefined;

  const loop = async (): Promise<void> => {
    let wait = FIRST_RETRY_MS;
    let failures = 0;
    while (options.active()) {
      try {
        const nc = await open(agentConnectionOptions(options.servers, options.name));
        if (!options.active()) {
          await nc.close();
          return;
        }
        own = nc;
        log.info({ failedAttempts: failures }, 'connected to NATS');
        options.onConnect(nc);
        return;
      } catch (err) {
        failures += 1;
        if (failures === 1) {
          log.warn({ error: (err as Error).message }, 'NATS unreachable; retrying, events are buffered');
        }
        await sleep(scheduler, wait);
        wait = Math.min(wait * 2, MAX_RETRY_MS);
      }
    }
  };

  return {
    start() {
      void loop();
    },
    async close() {
      if (!own) return;
      const nc = own;
      await Promise.race([nc.close().catch(() => undefined), sleep(scheduler, CLOSE_BUDGET_MS)]);
    },
  };
}
