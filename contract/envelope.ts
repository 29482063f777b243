import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  InvalidEventDataError,
  MalformedEnvelopeError,
  NotJsonError,
  OversizeEventError,
  UnknownEventTypeError,
  UnsupportedVersionError,
} from './errors.js';
import { cloudEventType, dataSchemas, type EventData, type EventKind, kindOfType } from './events.js';
import { buildSubject } from './subjects.js';

/** A CloudEvents 1.0 structured-mode event of drainwatch, in JSON. */
export const MAX_EVENT_BYTES = 64 * 1024;
export const SPEC_VERSION = '1.0';
/** The major.minor of drainwatch's payload schemas; a different major is refused. */
export const SCHEMA_VERSION = '1.0';

// Envelope attributes. `namespace`, `workload`, `pod`, `instance`, `seq` and `schemaversion` are
// CloudEvents extension attributes (lowercase alphanumerics, as the spec requires).
const envelopeSchema = z.object({
  specversion: z.string(),
  id: z.string().min(1).max(128),
  source: z.string().min(1).max(512),
  type: z.string().min(1).max(128),
  time: z.iso.datetime({ offset: true }),
  datacontenttype: z.literal('application/json').optional(),
  subject: z.string().max(256).optional(),
  schemaversion: z.string().regex(/^\d+\.\d+$/),
  namespace: z.string().max(253),
  workload: z.string().max(253),
  pod: z.string().max(253).nullable(),
  instance: z.string().min(1).max(64),
  seq: z.number().int().positive(),
  data: z.unknown(),
});

export interface EventIdentity {
  readonly namespace: string;
  readonly workload: string;
  /** null for events not emitted by a pod (rollouts, probe results). */
  readonly pod: string | null;
}

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

function fieldOf(path: ReadonlyArray<PropertyKey>): string {
  return path.map(String).join('.');
}

function validateData<K extends EventKind>(kind: K, data: unknown): EventData<K> {
  const parsed = dataSchemas[kind].safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidEventDataError(fieldOf(['data', ...issue.path]), issue.message);
  }
  return parsed.data as EventData<K>;
}

export interface CreateEventOptions {
  readonly instance: string;
  readonly seq: number;
  readonly id?: string;
  readonly time?: Date;
}

/** Builds and validates one event. Throws the same typed errors as decodeEvent. */
export function createEvent<K extends EventKind>(
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
    data: validateData(kind, data),
  };
  // Validate the size now: an oversize event must fail where it is made, not at the consumer.
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

/** Parses and validates one wire event; every refusal is a ContractError naming the field. */
export function decodeEvent(input: Uint8Array | string): AnyEvent {
  const size = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.byteLength;
  if (size > MAX_EVENT_BYTES) throw new OversizeEventError(size, MAX_EVENT_BYTES);
  let raw: unknown;
  try {
    raw = JSON.parse(typeof input === 'string' ? input : Buffer.from(input).toString('utf8'));
  } catch (err) {
    throw new NotJsonError('', `not JSON: ${(err as Error).message}`);
  }
  return validateEvent(raw);
}

/** Validates an already-parsed object as an event. */
export function validateEvent(raw: unknown): AnyEvent {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new MalformedEnvelopeError('', 'an event must be a JSON object');
  }
  const obj = raw as Record<string, unknown>;
  // Version checks come before the full envelope check, so a v2 event says "version", not "field X".
  if (typeof obj.specversion === 'string' && obj.specversion.split('.')[0] !== SPEC_VERSION.split('.')[0]) {
    throw new UnsupportedVersionError('specversion', `CloudEvents ${obj.specversion} is not supported`);
  }
  if (
    typeof obj.schemaversion === 'string' &&
    obj.schemaversion.split('.')[0] !== SCHEMA_VERSION.split('.')[0]
  ) {
    throw new UnsupportedVersionError(
      'schemaversion',
      `drainwatch schema ${obj.schemaversion} is not supported`,
    );
  }
  const env = envelopeSchema.safeParse(obj);
  if (!env.success) {
    const issue = env.error.issues[0]!;
    throw new MalformedEnvelopeError(fieldOf(issue.path), issue.message);
  }
  const kind = kindOfType(env.data.type);
  if (!kind) throw new UnknownEventTypeError('type', `unknown event type ${JSON.stringify(env.data.type)}`);
  const data = validateData(kind, env.data.data);
  return {
    specversion: SPEC_VERSION,
    id: env.data.id,
    source: env.data.source,
    type: env.data.type,
    time: env.data.time,
    datacontenttype: 'application/json',
    schemaversion: env.data.schemaversion,
    namespace: env.data.namespace,
    workload: env.data.workload,
    pod: env.data.pod,
    instance: env.data.instance,
    seq: env.data.seq,
    kind,
    data,
  } as AnyEvent;
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

export function createEventSequencer(
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
      // Only advance the counter once the event validated, so a rejected event leaves no gap.
      const event = createEvent(kind, identity, data, { instance, seq: seq + 1, ...(time ? { time } : {}) });
      seq += 1;
      return event;
    },
  };
}
