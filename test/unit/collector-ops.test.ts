import { describe, expect, it } from 'vitest';
import { ScriptReplyError } from '../../collector/errors.js';
import { eventOps } from '../../collector/event-ops.js';
import {
  encodeKeyPart,
  KEYS,
  parseTerminationMember,
  parseWorkloadKey,
  ROLLOUT_FIELDS,
  terminationMember,
  workloadKey,
} from '../../collector/keys.js';
import { decodeNotes, encodeBatch, packFields } from '../../collector/ops.js';
import { decodeRequestPointer, encodeRequestPointer } from '../../collector/request-pointer.js';
import { loadScript } from '../../collector/scripts.js';
import { decodeEvents, decodeTimeline } from '../../collector/stored.js';
import { encodeEvent, requestsOfBatch } from '../../contract/index.js';
import { createEvent } from '../../contract/validate.js';
import { SAMPLE_DATA } from '../helpers/sample-events.js';

describe('collector keys and ops', () => {
  it('names from users never reach a key raw; workload keys and termination members parse back', () => {
    expect(KEYS.seen('shop/web', 'a/b|c d')).toBe('w:{shop/web}:seen:a%2Fb%7Cc%20d');
    expect(encodeKeyPart('\ud800')).toBe('%EF%BF%BD');
    const wk = workloadKey('ns:1/x', 'web|1');
    expect(wk).toBe('ns%3A1%2Fx/web%7C1');
    expect(parseWorkloadKey(wk)).toEqual({ namespace: 'ns:1/x', workload: 'web|1' });
    const member = terminationMember({ pod: 'pod|with|bars', instance: 'i-1' });
    expect(parseTerminationMember(member)).toEqual({ pod: 'pod|with|bars', instance: 'i-1' });
  });

  it('encodeBatch names each key once, opens each workload section with its three keys, refers to keys by index and sends the event wire once', () => {
    const target = { namespace: 'shop', workload: 'web' };
    const wk = 'shop/web';
    const { keys, args } = encodeBatch([
      {
        wk,
        entries: [
          {
            id: 'e1',
            workload: wk,
            ops: [
              { type: 'zadd', key: 'k', score: 5, member: 'm' },
              { type: 'rollout-activity', target, atMs: 7 },
            ],
          },
          {
            id: 'e2',
            workload: wk,
            wire: 'n',
            ops: [
              { type: 'zadd', key: 'k', score: 6, member: 'n' },
              {
                type: 'rollout-finish',
                target,
                rolloutId: 'r 1',
                atMs: 9,
                outcome: 'complete',
                podsReplaced: 2,
              },
            ],
          },
        ],
      },
      {
        wk: 'shop/api%7C1',
        entries: [
          { id: 'e3', workload: 'shop/api%7C1', ops: [{ type: 'zadd', key: 'k', score: 1, member: 'o' }] },
        ],
      },
    ]);
    expect(keys).toEqual([
      'w:{shop/web}:open',
      'w:{shop/web}:rollouts',
      'w:{shop/web}:ro',
      'w:{shop/web}:seen:e1',
      'k',
      'w:{shop/web}:seen:e2',
      'w:{shop/api%7C1}:open',
      'w:{shop/api%7C1}:rollouts',
      'w:{shop/api%7C1}:ro',
      'w:{shop/api%7C1}:seen:e3',
    ]);
    expect(args).toEqual([
      ...['1', '2', '3', 'shop', 'web', '2'],
      ...['4', '', '2'],
      ...['4', 'zadd', '5', '5', 'm'],
      ...['2', 'rollout-activity', '7'],
      // e2's member is its wire, sent once before its ops and left out of the zadd.
      ...['6', 'n', '2'],
      ...['3', 'zadd', '5', '6'],
      ...['5', 'rollout-finish', 'r 1', '9', 'complete', '2'],
      // The second workload's names as its events gave them (decoded from the key).
      ...['7', '8', '9', 'shop', 'api|1', '1'],
      ...['10', '', '1'],
      ...['4', 'zadd', '5', '1', 'o'],
    ]);
  });

  it('encodeBatch refuses an entry of another workload and a dead letter: they belong to other slots', () => {
    const zadd = { type: 'zadd', key: 'k', score: 1, member: 'm' } as const;
    expect(() => encodeBatch([{ wk: 'a/b', entries: [{ id: 'e', workload: 'a/c', ops: [zadd] }] }])).toThrow(
      ScriptReplyError,
    );
    expect(() =>
      encodeBatch([
        {
          wk: 'a/b',
          entries: [
            { id: 'e', workload: 'a/b', ops: [{ type: 'dead-letter', key: 'dead', value: 'x', max: 1 }] },
          ],
        },
      ]),
    ).toThrow(ScriptReplyError);
  });

  it('apply.lua receives the rollout field names of keys.ts in its source', () => {
    const source = loadScript('apply');
    expect(source).not.toContain('--[[ROLLOUT_FIELDS]]');
    expect(source).toContain(`local FIELDS = { ${ROLLOUT_FIELDS.map((f) => `'${f}'`).join(', ')} }`);
  });

  it('encodeKeyPart leaves unreserved names as they are and encodes the rest', () => {
    expect(encodeKeyPart("web-1_a.b~c*d'(e)!")).toBe("web-1_a.b~c*d'(e)!");
    expect(encodeKeyPart('')).toBe('');
    expect(encodeKeyPart('a b{c}')).toBe('a%20b%7Bc%7D');
    expect(encodeKeyPart('é')).toBe('%C3%A9');
  });

  it('decodeNotes reads { kind, id } pairs and refuses anything else', () => {
    expect(
      decodeNotes([
        ['opened', 'a'],
        ['closed', 'b|c'],
      ]),
    ).toEqual([
      { kind: 'opened', rolloutId: 'a' },
      { kind: 'closed', rolloutId: 'b|c' },
    ]);
    expect(decodeNotes([])).toEqual([]);
    expect(() => decodeNotes([['reopened', 'a']])).toThrow(ScriptReplyError);
    expect(() => decodeNotes('closed|a')).toThrow(ScriptReplyError);
  });

  it('packFields prefixes each field with its UTF-8 byte length, whatever it holds (colons, digits, astral characters, nothing)', () => {
    expect(packFields(['ab', '', '12:3', 'é', '😀', '{"a":1}']).toString('utf8')).toBe(
      '2:ab0:4:12:32:é4:😀7:{"a":1}',
    );
    expect(packFields([])).toEqual(Buffer.alloc(0));
    // Read back the way apply.lua does (byte offsets), the fields come out unchanged.
    const fields = ['x:y', '🏳️‍🌈', '\u2028', '0:', ''];
    expect(unpackFields(packFields(fields))).toEqual(fields);
  });

  it('packFields writes a batch larger than its chunk (32 Ki UTF-16 units) whole, multi-byte characters across the chunk boundaries included', () => {
    const fields: string[] = [];
    for (let i = 0; i < 400; i++) fields.push(i % 3 === 0 ? `é${'x'.repeat(i * 7)}😀` : String(i));
    const packed = packFields(fields);
    expect(packed.length).toBe(
      fields.reduce((n, f) => n + String(Buffer.byteLength(f)).length + 1 + Buffer.byteLength(f), 0),
    );
    expect(unpackFields(packed)).toEqual(fields);
  });
});

