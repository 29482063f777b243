import { type AnyEvent, batchRecordId, encodeEvent } from '../contract/index.js';
import { KEYS, terminationMember, workloadKey } from './keys.js';
import type { Entry, Op, WorkloadRef } from './ops.js';
import { encodeRequestPointer } from './request-pointer.js';

// The writes each event makes (pure: the same event always gives the same writes), and the write
// of a refused one (a dead letter).

export interface OpsOptions {
  readonly quietMs: number;
}

function compactTime(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/** The optional fields of rollout.started, as the rollout's hash stores them. */
function rolloutFields(d: Extract<AnyEvent, { kind: 'rollout.started' }>['data']): Record<string, string> {
  const fields: Record<string, string> = {};
  if (d.replicas !== undefined) fields.replicas = String(d.replicas);
  if (d.label !== undefined) fields.label = d.label;
  if (d.maxSurge !== undefined) fields.maxSurge = String(d.maxSurge);
  if (d.maxUnavailable !== undefined) fields.maxUnavailable = String(d.maxUnavailable);
  return fields;
}

/**
 * A batch's records of probe requests, each stored under its probe id as a pointer to the batch in
 * its pod's timeline (request-pointer.ts): the lookup reads one record, never the batch, and the
 * record is not serialised again. Records without a probe id cost nothing here.
 */
function probeRequestOps(event: Extract<AnyEvent, { kind: 'request.batch' }>, key: string, t: number): Op[] {
  const ops: Op[] = [];
  const pod = event.pod ?? '';
  event.data.records.forEach((record, i) => {
    if (!record.probeId) return; // as a request event: an empty probe id is no probe's
    const value = encodeRequestPointer({ pod, score: t, id: batchRecordId(event.id, i) });
    ops.push({ type: 'hset', key, field: record.probeId, value });
  });
  return ops;
}

/** Writes of the kinds that belong to a workload's rollout state. */
function workloadOps(event: AnyEvent, wk: string, t: number, wire: string, options: OpsOptions): Op[] {
  // Built only by the kinds that use them: most events are request records, which use none.
  const target = (): WorkloadRef => ({ namespace: event.namespace, workload: event.workload });
  const member = () => terminationMember({ pod: event.pod ?? '', instance: event.instance });
  const ends = () => ({ terminating: KEYS.terminating(wk), exited: KEYS.exited(wk), member: member() });
  switch (event.kind) {
    case 'prestop.started':
    case 'sigterm': {
      const implicitId = `${event.workload}-${compactTime(t)}-${event.id.slice(0, 6)}`;
      const terminations = KEYS.terminations(wk);
      const pod = member();
      return [
        { type: 'zadd-lt', key: terminations, score: t, member: pod },
        { type: 'termination-start', ...ends(), atMs: t },
        {
          type: 'rollout-touch',
          target: target(),
          atMs: t,
          implicitId,
          quietMs: options.quietMs,
          terminations,
          member: pod,
        },
      ];
    }
    case 'app.exited':
    case 'drain.summary':
      return [
        { type: 'termination-end', ...ends() },
        { type: 'rollout-activity', target: target(), atMs: t },
      ];
    case 'prestop.finished':
    case 'app.stopped-listening':
    case 'endpoints.propagated':
      return [{ type: 'rollout-activity', target: target(), atMs: t }];
    case 'request':
      return event.data.probeId
        ? [{ type: 'hset', key: KEYS.agentRequests(wk), field: event.data.probeId, value: wire }]
        : [];
    case 'request.batch':
      return probeRequestOps(event, KEYS.agentRequests(wk), t);
    case 'traffic.summary':
      return [{ type: 'zadd', key: KEYS.traffic(wk), score: t, member: wire }];
    case 'rollout.started': {
      const d = event.data;
      return [
        {
          type: 'rollout-start',
          target: target(),
          rolloutId: d.rolloutId,
          atMs: t,
          trigger: d.trigger,
          fields: rolloutFields(d),
        },
      ];
    }
    case 'rollout.finished': {
      const d = event.data;
      return [
        {
          type: 'rollout-finish',
          target: target(),
          rolloutId: d.rolloutId,
          atMs: t,
          outcome: d.outcome,
          podsReplaced: d.podsReplaced,
        },
      ];
    }
    case 'probe.request':
    case 'probe.session':
    case 'probe.websocket':
    case 'probe.summary': {
      const ops: Op[] = [{ type: 'zadd', key: KEYS.probe(wk), score: t, member: wire }];
      if (event.kind === 'probe.session' && event.data.event === 'login') {
        const login = JSON.stringify({ id: event.id, issuedBy: event.data.issuedBy ?? null });
        const key = KEYS.logins(wk, event.data.sessionId);
        ops.push({ type: 'zadd', key, score: Date.parse(event.data.at), member: login });
      }
      return ops;
    }
    default:
      return [];
  }
}

/**
 * The writes one valid event makes. Pure: the same event always gives the same writes. `raw` is
 * the message as received (valid JSON of this event); without it the event is encoded again.
 */
export function eventOps(event: AnyEvent, options: OpsOptions, raw?: string): Op[] {
  return opsOf(event, workloadKey(event.namespace, event.workload), options, raw);
}

function opsOf(event: AnyEvent, wk: string, options: OpsOptions, raw?: string): Op[] {
  const t = Date.parse(event.time);
  // Stored members are the event's wire JSON: the collector already holds it, and the store reads it back.
  const wire = raw ?? Buffer.from(encodeEvent(event)).toString('utf8');
  const ops = workloadOps(event, wk, t, wire, options);
  if (event.pod !== null) {
    ops.unshift(
      { type: 'seq', key: KEYS.seqs(wk, event.pod), instance: event.instance, seq: event.seq },
      { type: 'zadd', key: KEYS.timeline(wk, event.pod), score: t, member: wire },
    );
  }
  return ops;
}

/** An event's entry for the applier: its id, its workload (every key it writes is that workload's), its ops. */
export function eventEntry(event: AnyEvent, options: OpsOptions, raw?: string): Entry {
  const wk = workloadKey(event.namespace, event.workload);
  // The wire the ops store (raw, or the event encoded again), named once for encodeBatch.
  const wire = raw ?? Buffer.from(encodeEvent(event)).toString('utf8');
  return { id: event.id, workload: wk, ops: opsOf(event, wk, options, wire), wire };
}

export interface DeadLetter {
  readonly reason: string;
  readonly field: string;
  readonly subject: string;
  readonly raw: string;
}

export const DEAD_LETTER_RAW_MAX = 1024;

/** The write of a refused message: pushed on the bounded dead-letter list (at most `max`). */
export function deadLetterOp(letter: DeadLetter, max: number): Op {
  const raw = letter.raw.length > DEAD_LETTER_RAW_MAX ? letter.raw.slice(0, DEAD_LETTER_RAW_MAX) : letter.raw;
  return { type: 'dead-letter', key: KEYS.deadLetters, value: JSON.stringify({ ...letter, raw }), max };
}
