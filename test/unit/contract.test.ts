import { describe, expect, it } from 'vitest';
import {
  buildSubject,
  type ContractError,
  createUncheckedEventSequencer,
  EVENT_KINDS,
  type EventKind,
  encodeEvent,
  escapeToken,
  InvalidEventDataError,
  InvalidSubjectError,
  MAX_EVENT_BYTES,
  MAX_REQUEST_BATCH_RECORDS,
  MalformedEnvelopeError,
  NotJsonError,
  OversizeEventError,
  parseSubject,
  requestsOfBatch,
  subjectOf,
  TooDeepEventError,
  UnknownEventTypeError,
  UnsupportedVersionError,
  unescapeToken,
} from '../../contract/index.js';
import {
  createEvent,
  createEventSequencer,
  decodeEvent,
  jsonDepth,
  MAX_EVENT_DEPTH,
} from '../../contract/validate.js';
import { SAMPLE_DATA } from '../helpers/sample-events.js';

const pod = { namespace: 'shop', workload: 'quote', pod: 'quote-7d9f-abcde' };

function wire(kind: EventKind = 'prestop.finished'): Record<string, unknown> {
  const event = createEvent(kind, pod, SAMPLE_DATA[kind] as never, { instance: 'i1', seq: 1 });
  return JSON.parse(Buffer.from(encodeEvent(event)).toString('utf8'));
}

function decodeObj(obj: unknown) {
  return decodeEvent(JSON.stringify(obj));
}

describe('event round trip', () => {
  it.each(EVENT_KINDS)('%s survives encode → decode unchanged', (kind) => {
    const event = createEvent(kind, pod, SAMPLE_DATA[kind] as never, { instance: 'abc', seq: 7 });
    const back = decodeEvent(encodeEvent(event));
    expect(back).toEqual(event);
    expect(back.kind).toBe(kind);
    expect(back.type).toMatch(/^dev\.drainwatch\./);
    expect(parseSubject(subjectOf(back))).toEqual({ ...pod, kind });
  });

  it('pod-scoped kinds use the dev.drainwatch.pod. type prefix', () => {
    expect(
      createEvent('prestop.started', pod, SAMPLE_DATA['prestop.started'], { instance: 'i', seq: 1 }).type,
    ).toBe('dev.drainwatch.pod.prestop.started');
    expect(
      createEvent('rollout.started', { ...pod, pod: null }, SAMPLE_DATA['rollout.started'], {
        instance: 'i',
        seq: 1,
      }).type,
    ).toBe('dev.drainwatch.rollout.started');
  });

  it('events not emitted by a pod use the reserved pod token', () => {
    const e = createEvent('rollout.started', { ...pod, pod: null }, SAMPLE_DATA['rollout.started'], {
      instance: 'i',
      seq: 1,
    });
    expect(subjectOf(e)).toBe('drainwatch.v1.shop.quote._.rollout.started');
    expect(parseSubject(subjectOf(e)).pod).toBeNull();
  });

  it('decodes bytes that are a view into a larger buffer (as NATS delivers them) without their neighbours', () => {
    const event = createEvent('request', pod, SAMPLE_DATA.request, { instance: 'abc', seq: 7 });
    const bytes = encodeEvent(event);
    // Junk on both sides that would not parse: only the view's own bytes may be read.
    const big = new Uint8Array(bytes.byteLength + 64).fill(0x7b);
    big.set(bytes, 32);
    expect(decodeEvent(big.subarray(32, 32 + bytes.byteLength))).toEqual(event);
  });

  it('the wire form is a CloudEvents 1.0 structured event without the derived kind', () => {
    const w = wire('request');
    expect(w.specversion).toBe('1.0');
    expect(w.datacontenttype).toBe('application/json');
    for (const f of ['id', 'source', 'type', 'time', 'data', 'seq', 'instance']) expect(w).toHaveProperty(f);
    expect(w).not.toHaveProperty('kind');
  });
});