/** Reads packed fields back the way apply.lua's unpack_fields does (byte offsets). */
function unpackFields(packed: Buffer): string[] {
  const out: string[] = [];
  for (let pos = 0; pos < packed.length; ) {
    const colon = packed.indexOf(0x3a, pos);
    const size = Number(packed.subarray(pos, colon).toString('latin1'));
    out.push(packed.subarray(colon + 1, colon + 1 + size).toString('utf8'));
    pos = colon + 1 + size;
  }
  return out;
}

describe('request.batch writes', () => {
  const pod = { namespace: 'shop', workload: 'quote', pod: 'quote-1' };
  const batch = createEvent('request.batch', pod, SAMPLE_DATA['request.batch'], { instance: 'i1', seq: 4 });
  const wire = Buffer.from(encodeEvent(batch)).toString('utf8');
  const wk = workloadKey('shop', 'quote');

  it('stores the batch once in the timeline and each probe record under its probe id as a pointer to it', () => {
    const ops = eventOps(batch, { quietMs: 10_000 }, wire);
    expect(ops.map((o) => o.type)).toEqual(['seq', 'zadd', 'hset']);
    const zadd = ops[1] as Extract<(typeof ops)[number], { type: 'zadd' }>;
    expect(zadd).toMatchObject({ key: KEYS.timeline(wk, 'quote-1'), member: wire });
    const hset = ops[2] as Extract<(typeof ops)[number], { type: 'hset' }>;
    expect(hset).toMatchObject({ key: KEYS.agentRequests(wk), field: 'p-3' });
    // The pointer names the timeline entry (pod, score) and the second record's request event id.
    const pointer = decodeRequestPointer(hset.value);
    expect(pointer).toEqual({ pod: 'quote-1', score: zadd.score, id: requestsOfBatch(batch)[1]!.id });
  });

  it('a request pointer round-trips whatever the id holds, and a stored event is not one', () => {
    const p = { pod: 'web-7d9f-x2x9q', score: 1_796_140_000_123, id: 'a|b/@c/1' };
    expect(decodeRequestPointer(encodeRequestPointer(p))).toEqual(p);
    expect(decodeRequestPointer(wire)).toBeUndefined();
    for (const bad of ['@pod', '@pod|x|id', '@pod|12']) expect(decodeRequestPointer(bad)).toBeUndefined();
  });

  it('a request pointer round-trips any pod name the contract allows (a `|`, a `%`, no DNS label)', () => {
    // Pods named outside Kubernetes (--pod-name, the hostname) are any string; keys already take
    // them (encodeKeyPart). A DNS label is stored as itself, as pointers written before were.
    for (const pod of ['web|1', 'a|12|b', 'x%7Cy', '%E0', 'pod name/ü', '']) {
      const p = { pod, score: 1_796_140_000_123, id: 'b/3' };
      expect(decodeRequestPointer(encodeRequestPointer(p)), pod).toEqual(p);
    }
    expect(encodeRequestPointer({ pod: 'web-7d9f-x2x9q', score: 5, id: 'b/0' })).toBe(
      '@web-7d9f-x2x9q|5|b/0',
    );
  });

  it('a batch without probe records writes no probe lookup', () => {
    const records = SAMPLE_DATA['request.batch'].records.map(({ probeId: _p, ...r }) => r);
    const plain = createEvent('request.batch', pod, { records }, { instance: 'i1', seq: 5 });
    expect(eventOps(plain, { quietMs: 10_000 }).map((o) => o.type)).toEqual(['seq', 'zadd']);
  });

  it('an empty probe id writes no probe lookup, batched or not (as a request event)', () => {
    const records = SAMPLE_DATA['request.batch'].records.map((r) => ({ ...r, probeId: '' }));
    const batched = createEvent('request.batch', pod, { records }, { instance: 'i1', seq: 6 });
    const single = createEvent(
      'request',
      pod,
      { ...SAMPLE_DATA.request, probeId: '' },
      { instance: 'i1', seq: 7 },
    );
    expect(eventOps(single, { quietMs: 10_000 }).map((o) => o.type)).toEqual(['seq', 'zadd']);
    expect(eventOps(batched, { quietMs: 10_000 }).map((o) => o.type)).toEqual(['seq', 'zadd']);
  });

  it('readers see a stored batch as its request events, between the events around it', () => {
    const before = createEvent('sigterm', pod, SAMPLE_DATA.sigterm, { instance: 'i1', seq: 3 });
    const after = createEvent('app.exited', pod, SAMPLE_DATA['app.exited'], { instance: 'i1', seq: 5 });
    const members = [before, batch, after].map((e) => Buffer.from(encodeEvent(e)).toString('utf8'));
    const read = decodeEvents(members);
    expect(read.map((e) => `${e.seq}:${e.kind}`)).toEqual([
      '3:sigterm',
      '4:request',
      '4:request',
      '5:app.exited',
    ]);
  });
});

