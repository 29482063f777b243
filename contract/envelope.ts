import { z } from 'zod';
import {
  InvalidEventDataError,
  MalformedEnvelopeError,
  NotJsonError,
  OversizeEventError,
  TooDeepEventError,
  UnknownEventTypeError,
  UnsupportedVersionError,
} from './errors.js';
import {
  type AnyEvent,
  type CreateEventOptions,
  createUncheckedEvent,
  type DrainwatchEvent,
  type EventIdentity,
  type EventSequencer,
  MAX_EVENT_BYTES,
  SCHEMA_VERSION,
  SPEC_VERSION,
  sequencerOf,
} from './event-builder.js';
import { dataSchemas, type EventData } from './events.js';
import { type EventKind, kindOfType } from './kinds.js';

// The validating half of the envelope: decoding and validation of wire events (the collector), and
// createEvent/createEventSequencer, which validate an event's data with the zod schemas before
// building it. Everything that needs no zod lives in event-builder.ts (contract/index.ts).

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

/**
 * Validates one event's data against its schema, then builds it (createUncheckedEvent). Throws the
 * same typed errors as decodeEvent: InvalidEventDataError naming the field, OversizeEventError.
 */
export function createEvent<K extends EventKind>(
  kind: K,
  identity: EventIdentity,
  data: EventData<K>,
  options: CreateEventOptions,
): DrainwatchEvent<K> {
  return createUncheckedEvent(kind, identity, validateData(kind, data), options);
}

/**
 * The deepest nesting of objects and arrays a wire event may have: the envelope is 1, its `data` 2,
 * and no event of the contract goes past 4. Deeper JSON is refused before it is parsed, because
 * anything that later walks it recursively (JSON.stringify when the collector answers an API call
 * with a stored event) overflows the stack at a few thousand levels.
 */
export const MAX_EVENT_DEPTH = 32;

/** The deepest nesting of `{`/`[` in JSON text, strings skipped; one pass, no parsing, no recursion. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > max) max = depth;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** How many `{` and `[` the text holds (strings included), counting no further than `limit` + 1. */
function openersAtMost(text: string, limit: number): number {
  let n = 0;
  for (const c of ['{', '[']) {
    for (let i = text.indexOf(c); i !== -1 && n <= limit; i = text.indexOf(c, i + 1)) n++;
  }
  return n;
}

/**
 * Parses and validates one wire event; every refusal is a ContractError naming the field:
 * OversizeEventError over MAX_EVENT_BYTES, TooDeepEventError past MAX_EVENT_DEPTH, NotJsonError,
 * then the envelope and data errors of validateEvent.
 */
export function decodeEvent(input: Uint8Array | string): AnyEvent {
  const size = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.byteLength;
  if (size > MAX_EVENT_BYTES) throw new OversizeEventError(size, MAX_EVENT_BYTES);
  // A view of the bytes, not a copy (Buffer.from(Uint8Array) copies them).
  const text =
    typeof input === 'string'
      ? input
      : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8');
  // The depth never exceeds the number of openers: most events have a handful, and counting them
  // (native indexOf) is much cheaper than the character-by-character scan.
  if (openersAtMost(text, MAX_EVENT_DEPTH) > MAX_EVENT_DEPTH && jsonDepth(text) > MAX_EVENT_DEPTH) {
    throw new TooDeepEventError(MAX_EVENT_DEPTH);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
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

/**
 * One per emitter process: stamps each event with the next seq and a fresh id, and validates its
 * data (createEvent); a refused event throws and leaves no seq gap. The agent uses
 * createUncheckedEventSequencer (event-builder.ts) instead, which does not load zod.
 */
export function createEventSequencer(identity: EventIdentity, instance?: string): EventSequencer {
  return sequencerOf(createEvent, identity, instance);
}
