import { type AnyEvent, LIFECYCLE_KINDS } from '../contract/index.js';

// The events waiting for NATS, in seq order. A full buffer drops the oldest traffic summary first,
// then the oldest per-request/WebSocket event, and never a lifecycle event: those say what happened
// to the pod, and there are only a handful per termination, so they may exceed the bound.

type Tier = 'summary' | 'traffic' | 'lifecycle';

function tierOf(event: AnyEvent): Tier {
  if (LIFECYCLE_KINDS.has(event.kind)) return 'lifecycle';
  return event.kind === 'traffic.summary' ? 'summary' : 'traffic';
}

/** A FIFO with O(1) shift that compacts now and then. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;
  get size(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  peek(): T | undefined {
    return this.items[this.head];
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

export interface EventBuffer {
  /** Adds an event; returns the event dropped to make room (maybe this one), if any. */
  push(event: AnyEvent): AnyEvent | undefined;
  /** The lowest-seq event, without removing it. */
  peek(): AnyEvent | undefined;
  /** Removes the event peek() returned. */
  shift(): AnyEvent | undefined;
  readonly size: number;
  readonly dropped: number;
}

export function createEventBuffer(capacity: number): EventBuffer {
  const tiers: Record<Tier, Fifo<AnyEvent>> = {
    summary: new Fifo(),
    traffic: new Fifo(),
    lifecycle: new Fifo(),
  };
  let dropped = 0;
  const size = (): number => tiers.summary.size + tiers.traffic.size + tiers.lifecycle.size;

  const lowest = (): Fifo<AnyEvent> | undefined => {
    let best: Fifo<AnyEvent> | undefined;
    for (const fifo of [tiers.summary, tiers.traffic, tiers.lifecycle]) {
      const head = fifo.peek();
      if (head && (!best || head.seq < best.peek()!.seq)) best = fifo;
    }
    return best;
  };

  return {
    push(event) {
      const tier = tierOf(event);
      let victim: AnyEvent | undefined;
      if (size() >= capacity) {
        // The new event is the newest of its tier, so it goes only when its tier has nothing older.
        if (tiers.summary.size > 0) victim = tiers.summary.shift();
        else if (tier === 'summary') victim = event;
        else if (tiers.traffic.size > 0) victim = tiers.traffic.shift();
        else if (tier === 'traffic') victim = event;
      }
      if (victim) dropped += 1;
      if (victim !== event) tiers[tier].push(event);
      return victim;
    },
    peek() {
      return lowest()?.peek();
    },
    shift() {
      return lowest()?.shift();
    },
    get size() {
      return size();
    },
    get dropped() {
      return dropped;
    },
  };
}
