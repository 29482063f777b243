// What an entry point did during a run, in the terms its own logs and stats use, so the report can
// name the balancer and show how much its retry policy hid: retries it made, upstream errors it saw,
// and how long each endpoint change took to apply once its propagation delay had passed.

export const ENTRY_KINDS = ['local', 'nginx', 'haproxy'] as const;
export type EntryKind = (typeof ENTRY_KINDS)[number];

/** One endpoint change as the entry point applied it. */
export interface EntryChange {
  readonly type: 'add' | 'remove';
  readonly pod: string;
  /** The propagation delay drawn for it, ms. */
  readonly delayMs: number;
  /** From the end of the delay until the balancer routed accordingly (reload done, runtime command answered), ms. */
  readonly applyMs: number;
}

export interface EntryActivity {
  readonly entry: EntryKind;
  /** The balancer and its version as it names itself (`nginx/1.22.1`, `HAProxy 2.6.12`). */
  readonly version: string;
  /**
   * Attempts the entry point made again after one failed: nginx's extra `$upstream_addr` entries,
   * HAProxy's `wretr` + `wredis`, the local entry's own repeats.
   */
  readonly retries: number;
  /** Of those, the attempts sent to another pod (nginx: next upstream; HAProxy: `wredis`). */
  readonly retriedElsewhere: number;
  /** Upstream errors it saw, by kind (refused, reset, timeout, no-live-upstreams, response…). */
  readonly upstreamErrors: Readonly<Record<string, number>>;
  readonly changes: readonly EntryChange[];
  /** Median and largest applyMs; null without changes. */
  readonly applyP50Ms: number | null;
  readonly applyMaxMs: number | null;
}

export function summarizeChanges(changes: readonly EntryChange[]): {
  applyP50Ms: number | null;
  applyMaxMs: number | null;
} {
  if (changes.length === 0) return { applyP50Ms: null, applyMaxMs: null };
  const sorted = changes.map((c) => c.applyMs).sort((a, b) => a - b);
  return { applyP50Ms: sorted[Math.floor((sorted.length - 1) / 2)]!, applyMaxMs: sorted.at(-1)! };
}