describe('a pod timeline with batches', () => {
  const pod = { namespace: 'shop', workload: 'quote', pod: 'quote-1' };
  const wire = (e: Parameters<typeof encodeEvent>[0]) => Buffer.from(encodeEvent(e)).toString('utf8');

  it("lists a batch's records at their own times, not at the batch's (its flush time)", () => {
    // Records end at .040 and .050; the batch goes out at .100, when app.exited flushed it (same
    // millisecond). The adapter's endpoints.propagated (another instance) came at .045.
    const batch = createEvent('request.batch', pod, SAMPLE_DATA['request.batch'], {
      instance: 'i1',
      seq: 4,
      id: 'ffffffff-0000-4000-8000-000000000000',
      time: new Date('2026-11-21T10:00:00.100Z'),
    });
    const exited = createEvent('app.exited', pod, SAMPLE_DATA['app.exited'], {
      instance: 'i1',
      seq: 5,
      id: '00000000-0000-4000-8000-000000000000',
      time: new Date('2026-11-21T10:00:00.100Z'),
    });
    const propagated = createEvent('endpoints.propagated', pod, SAMPLE_DATA['endpoints.propagated'], {
      instance: 'adapter',
      seq: 1,
      time: new Date('2026-11-21T10:00:00.045Z'),
    });
    // The zset's order: by score, then by member (the exited event's id sorts first).
    const members = [propagated, exited, batch].map(wire);
    const show = (events: readonly { kind: string; time: string }[]) =>
      events.map((e) => `${e.time.slice(20, 23)} ${e.kind}`);
    expect(show(decodeEvents(members))).toEqual([
      '045 endpoints.propagated',
      '100 app.exited',
      '040 request',
      '050 request',
    ]);
    expect(show(decodeTimeline(members))).toEqual([
      '040 request',
      '045 endpoints.propagated',
      '050 request',
      '100 app.exited',
    ]);
  });

  // A batch (seq 4, id 'f') whose records ended in the millisecond of the exit that flushed it
  // (seq 5, id '0', so the zset lists it first).
  const flushedAt = new Date('2026-11-21T10:00:00.100Z');
  const sameMillisecond = () => {
    const records = SAMPLE_DATA['request.batch'].records.map((r) => ({ ...r, at: flushedAt.toISOString() }));
    const batch = createEvent(
      'request.batch',
      pod,
      { records },
      { instance: 'i1', seq: 4, id: 'f', time: flushedAt },
    );
    const exited = createEvent('app.exited', pod, SAMPLE_DATA['app.exited'], {
      instance: 'i1',
      seq: 5,
      id: '0',
      time: flushedAt,
    });
    return { batch, exited };
  };

  it("puts a record that ended in its flusher's millisecond before the flusher (by seq)", () => {
    const { batch, exited } = sameMillisecond();
    // Same score: the zset lists the exit first (its member sorts first).
    const kinds = decodeTimeline([exited, batch].map(wire)).map((e) => e.kind);
    expect(kinds).toEqual(['request', 'request', 'app.exited']);
  });

  it("puts a batch's records before their flusher even with another emitter's event of that millisecond between them", () => {
    // The zset orders members of one score by their JSON, i.e. by id: exit ('0'), the adapter's
    // endpoints.propagated ('5'), the batch ('f'). A comparator that calls events of two instances
    // equal is not a total order: the sort then kept the batch's records after the exit.
    const { batch, exited } = sameMillisecond();
    const at = flushedAt;
    const propagated = createEvent('endpoints.propagated', pod, SAMPLE_DATA['endpoints.propagated'], {
      instance: 'adapter',
      seq: 1,
      id: '5',
      time: at,
    });
    const kinds = decodeTimeline([exited, propagated, batch].map(wire)).map((e) => e.kind);
    // The agent's events by seq; the adapter's event keeps its place in the zset's order.
    expect(kinds).toEqual(['request', 'endpoints.propagated', 'request', 'app.exited']);
  });

  it('keeps the zset order of events of one time', () => {
    const at = new Date('2026-11-21T10:00:01.000Z');
    const events = (['prestop.finished', 'sigterm', 'app.stopped-listening'] as const).map((kind, i) =>
      createEvent(kind, pod, SAMPLE_DATA[kind], { instance: 'i1', seq: i + 1, time: at }),
    );
    const members = events.map(wire);
    expect(decodeTimeline(members).map((e) => e.id)).toEqual(events.map((e) => e.id));
  });
});
