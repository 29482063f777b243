import { randomUUID } from 'node:crypto';
import { OversizeEventError } from './errors.js';
import type { EventData } from './events.js';
import { cloudEventType, type EventKind } from './kinds.js';
import { buildSubject } from './subjects.js';

// The zod-free half of the envelope: the event types, their wire encoding and subject, and a
// builder that trusts the payload's TypeScript type instead of validating it. The agent makes its
// events here and so never loads zod (~14 MB of a sidecar's memory); envelope.ts adds decoding and
// the validating createEvent/createEventSequencer on top. Only types come from events.ts.

/** A CloudEvents 1.0 structured-mode event of drainwatch, in JSON. */
export const MAX_EVENT_BYTES = 64 * 1024;
export const SPEC_VERSION = '1.0';
/**
 * The major.minor of drainwatch's payload schemas; a different major is refused. 1.1 added the
 * `request.batch` kind: a 1.0 collector dead-letters it, so upgrade collectors before agents.
 */
export const SCHEMA_VERSION = '1.1';

export interface EventIdentity {
  readonly namespace: string;
  readonly workload: string;
  /** null for events not emitted by a pod (rollouts, probe results). */
  readonly pod: string | null;
}

/** `namespace`, `workload`, `pod`, `instance`, `seq` and `schemaversion` are CloudEvents extensions. */
export interface DrainwatchEvent<K extends EventKind = EventKind> extends EventIdentity {
  readonly specversion: typeof SPEC_VERSION;
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly time: string;
  readonly datacontenttype: 'application/json';
  readonly schemaversion: string;
  /** Random per emitter process, so a restarted agent's seq starting again at 1 is not a gap. */
  readonly instance: string;
  /** Monotonic per (pod, instance), starting at 1, so the collector can see gaps. */
  readonly seq: number;
  readonly kind: K;
  readonly data: EventData<K>;
}

/** A discriminated union over `kind`, for `switch (event.kind)` with narrowed `data`. */
export type AnyEvent = { [K in EventKind]: DrainwatchEvent<K> }[EventKind];

export function eventSource(identity: EventIdentity): string {
  const parts = [identity.namespace, identity.workload, identity.pod ?? '_'].map(encodeURIComponent);
  return `/drainwatch/${parts.join('/')}`;
}

export interface CreateEventOptions {
  readonly instance: string;
  readonly seq: number;
  readonly id?: string;
  readonly time?: Date;
}

/**
 * Builds one event without validating its data: the payload's TypeScript type is the producer's
 * guarantee (value ranges and string lengths of the schemas are the producer's to respect).
 * The size is still checked, so an oversize event fails where it is made (OversizeEventError).
 * Use createEvent (envelope.ts) for data that did not come from typed code.
 */
export function createUncheckedEvent<K extends EventKind>(
  kind: K,
  identity: EventIdentity,
  data: EventData<K>,
  options: CreateEventOptions,
): DrainwatchEvent<K> {
  const event: DrainwatchEvent<K> = {
    specversion: SPEC_VERSION,
    id: options.id ?? newEventId(),
    source: eventSource(identity),
    type: cloudEventType(kind),
    time: (options.time ?? new Date()).toISOString(),
    datacontenttype: 'application/json',
    schemaversion: SCHEMA_VERSION,
    namespace: identity.namespace,
    workload: identity.workload,
    pod: identity.pod,
    instance: options.instance,
    seq: options.seq,
    kind,
    data,
  };
  encodeEvent(event);
  return event;
}

/** Event ids double as JetStream message ids, so they must be unique across every emitter. */
export function newEventId(): string {
  return randomUUID();
}

/** The structured-mode JSON of an event; `kind` is derived from `type` and not sent. */
export function encodeEvent(event: AnyEvent | DrainwatchEvent): Uint8Array {
  const { kind: _kind, ...wire } = event;
  const bytes = Buffer.from(JSON.stringify(wire), 'utf8');
  if (bytes.length > MAX_EVENT_BYTES) throw new OversizeEventError(bytes.length, MAX_EVENT_BYTES);
  return bytes;
}

/** The NATS subject an event is published on. */
export function subjectOf(
  event: Pick<DrainwatchEvent, 'namespace' | 'workload' | 'pod' | 'kind'>,
  root?: string,
): string {
  return buildSubject(event, root);
}

/**
 * One per emitter process: stamps each event with the next seq and a fresh id.
 * The seq is assigned when the event is made, so buffered events keep their order and identity
 * across NATS outages and replays.
 */
export interface EventSequencer {
  readonly instance: string;
  readonly identity: EventIdentity;
  next<K extends EventKind>(kind: K, data: EventData<K>, time?: Date): DrainwatchEvent<K>;
  /** The seq of the last event made, 0 before the first. */
  readonly lastSeq: number;
}

/** How a sequencer makes each event: createEvent (validating) or createUncheckedEvent. */
export type EventFactory = <K extends EventKind>(
  kind: K,
  identity: EventIdentity,
  data: EventData<K>,
  options: CreateEventOptions,
) => DrainwatchEvent<K>;

/** A sequencer over `make`; the counter advances only once `make` returned, so a refused event leaves no gap. */
export function sequencerOf(
  make: EventFactory,
  identity: EventIdentity,
  instance: string = randomUUID().slice(0, 8),
): EventSequencer {
  let seq = 0;
  return {
    instance,
    identity,
    get lastSeq() {
      return seq;
    },
    next(kind, data, time) {
      const event = make(kind, identity, data, { instance, seq: seq + 1, ...(time ? { time } : {}) });
      seq += 1;
      return event;
    },
  };
}

/**
 * The agent's sequencer: like createEventSequencer (envelope.ts) but its events are built with
 * createUncheckedEvent, so only an oversize event is refused (and leaves no seq gap).
 */
export function createUncheckedEventSequencer(identity: EventIdentity, instance?: string): EventSequencer {
  return sequencerOf(createUncheckedEvent, identity, instance);
}