describe('sequencer', () => {
  it('numbers events 1, 2, 3 with unique ids and leaves no gap after a rejected event', () => {
    const seq = createEventSequencer(pod, 'inst');
    const a = seq.next('sigterm', SAMPLE_DATA.sigterm);
    expect(() => seq.next('sigterm', { ...SAMPLE_DATA.sigterm, inFlight: -1 })).toThrow(
      InvalidEventDataError,
    );
    const b = seq.next('app.exited', SAMPLE_DATA['app.exited']);
    const c = seq.next('drain.summary', SAMPLE_DATA['drain.summary']);
    expect([a.seq, b.seq, c.seq]).toEqual([1, 2, 3]);
    expect(new Set([a.id, b.id, c.id]).size).toBe(3);
    expect(seq.lastSeq).toBe(3);
    expect(a.instance).toBe('inst');
  });
});

describe('unchecked sequencer (the agent: no zod)', () => {
  it('makes the same events as the validating one, numbered alike', () => {
    const checked = createEventSequencer(pod, 'inst');
    const unchecked = createUncheckedEventSequencer(pod, 'inst');
    const time = new Date('2025-01-02T03:04:05.678Z');
    for (const kind of EVENT_KINDS) {
      const a = checked.next(kind, SAMPLE_DATA[kind] as never, time);
      const b = unchecked.next(kind, SAMPLE_DATA[kind] as never, time);
      expect({ ...b, id: a.id }).toEqual(a);
      expect(decodeEvent(encodeEvent(b))).toEqual(b);
    }
    expect(unchecked.lastSeq).toBe(EVENT_KINDS.length);
  });

  it('does not validate the data, but still refuses an oversize event without a seq gap', () => {
    const seq = createUncheckedEventSequencer(pod, 'i');
    expect(seq.next('sigterm', { ...SAMPLE_DATA.sigterm, inFlight: -1 }).seq).toBe(1);
    expect(() =>
      seq.next('drain.summary', {
        ...SAMPLE_DATA['drain.summary'],
        websocketCloses: Object.fromEntries(Array.from({ length: 6000 }, (_, i) => [String(1000 + i), i])),
      }),
    ).toThrow(OversizeEventError);
    expect(seq.lastSeq).toBe(1);
    expect(seq.next('app.exited', SAMPLE_DATA['app.exited']).seq).toBe(2);
  });
});

