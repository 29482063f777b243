import { describe, expect, it } from 'vitest';
import { tallyProbeEvents } from '../../collector/report-probe-events.js';
import { createSessionTally } from '../../collector/report-sessions.js';
import { parseScenario, ScenarioError } from '../../probe/index.js';
import { correlatorFor, createSequenceTracker, subscribeMessage } from '../../probe/ws-patterns.js';
import { emptyFacts, probeEvent } from '../helpers/report-facts.js';

const ws = (websocket: Record<string, unknown>) => parseScenario({ websocket }).websocket!;

describe('scenario WebSocket patterns', () => {
  it('keeps ping/ack as the default and takes each pattern with its fields', () => {
    expect(parseScenario({}).websocket).toEqual({ path: '/ws' });
    expect(ws({ pattern: 'echo' })).toEqual({ path: '/ws', pattern: 'echo' });
    expect(ws({ pattern: 'request', message: 'q {{id}}', replyId: 'data.ref' })).toMatchObject({
      replyId: 'data.ref',
    });
    expect(
      ws({
        pattern: 'subscribe',
        subscribe: { op: 'sub' },
        sequence: 'seq',
        resume: { after: '{{lastId}}' },
      }),
    ).toMatchObject({ sequence: 'seq' });
    expect(ws({ pattern: 'hold', path: '/live' })).toEqual({ path: '/live', pattern: 'hold' });
  });

  it.each([
    [{ pattern: 'poll' }, 'scenario.websocket.pattern', /expected one of ping, echo/],
    [{ pattern: 'request', message: '{{id}}' }, 'scenario.websocket.replyId', /required by pattern request/],
    [
      { pattern: 'request', message: 'no id', replyId: 'id' },
      'scenario.websocket.message',
      /must contain \{\{id\}\}/,
    ],
    [
      { pattern: 'subscribe', sequence: 'seq' },
      'scenario.websocket.subscribe',
      /required by pattern subscribe/,
    ],
    [
      { pattern: 'subscribe', subscribe: 's', sequence: 'seq', resume: 'r' },
      'scenario.websocket.resume',
      /must contain \{\{lastId\}\}/,
    ],
    [{ pattern: 'request', message: '{{id}}', replyId: 'a..b' }, 'scenario.websocket.replyId', /dotted path/],
    [{ message: '{{id}}' }, 'scenario.websocket.message', /not used by pattern ping/],
    [{ pattern: 'hold', sequence: 'seq' }, 'scenario.websocket.sequence', /not used by pattern hold/],
  ])('refuses %j naming the field', (websocket, field, message) => {
    let err: unknown;
    try {
      parseScenario({ websocket });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ScenarioError);
    expect((err as ScenarioError).field).toBe(field);
    expect((err as ScenarioError).message).toMatch(message);
  });
});

describe('scenario SSE', () => {
  it('an sse section alone means no WebSocket; both at once are refused', () => {
    expect(parseScenario({ sse: {} })).toMatchObject({
      websocket: null,
      sse: { path: '/events', events: ['message'] },
    });
    expect(parseScenario({ sse: { path: '/prices', events: ['quote'] }, websocket: null }).sse).toEqual({
      path: '/prices',
      events: ['quote'],
    });
    expect(() => parseScenario({ sse: {}, websocket: { path: '/ws' } })).toThrow(
      /scenario.sse: a live session keeps one connection/,
    );
    expect(() => parseScenario({ sse: { events: [] } })).toThrow(ScenarioError);
  });

  it('the collector counts stream ends by how they ended', () => {
    const facts = emptyFacts({
      probes: [
        probeEvent('probe.websocket', 13, {
          sessionId: 's4',
          event: 'stream-ended',
          end: 'cut',
          transport: 'sse',
        }),
        probeEvent('probe.websocket', 14, {
          sessionId: 's4',
          event: 'stream-ended',
          end: 'server-closed',
          transport: 'sse',
        }),
        probeEvent('probe.websocket', 15, {
          sessionId: 's5',
          event: 'stream-ended',
          end: 'cut',
          transport: 'sse',
        }),
      ],
    });
    expect(tallyProbeEvents(facts, createSessionTally())).toMatchObject({
      streamEnds: { 'server-closed': 1, cut: 2 },
      websocketsDropped: 0,
    });
  });
});

