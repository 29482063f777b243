import { type AnyEvent, type EventKind, LIFECYCLE_KINDS } from '../contract/index.js';

// The events waiting for NATS, in seq order. A full buffer drops the oldest traffic summary first,
// then the oldest per-request/WebSocket event, and never a lifecycle event: those say what happened
// to the pod, and there are only a handful per termination, so they may exceed the bound.

type Tier = 'summary' | 'traffic' | 'lifecycle';

function tierOf(kind: EventKind): Tier {
  if (LIFECYCLE_KINDS.has(kind)) return 'lifecycle';
  return kind === 'traffic.summary' ? 'summary' : 'traffic';
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
  /** The items still held, oldest first. */
  *values(): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i]!;
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
  /**
   * Whether pushing an event of `kind` now would drop one (an older one or itself): what an event
   * that reports the drop count (drain.summary) must count before it is pushed.
   */
  wouldDrop(kind: EventKind): boolean;
  /** The lowest-seq event, without removing it. */
  peek(): AnyEvent | undefined;
  /** Removes the event peek() returned. */
  shift(): AnyEvent | undefined;
  /** The events held, counted by kind (what a give-up log line reports). */
  countByKind(): Record<string, number>;
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
      const tier = tierOf(event.kind);
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
    wouldDrop(kind) {
      // As push() decides: a full buffer drops a summary or traffic event, or this one if it is such.
      if (size() < capacity) return false;
      return tierOf(kind) !== 'lifecycle' || tiers.summary.size + tiers.traffic.size > 0;
    },
    peek() {
      return lowest()?.peek();
    },
    shift() {
      return lowest()?.shift();
    },
    countByKind() {
      const counts: Record<string, number> = {};
      for (const fifo of Object.values(tiers)) {
        for (const e of fifo.values()) counts[e.kind] = (counts[e.kind] ?? 0) + 1;
      }
      return counts;
    },
    get size() {
      return size();
    },
    get dropped() {
      return dropped;
    },
  };
}
