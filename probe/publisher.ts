import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { AnyEvent, DrainwatchEvent } from '../contract/index.js';
import { publishEvent } from '../lib/jetstream.js';

// A bounded, non-blocking queue in front of JetStream: a slow or absent NATS never slows the probe;
// events that do not fit are dropped and counted.

export interface EventPublisher {
  /** Queues an event; false (and counted as dropped) when the queue is full. */
  offer(event: AnyEvent | DrainwatchEvent): boolean;
  /** Waits until the queue is empty or `timeoutMs` passed; what is left is counted as dropped. */
  flush(timeoutMs: number): Promise<void>;
  readonly published: number;
  readonly dropped: number;
  readonly queued: number;
}

export interface PublisherOptions {
  readonly root: string;
  readonly capacity: number;
  /** Publishes awaiting their JetStream ack at once. */
  readonly concurrency?: number;
  readonly publishTimeoutMs?: number;
}

export function createEventPublisher(nc: NatsConnection, options: PublisherOptions): EventPublisher {
  const js = jetstream(nc);
  const queue: (AnyEvent | DrainwatchEvent)[] = [];
  let head = 0;
  let inFlight = 0;
  let published = 0;
  let dropped = 0;
  const concurrency = options.concurrency ?? 64;
  let idle: (() => void) | undefined;

  const pump = (): void => {
    while (inFlight < concurrency && head < queue.length) {
      const event = queue[head]!;
      head += 1;
      inFlight += 1;
      publishEvent(js, event, { root: options.root, timeoutMs: options.publishTimeoutMs ?? 5000 })
        .then(
          () => {
            published += 1;
          },
          () => {
            dropped += 1;
          },
        )
        .finally(() => {
          inFlight -= 1;
          pump();
        });
    }
    // Compact the array now and then instead of shifting on every event.
    if (head > 4096 && head * 2 > queue.length) {
      queue.splice(0, head);
      head = 0;
    }
    if (inFlight === 0 && head >= queue.length) idle?.();
  };

  return {
    offer(event) {
      if (queue.length - head >= options.capacity) {
        dropped += 1;
        return false;
      }
      queue.push(event);
      pump();
      return true;
    },
    async flush(timeoutMs) {
      if (inFlight > 0 || head < queue.length) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          timer.unref();
          idle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        idle = undefined;
      }
      const left = queue.length - head;
      dropped += left;
      queue.length = 0;
      head = 0;
    },
    get published() {
      return published;
    },
    get dropped() {
      return dropped;
    },
    get queued() {
      return queue.length - head + inFlight;
    },
  };
}