describe('WebSocket pattern correlators', () => {
  it('ping: {"type":"ping"} answered by {"type":"ack"} with the same id', () => {
    const c = correlatorFor(ws({}), 'ann', 's1.m')!;
    expect(c.encode('s1.m1')).toBe('{"type":"ping","id":"s1.m1"}');
    expect(c.match('{"type":"ack","id":"s1.m1"}')).toBe('s1.m1');
    expect(c.match('{"type":"price","id":"s1.m1"}')).toBeUndefined();
  });

  it('echo: only the message itself, unaltered, answers it', () => {
    const c = correlatorFor(ws({ pattern: 'echo', message: 'hi {{user}} {{id}}' }), 'ann', 's1.m')!;
    expect(c.encode('s1.m7')).toBe('hi ann s1.m7');
    expect(c.match('hi ann s1.m7')).toBe('s1.m7');
    expect(c.match('HI ann s1.m7')).toBeUndefined();
    expect(c.match('hi ann s2.m7')).toBeUndefined();
  });

  it('request: the reply names the id at its dotted path (numbers too)', () => {
    const c = correlatorFor(
      ws({ pattern: 'request', message: { ref: '{{id}}', who: '{{user}}' }, replyId: 'data.ref' }),
      'bo',
      's1.m',
    )!;
    expect(c.encode('s1.m2')).toBe('{"ref":"s1.m2","who":"bo"}');
    expect(c.match('{"data":{"ref":"s1.m2"}}')).toBe('s1.m2');
    expect(c.match('{"data":{"ref":12}}')).toBe('12');
    expect(c.match('not json')).toBeUndefined();
  });

  it('subscribe and hold send no correlated messages; resume replaces subscribe once an id was seen', () => {
    const sub = ws({
      pattern: 'subscribe',
      subscribe: { op: 'sub', u: '{{user}}' },
      sequence: 'seq',
      resume: 'after {{lastId}}',
    });
    expect(correlatorFor(sub, 'ann', 'p')).toBeUndefined();
    expect(correlatorFor(ws({ pattern: 'hold' }), 'ann', 'p')).toBeUndefined();
    expect(subscribeMessage(sub, 'ann', undefined)).toBe('{"op":"sub","u":"ann"}');
    expect(subscribeMessage(sub, 'ann', '41')).toBe('after 41');
  });
});

describe('subscription sequence tracking', () => {
  it('counts the numbers a gap skipped, and duplicates at or below the highest seen', () => {
    const t = createSequenceTracker('data.seq');
    const push = (seq: unknown) => t.push(JSON.stringify({ data: { seq } }));
    expect(push(5)).toEqual({ kind: 'first', seq: 5 });
    expect(push(6)).toEqual({ kind: 'next', seq: 6 });
    expect(push('9')).toEqual({ kind: 'gap', seq: 9, missed: 2 });
    expect(push(9)).toEqual({ kind: 'duplicate', seq: 9 });
    expect(push(3)).toEqual({ kind: 'duplicate', seq: 3 });
    expect(push('x')).toBeUndefined();
    expect(push(1.5)).toBeUndefined();
    expect(t.push('{"type":"subscribed"}')).toBeUndefined();
    expect(t.lastId).toBe('9');
  });
});

describe('collector: gaps and duplicates of subscriptions', () => {
  it('adds each gap’s missed count to messages lost and counts duplicates, else the summaries', () => {
    const facts = emptyFacts({
      probes: [
        probeEvent('probe.websocket', 12, { sessionId: 's3', event: 'message-lost' }),
        probeEvent('probe.websocket', 13, { sessionId: 's4', event: 'message-gap', missed: 4 }),
        probeEvent('probe.websocket', 14, { sessionId: 's4', event: 'message-duplicate' }),
        probeEvent('probe.summary', 60, { messagesLost: 9, messagesDuplicated: 7 }),
      ],
    });
    expect(tallyProbeEvents(facts, createSessionTally())).toMatchObject({
      messagesLost: 5,
      messagesDuplicated: 1,
    });
    const summaries = emptyFacts({
      probes: [probeEvent('probe.summary', 60, { messagesLost: 9, messagesDuplicated: 7 })],
    });
    expect(tallyProbeEvents(summaries, createSessionTally())).toMatchObject({
      messagesLost: 9,
      messagesDuplicated: 7,
    });
  });
});
