import { randomUUID } from 'node:crypto';
import { type AnyEvent, encodeEvent, MAX_REQUEST_BATCH_RECORDS } from '../../contract/index.js';
import { createEvent, decodeEvent, type EventData } from '../../contract/validate.js';

// A scripted stream of events (collector-scenario.ts) as a batching agent (schema 1.1) would have
// sent it: each pod's consecutive `request` records grouped into `request.batch` events, and the
// pod's seqs numbered again so they stay contiguous. Also adds request records to a script, so a
// scenario has windows worth batching.

export interface Script {
  /** Published, in publish order. */
  readonly events: readonly AnyEvent[];
  /** Made but never published (their seqs are gaps). */
  readonly withheld: readonly AnyEvent[];
}

const instanceKey = (e: AnyEvent) => `${e.pod ?? ''}|${e.instance}`;

/**
 * Seqs numbered again per agent instance, 1, 2, 3… in the order of the old seqs (published and
 * withheld together, so a withheld event stays a gap). Old seqs need not be integers: an inserted
 * event takes a fraction between its neighbours.
 */
function renumbered(script: Script): Script {
  const seqs = new Map<string, number[]>();
  for (const e of [...script.events, ...script.withheld]) {
    if (e.pod === null) continue;
    const list = seqs.get(instanceKey(e)) ?? [];
    list.push(e.seq);
    seqs.set(instanceKey(e), list);
  }
  const rank = new Map([...seqs].map(([k, list]) => [k, [...list].sort((a, b) => a - b)]));
  const fix = (e: AnyEvent): AnyEvent =>
    e.pod === null ? e : ({ ...e, seq: rank.get(instanceKey(e))!.indexOf(e.seq) + 1 } as AnyEvent);
  const out = { events: script.events.map(fix), withheld: script.withheld.map(fix) };
  // Every published event must still be one the collector takes.
  for (const e of out.events) decodeEvent(encodeEvent(e));
  return out;
}

/** A request record to add: its data, and when it ended (the event's time). */
export interface AddedRequest {
  readonly data: EventData<'request'>;
  readonly atMs: number;
}

/**
 * `script` with `requests` added as `request` events of `anchor`'s pod and instance, right before
 * (`where: 'before'`) or after the event whose id is `anchorId`, in seq and in publish order.
 */
export function withRequests(
  script: Script,
  anchorId: string,
  where: 'before' | 'after',
  requests: readonly AddedRequest[],
): Script {
  const i = script.events.findIndex((e) => e.id === anchorId);
  const anchor = script.events[i];
  if (!anchor || anchor.pod === null) throw new Error(`no pod event ${anchorId}`);
  const step = 1 / (requests.length + 1);
  const added = requests.map(
    (r, j): AnyEvent => ({
      ...createEvent('request', anchor, r.data, {
        instance: anchor.instance,
        seq: anchor.seq,
        time: new Date(r.atMs),
      }),
      // Between the anchor and its neighbour; renumbered() makes it an integer.
      seq: where === 'after' ? anchor.seq + (j + 1) * step : anchor.seq - 1 + (j + 1) * step,
    }),
  );
  const at = where === 'after' ? i + 1 : i;
  const events = [...script.events.slice(0, at), ...added, ...script.events.slice(at)];
  return renumbered({ events, withheld: script.withheld });
}

export interface BatchOptions {
  /** The agent's window, opened by its first record (100 ms by default). */
  readonly windowMs?: number;
  readonly maxRecords?: number;
}

type RequestEvent = Extract<AnyEvent, { kind: 'request' }>;

/**
 * `script` as a batching agent sends it. A window holds one pod instance's consecutive `request`
 * events (no other event of that pod in between, in seq order) that ended within `windowMs` of its
 * first; it is cut at `maxRecords`. A window of one stays the `request` event it was; two or more
 * become one `request.batch` (a fresh id, the first record's seq, the later seqs of the pod moved
 * down) at the flush time: the window's end, or the time of the event that cut it (never before
 * its last record). The batch is published where the window closed: before the event that cut it.
 */
export function batchRequests(script: Script, options: BatchOptions = {}): Script {
  const windowMs = options.windowMs ?? 100;
  const maxRecords = options.maxRecords ?? MAX_REQUEST_BATCH_RECORDS;
  const open = new Map<string, RequestEvent[]>();
  const out: AnyEvent[] = [];
  const ms = (e: AnyEvent) => Date.parse(e.time);

  const flush = (key: string, cutMs: number) => {
    const records = open.get(key);
    open.delete(key);
    if (!records) return;
    const first = records[0]!;
    if (records.length === 1) {
      out.push(first);
      return;
    }
    const lastMs = ms(records[records.length - 1]!);
    const flushMs = Math.max(lastMs, Math.min(ms(first) + windowMs, cutMs));
    const data = { records: records.map((r) => ({ ...r.data, at: r.time })) };
    const batch = createEvent('request.batch', first, data, {
      instance: first.instance,
      seq: first.seq,
      id: randomUUID(),
      time: new Date(flushMs),
    });
    out.push(batch as AnyEvent);
  };

  for (const e of script.events) {
    if (e.pod === null) {
      out.push(e);
      continue;
    }
    const key = instanceKey(e);
    if (e.kind !== 'request') {
      flush(key, ms(e));
      out.push(e);
      continue;
    }
    const records = open.get(key);
    if (records && ms(e) - ms(records[0]!) < windowMs) records.push(e);
    else {
      flush(key, ms(e));
      open.set(key, [e]);
    }
    if (open.get(key)!.length >= maxRecords) flush(key, ms(e));
  }
  for (const key of [...open.keys()]) flush(key, Number.POSITIVE_INFINITY);
  return renumbered({ events: out, withheld: script.withheld });
}
