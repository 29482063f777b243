import { describe, expect, it } from 'vitest';
import { tallyProbeEvents } from '../../collector/report-probe-events.js';
import { createSessionTally } from '../../collector/report-sessions.js';
import { at, emptyFacts, ms, probeEvent } from '../helpers/report-facts.js';

describe('report probe events: sessions, WebSockets and probe summaries', () => {
  it('counts dropped WebSockets and lost messages, and notes sessions seen and lost', () => {
    const facts = emptyFacts({
      terminationStartByPod: new Map([['web-old', ms(5)]]),
      probes: [
        probeEvent('probe.session', 1, { sessionId: 's1', event: 'login', at: at(1) }),
        probeEvent('probe.session', 10, { sessionId: 's1', event: 'lost', issuedBy: 'web-old', at: at(10) }),
        probeEvent('probe.websocket', 11, { sessionId: 's2', event: 'closed', code: 1006 }),
        probeEvent('probe.websocket', 11, { sessionId: 's2', event: 'closed', code: 1001 }),
        probeEvent('probe.websocket', 12, { sessionId: 's3', event: 'message-lost' }),
        probeEvent('probe.websocket', 13, { sessionId: 's3', event: 'message-resent' }),
        probeEvent('probe.summary', 60, { messagesLost: 7, skewRatio: 1.5, sticky: false }),
        probeEvent('probe.summary', 60, { messagesLost: 1, skewRatio: 1.2, sticky: true }),
        // Requests are another tally's: neither seen nor lost here.
        probeEvent('probe.request', 3, { sessionId: 's4' }),
      ],
    });
    const sessions = createSessionTally();
    expect(tallyProbeEvents(facts, sessions)).toEqual({
      websocketsDropped: 1,
      messagesLost: 1,
      messagesResent: 1,
      messagesDuplicated: 0,
      streamEnds: { 'server-closed': 0, cut: 0 },
      summarySkew: 1.5,
      sticky: true,
      inconclusive: null,
    });
    expect([...sessions.active]).toEqual(['s1', 's2', 's3']);
    expect([...sessions.losses]).toEqual([['s1', { atMs: ms(10), cause: 'session-in-memory' }]]);
  });

  it('without message-lost events, the probes’ summaries say how many were lost; no summary, no skew', () => {
    const withSummary = emptyFacts({
      probes: [probeEvent('probe.summary', 60, { messagesLost: 4, messagesResent: 2 })],
    });
    expect(tallyProbeEvents(withSummary, createSessionTally())).toMatchObject({
      messagesLost: 4,
      messagesResent: 2,
    });
    expect(tallyProbeEvents(emptyFacts(), createSessionTally())).toEqual({
      websocketsDropped: 0,
      messagesLost: 0,
      messagesResent: 0,
      messagesDuplicated: 0,
      streamEnds: { 'server-closed': 0, cut: 0 },
      summarySkew: null,
      sticky: false,
      inconclusive: null,
    });
  });

  it('a Socket.IO connection closed for a named cause loses its session for that cause; a close without one does not', () => {
    const facts = emptyFacts({
      probes: [
        probeEvent('probe.websocket', 4, {
          sessionId: 's1',
          event: 'closed',
          transport: 'socket.io',
          reason: 'connect_error',
          cause: 'no-session-affinity',
          at: at(4),
        }),
        probeEvent('probe.websocket', 6, {
          sessionId: 's1',
          event: 'closed',
          transport: 'socket.io',
          reason: 'transport error',
          cause: 'no-session-affinity',
          at: at(6),
        }),
        probeEvent('probe.websocket', 5, {
          sessionId: 's2',
          event: 'closed',
          transport: 'socket.io',
          reason: 'transport close',
          at: at(5),
        }),
      ],
    });
    const sessions = createSessionTally();
    expect(tallyProbeEvents(facts, sessions).websocketsDropped).toBe(0);
    expect([...sessions.active]).toEqual(['s1', 's2']);
    expect([...sessions.losses]).toEqual([['s1', { atMs: ms(4), cause: 'no-session-affinity' }]]);
  });
});
