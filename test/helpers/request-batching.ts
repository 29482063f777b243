import { randomUUID } from 'node:crypto';
import { createReplayedBatcher, type ReplayedBatcher } from '../../agent/index.js';
import { type AnyEvent, encodeEvent } from '../../contract/index.js';
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
}

/** One pod instance's agent, replayed: its batcher, each input the event it was emitted for. */
function replayInstance(windowMs: number, out: AnyEvent[]): ReplayedBatcher<AnyEvent> {
  return createReplayedBatcher<AnyEvent>({
    windowMs,
    emit: (kind, _data, atMs, inputs) => {
      if (kind !== 'request.batch') {
        out.push(inputs[0]!);
        return;
      }
      const records = inputs as readonly Extract<AnyEvent, { kind: 'request' }>[];
      const first = records[0]!;
      const batch = createEvent(
        'request.batch',
        first,
        { records: records.map((r) => ({ ...r.data, at: r.time })) },
        { instance: first.instance, seq: first.seq, id: randomUUID(), time: new Date(atMs) },
      );
      out.push(batch as AnyEvent);
    },
  });
}

/**
 * `script` as a batching agent sends it, each pod instance's events replayed through the agent's
 * own batcher (createReplayedBatcher) at their times: a window holds one instance's consecutive
 * `request` events (no other event of that instance in between), cut as the agent cuts it. A
 * window of one stays the `request` event it was; two or more become one `request.batch` (a fresh
 * id, the first record's seq, the later seqs of the pod moved down; each record's `at` its event's
 * time) at the flush time. An expired window is published where the instance's next event (or the
 * script's end) shows it expired, and a cut one before the event that cut it.
 */
export function batchRequests(script: Script, options: BatchOptions = {}): Script {
  const windowMs = options.windowMs ?? 100;
  const out: AnyEvent[] = [];
  const instances = new Map<string, ReplayedBatcher<AnyEvent>>();
  for (const e of script.events) {
    if (e.pod === null) {
      out.push(e);
      continue;
    }
    let replay = instances.get(instanceKey(e));
    if (!replay) {
      replay = replayInstance(windowMs, out);
      instances.set(instanceKey(e), replay);
    }
    replay.emit(Date.parse(e.time), e.kind, e.data as EventData<typeof e.kind>, e);
  }
  for (const replay of instances.values()) replay.end();
  return renumbered({ events: out, withheld: script.withheld });
}