describe('rejection', () => {
  function rejects(obj: unknown, cls: new (...a: never[]) => ContractError, field: string) {
    let caught: unknown;
    try {
      decodeObj(obj);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(cls);
    expect((caught as ContractError).field).toBe(field);
    expect((caught as Error).message).toContain(field);
  }

  it.each(['id', 'source', 'type', 'time', 'specversion', 'seq', 'instance', 'namespace', 'workload'])(
    'a missing %s is a malformed envelope naming it',
    (field) => {
      const w = wire();
      delete w[field];
      rejects(w, MalformedEnvelopeError, field);
    },
  );

  it('wrong types in the envelope name the field', () => {
    rejects({ ...wire(), seq: '1' }, MalformedEnvelopeError, 'seq');
    rejects({ ...wire(), seq: 0 }, MalformedEnvelopeError, 'seq');
    rejects({ ...wire(), time: 'yesterday' }, MalformedEnvelopeError, 'time');
    rejects({ ...wire(), id: 42 }, MalformedEnvelopeError, 'id');
  });

  it('wrong types in the data name the data field', () => {
    const w = wire('prestop.finished');
    rejects(
      { ...w, data: { ...(w.data as object), durationMs: 'fast' } },
      InvalidEventDataError,
      'data.durationMs',
    );
    rejects({ ...w, data: { ...(w.data as object), reason: 'bored' } }, InvalidEventDataError, 'data.reason');
    const r = wire('request');
    rejects(
      { ...r, data: { ...(r.data as object), arrivalPhase: 'dying' } },
      InvalidEventDataError,
      'data.arrivalPhase',
    );
    rejects({ ...r, data: null }, InvalidEventDataError, 'data');
  });

  it('an unknown type is refused as such', () => {
    rejects({ ...wire(), type: 'dev.drainwatch.pod.exploded' }, UnknownEventTypeError, 'type');
  });

  it('an unknown major version is refused, a newer minor accepted', () => {
    rejects({ ...wire(), specversion: '2.0' }, UnsupportedVersionError, 'specversion');
    rejects({ ...wire(), schemaversion: '2.0' }, UnsupportedVersionError, 'schemaversion');
    expect(decodeObj({ ...wire(), schemaversion: '1.7' }).schemaversion).toBe('1.7');
  });

  it('an oversize event is refused on decode and on create', () => {
    const w = wire('request');
    const big = { ...w, padding: 'x'.repeat(MAX_EVENT_BYTES) };
    expect(() => decodeObj(big)).toThrow(OversizeEventError);
    const seq = createEventSequencer(pod, 'i');
    expect(() =>
      seq.next('drain.summary', {
        ...SAMPLE_DATA['drain.summary'],
        websocketCloses: Object.fromEntries(Array.from({ length: 6000 }, (_, i) => [String(1000 + i), i])),
      }),
    ).toThrow(OversizeEventError);
    expect(seq.lastSeq).toBe(0);
  });

  it('an event nested deeper than MAX_EVENT_DEPTH is refused before it is parsed', () => {
    const withExtra = (depth: number): string =>
      JSON.stringify(wire('request')).replace(
        '"data":{',
        `"data":{"extra":${'['.repeat(depth)}${']'.repeat(depth)},`,
      );
    // The envelope is level 1 and data level 2: an extra value may nest MAX_EVENT_DEPTH - 2 arrays.
    expect(decodeEvent(withExtra(MAX_EVENT_DEPTH - 2)).kind).toBe('request');
    expect(() => decodeEvent(withExtra(MAX_EVENT_DEPTH - 1))).toThrow(TooDeepEventError);
    expect(() => decodeEvent(withExtra(20_000))).toThrow(TooDeepEventError);
  });

  it('jsonDepth counts brackets outside strings only, escapes included', () => {
    expect(jsonDepth('{"a":[1,{"b":[]}]}')).toBe(4);
    expect(jsonDepth('{"a":"[[[[{{{{"}')).toBe(1);
    expect(jsonDepth('{"a":"\\"[[[[","b":[]}')).toBe(2);
    expect(jsonDepth('"x"')).toBe(0);
  });

  it('non-JSON and non-objects are refused', () => {
    expect(() => decodeEvent('{not json')).toThrow(NotJsonError);
    expect(() => decodeEvent('[1,2]')).toThrow(MalformedEnvelopeError);
    expect(() => decodeEvent('null')).toThrow(MalformedEnvelopeError);
  });

  it('every refusal carries a stable code', () => {
    const codes = new Set<string>();
    for (const bad of [
      'x',
      '[]',
      JSON.stringify({ ...wire(), type: 'nope' }),
      JSON.stringify({ ...wire(), specversion: '9.0' }),
    ]) {
      try {
        decodeEvent(bad);
      } catch (err) {
        codes.add((err as ContractError).code);
      }
    }
    expect([...codes].sort()).toEqual([
      'malformed-envelope',
      'not-json',
      'unknown-type',
      'unsupported-version',
    ]);
  });
});

describe('subjects', () => {
  const hostile = [
    'a.b',
    'with space',
    'star*',
    'gt>',
    '>',
    '*',
    '',
    '~0',
    '~',
    '_',
    '_leading',
    'tab\there',
    'ünïcødé-名前',
    'emoji-🚀',
    '..',
    'a~2Eb',
    'new\nline',
  ];

  it.each(hostile)('escapes %j into one legal NATS token and back', (name) => {
    const token = escapeToken(name);
    expect(token).toMatch(/^[A-Za-z0-9_~-]+$/);
    expect(token).not.toBe('_');
    expect(unescapeToken(token)).toBe(name);
  });

  it('distinct names never share a token', () => {
    const tokens = hostile.map(escapeToken);
    expect(new Set(tokens).size).toBe(hostile.length);
  });

  it('keeps ordinary Kubernetes names readable', () => {
    expect(escapeToken('quote-7d9f-abcde')).toBe('quote-7d9f-abcde');
    expect(
      buildSubject({ namespace: 'shop', workload: 'quote', pod: 'quote-1', kind: 'prestop.started' }),
    ).toBe('drainwatch.v1.shop.quote.quote-1.prestop.started');
  });

  it.each(hostile.flatMap((a) => hostile.slice(0, 4).map((b) => [a, b])))(
    'round-trips namespace %j, workload/pod %j',
    (ns, name) => {
      const parts = { namespace: ns, workload: name, pod: name, kind: 'request' as const };
      const subject = buildSubject(parts, 'tenant.drainwatch');
      expect(subject.split('.').every((t) => t.length > 0 && !/[\s*>]/.test(t))).toBe(true);
      expect(parseSubject(subject, 'tenant.drainwatch')).toEqual(parts);
    },
  );

  it('refuses subjects outside the contract', () => {
    expect(() => parseSubject('other.v1.a.b.c.request')).toThrow(InvalidSubjectError);
    expect(() => parseSubject('drainwatch.v2.a.b.c.request')).toThrow(InvalidSubjectError);
    expect(() => parseSubject('drainwatch.v1.a.b.c.exploded')).toThrow(InvalidSubjectError);
    expect(() => parseSubject('drainwatch.v1.a.b.c d.request')).toThrow(InvalidSubjectError);
    expect(() => unescapeToken('~zz')).toThrow(InvalidSubjectError);
  });
});

describe('request.batch', () => {
  const batch = createEvent('request.batch', pod, SAMPLE_DATA['request.batch'], {
    instance: 'i1',
    seq: 7,
    time: new Date('2026-11-21T10:00:00.100Z'),
  });

  it('reads as the request events it stands for: each valid, in order, with its own time and id', () => {
    const requests = requestsOfBatch(batch);
    expect(requests.map((r) => [r.id, r.time, r.seq, r.data.requestId])).toEqual([
      [`${batch.id}/0`, '2026-11-21T10:00:00.040Z', 7, 'r-2'],
      [`${batch.id}/1`, '2026-11-21T10:00:00.050Z', 7, 'r-3'],
    ]);
    for (const [i, r] of requests.entries()) {
      // Each one is exactly the request event an unbatched agent would have sent (no `at` left over).
      const { at, ...data } = SAMPLE_DATA['request.batch'].records[i]!;
      expect(decodeEvent(encodeEvent(r))).toEqual({ ...r, kind: 'request', data });
      expect(at).toBe(r.time);
      expect(r.type).toBe('dev.drainwatch.pod.request');
    }
  });

  it(`refuses an empty batch and one of more than ${MAX_REQUEST_BATCH_RECORDS} records`, () => {
    const record = SAMPLE_DATA['request.batch'].records[0]!;
    const tooMany = Array.from({ length: MAX_REQUEST_BATCH_RECORDS + 1 }, () => record);
    for (const records of [[], tooMany]) {
      const obj = { ...wire('request.batch'), data: { records } };
      expect(() => decodeObj(obj)).toThrow(InvalidEventDataError);
    }
    const full = { ...wire('request.batch'), data: { records: tooMany.slice(1) } };
    expect(decodeObj(full).kind).toBe('request.batch');
  });

  it('refuses a record without its time, or with a field a request event refuses', () => {
    const { at: _at, ...noTime } = SAMPLE_DATA['request.batch'].records[0]!;
    const badStatus = { ...SAMPLE_DATA['request.batch'].records[0]!, status: 99 };
    for (const record of [noTime, badStatus]) {
      const obj = { ...wire('request.batch'), data: { records: [record] } };
      expect(() => decodeObj(obj)).toThrow(/data\.records\.0\.(at|status)/);
    }
  });
});
