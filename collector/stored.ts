import { z } from 'zod';
import { type AnyEvent, requestsOfBatch } from '../contract/index.js';
import { decodeEvent } from '../contract/validate.js';
import type { RolloutRecord, StoredPodEvent } from './report-types.js';

// Typed readers of what the collector stores. Only the collector writes these keys, so a member
// that does not decode is skipped, not fatal: one bad member must not hide a whole report.

/**
 * Decodes events' wire JSON (timelines, probe and traffic sets) with the contract's schemas. A
 * `request.batch` comes out as the `request` events it stands for (contract requestsOfBatch), so
 * no reader needs to know that agents batch.
 */
export function decodeEvents(members: readonly string[]): AnyEvent[] {
  const out: AnyEvent[] = [];
  for (const m of members) {
    let event: AnyEvent;
    try {
      event = decodeEvent(m);
    } catch {
      continue; // skipped, see above
    }
    if (event.kind === 'request.batch') out.push(...requestsOfBatch(event));
    else out.push(event);
  }
  return out;
}

/**
 * A pod's timeline members, in zset order (by score), decoded and expanded (decodeEvents), in
 * event-time order. A stored batch's score is its flush time, later than its records' own times (up
 * to the agent's window) and often the same millisecond as the event that flushed it: without the
 * sort its records could come after that event, or after another agent's event (the adapter's
 * `endpoints.propagated`) of the window. Within one millisecond, each emitter's events go by seq (a
 * batch's seq is below its flusher's) in the places its events held; the others keep their zset
 * order.
 */
export function decodeTimeline(members: readonly string[]): AnyEvent[] {
  const timed = decodeEvents(members)
    .map((event) => ({ event, t: Date.parse(event.time) }))
    .sort((a, b) => a.t - b.t); // stable: one time's events keep their zset order
  for (let from = 0; from < timed.length; ) {
    let to = from + 1;
    while (to < timed.length && timed[to]!.t === timed[from]!.t) to++;
    if (to - from > 1) bySeqPerInstance(timed, from, to);
    from = to;
  }
  return timed.map(({ event }) => event);
}

// Sorts each instance's events among timed[from, to) by seq, each in the places its events held.
// (A comparator that calls two instances' events equal is no total order: with a third event
// between them, Array.prototype.sort could leave a batch's records after their flusher.)
function bySeqPerInstance(timed: { event: AnyEvent }[], from: number, to: number): void {
  const places = new Map<string, number[]>();
  for (let i = from; i < to; i++) {
    const instance = timed[i]!.event.instance;
    const list = places.get(instance);
    if (list) list.push(i);
    else places.set(instance, [i]);
  }
  for (const list of places.values()) {
    if (list.length < 2) continue;
    const sorted = list.map((i) => timed[i]!).sort((a, b) => a.event.seq - b.event.seq);
    list.forEach((i, n) => {
      timed[i] = sorted[n]!;
    });
  }
}

/** An event as a timeline lists it: the kind instead of the CloudEvents type, no envelope. */
export function podEventOf(e: AnyEvent): StoredPodEvent {
  return { id: e.id, kind: e.kind, time: e.time, instance: e.instance, seq: e.seq, data: e.data };
}

/** `[member, score, member, score, ...]` (WITHSCORES) as pairs. */
export function withScores(reply: readonly string[]): [string, number][] {
  const out: [string, number][] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) out.push([reply[i]!, Number(reply[i + 1])]);
  return out;
}

function decodeJson<T>(schema: z.ZodType<T>, member: string): T | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(member));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

const loginSchema = z.object({ id: z.string(), issuedBy: z.string().nullable() });

export interface Login {
  readonly atMs: number;
  readonly issuedBy: string | null;
}

/** A session's logins (ZRANGE WITHSCORES), oldest first. */
export function decodeLogins(reply: readonly string[]): Login[] {
  return withScores(reply)
    .map(([m, atMs]) => ({ atMs, issuedBy: decodeJson(loginSchema, m)?.issuedBy ?? null }))
    .sort((a, b) => a.atMs - b.atMs);
}

const deadLetterSchema = z.object({
  reason: z.string(),
  field: z.string(),
  subject: z.string(),
  raw: z.string(),
});

export type DeadLetterEntry = z.infer<typeof deadLetterSchema>;

export function decodeDeadLetters(members: readonly string[]): DeadLetterEntry[] {
  const out: DeadLetterEntry[] = [];
  for (const m of members) {
    const letter = decodeJson(deadLetterSchema, m);
    if (letter) out.push(letter);
  }
  return out;
}

/** A rollout's hash (HGETALL); undefined when it has no start (absorbed, or never stored). */
export function decodeRollout(h: Readonly<Record<string, string>>): RolloutRecord | undefined {
  if (!h.id || h.startedAt === undefined) return undefined;
  return {
    id: h.id,
    namespace: h.namespace ?? '',
    workload: h.workload ?? '',
    trigger: h.trigger ?? 'implicit',
    startedAt: Number(h.startedAt),
    finishedAt: h.finishedAt === undefined ? null : Number(h.finishedAt),
    outcome: h.outcome ?? null,
    podsReplaced: h.podsReplaced === undefined ? null : Number(h.podsReplaced),
  };
}
