import type { JsMsg } from '@nats-io/jetstream';
import { type AnyEvent, ContractError } from '../contract/index.js';
import type { Logger } from '../lib/log.js';
import type { CollectorConfig } from './config.js';
import { createMessageDecoder } from './decode.js';
import { deadLetterOp, eventEntry } from './event-ops.js';
import type { CollectorMetrics } from './metrics.js';
import type { Entry } from './ops.js';

// Messages of the stream as the entries the apply script takes: a valid event as its writes,
// anything refused as a dead letter.

/** A delivered batch as entries, and its valid events in order (one per entry whose id is not null). */
export interface BatchEntries {
  readonly entries: readonly Entry[];
  readonly valid: readonly AnyEvent[];
}

export interface EntryReader {
  /**
   * Decodes a delivered batch. Events received are counted by kind, refused ones by reason (and
   * logged at most once per reason a minute); a refused message becomes a dead letter entry.
   */
  read(msgs: readonly JsMsg[]): BatchEntries;
  /** Decodes messages delivered before (a replay); refused ones are skipped, not dead-lettered twice. */
  reread(msgs: readonly JsMsg[]): Entry[];
}

/** `once(key)`: true when a line about `key` may be logged now (the ingest's rate limit). */
export function createEntryReader(
  config: CollectorConfig,
  metrics: CollectorMetrics,
  log: Logger,
  once: (key: string) => boolean,
): EntryReader {
  const decode = createMessageDecoder(config.subjectRoot);

  // The reason and the field only: a decoder's message may quote the refused payload, and a log
  // line must never carry payload values (query strings, headers a buggy sender put in an event).
  function logInvalid(reason: string, field: string, subject: string): void {
    if (!once(reason)) return;
    log.warn(
      { reason, field, subject },
      `refused event (${reason}); it is kept as a dead letter, and further ${reason} refusals are counted, not logged, for a minute`,
    );
  }

  /** Counts an event received by kind: per batch, as one increment per kind (cheaper per event). */
  function countReceived(received: Map<string, number>): void {
    for (const [kind, n] of received) metrics.health.eventsReceived.inc({ kind }, n);
  }

  function toEntry(m: JsMsg, valid: AnyEvent[], received: Map<string, number>): Entry {
    try {
      const { event, raw } = decode(m);
      received.set(event.kind, (received.get(event.kind) ?? 0) + 1);
      valid.push(event);
      return eventEntry(event, { quietMs: config.rolloutQuietMs }, raw);
    } catch (err) {
      // Anything refused is counted, kept as a dead letter and acked: a poison message never blocks the stream.
      const reason = err instanceof ContractError ? err.code : 'internal';
      const field = err instanceof ContractError ? err.field : '';
      received.set('invalid', (received.get('invalid') ?? 0) + 1);
      metrics.health.eventsInvalid.inc({ reason });
      logInvalid(reason, field, m.subject);
      const raw = Buffer.from(m.data.subarray(0, 2048)).toString('utf8');
      return {
        id: null,
        workload: null,
        ops: [deadLetterOp({ reason, field, subject: m.subject, raw }, config.deadLetterMax)],
      };
    }
  }

  return {
    read(msgs) {
      const valid: AnyEvent[] = [];
      const received = new Map<string, number>();
      const entries = msgs.map((m) => toEntry(m, valid, received));
      countReceived(received);
      return { entries, valid };
    },
    reread(msgs) {
      const entries: Entry[] = [];
      for (const m of msgs) {
        try {
          const { event, raw } = decode(m);
          entries.push(eventEntry(event, { quietMs: config.rolloutQuietMs }, raw));
        } catch {
          // Refused when first delivered: its dead letter was pushed then, and is not pushed twice.
        }
      }
      return entries;
    },
  };
}
