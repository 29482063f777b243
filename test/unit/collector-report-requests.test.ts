import { describe, expect, it } from 'vitest';
import { podLives } from '../../collector/report-lives.js';
import {
  agentCause,
  failureOf,
  isSessionFailure,
  probeErrorOf,
  tallyProbeRequests,
} from '../../collector/report-requests.js';
import { createSessionTally } from '../../collector/report-sessions.js';
import type { AgentRequestRecord, ReportFacts } from '../../collector/report-types.js';
import type { EventData } from '../../contract/validate.js';
import { at, emptyFacts, ms, podEvent, probeEvent } from '../helpers/report-facts.js';
import { SAMPLE_DATA } from '../helpers/sample-events.js';

const request = (over: Partial<EventData<'probe.request'>>): EventData<'probe.request'> => ({
  ...SAMPLE_DATA['probe.request'],
  ...over,
});

const agentRecord = (over: Partial<AgentRequestRecord>): AgentRequestRecord => ({
  ...SAMPLE_DATA.request,
  pod: 'web-1',
  instance: 'agent-1',
  time: at(12),
  ...over,
});

// web-1: preStop at 9 s, SIGTERM at 16 s, exit at 20 s.
const timeline = [
  podEvent('agent.started', -60),
  podEvent('prestop.started', 9),
  podEvent('sigterm', 16),
  podEvent('app.exited', 20),
];

function factsWith(over: Partial<ReportFacts>): ReportFacts {
  return emptyFacts({
    terminations: [{ pod: 'web-1', instance: 'agent-1', startMs: ms(9) }],
    timelines: new Map([['web-1', timeline]]),
    ...over,
  });
}

describe('report requests: each failed probe request attributed', () => {
  it('the client error: its own, else 5xx from the status, else other; 401/403 fail the session', () => {
    expect(probeErrorOf(request({ error: 'reset' }))).toBe('reset');
    expect(probeErrorOf(request({ error: undefined, status: 503 }))).toBe('5xx');
    expect(probeErrorOf(request({ error: undefined, status: 404 }))).toBe('other');
    expect(isSessionFailure(request({ error: undefined, status: 401 }))).toBe(true);
    expect(isSessionFailure(request({ error: 'identity-mismatch', status: undefined }))).toBe(true);
    expect(isSessionFailure(request({ error: '5xx', status: 502 }))).toBe(false);
  });

  it('agentCause: refused after serving is a late arrival; reset or in flight at exit is cut, or killed', () => {
    const life = podLives(factsWith({})).lifeOf('web-1');
    expect(agentCause(agentRecord({ outcome: 'upstream-refused', arrivalPhase: 'draining' }), life)).toBe(
      'late-arrival',
    );
    expect(
      agentCause(
        agentRecord({ outcome: 'upstream-refused', arrivalPhase: 'serving', endPhase: 'serving' }),
        life,
      ),
    ).toBe('other');
    expect(agentCause(agentRecord({ outcome: 'upstream-reset', arrivalPhase: 'draining' }), life)).toBe(
      'cut-in-flight',
    );
    // Started at 19.5 s, lasting 1 s: still in flight at the exit (20 s).
    const inFlight = agentRecord({
      outcome: 'http-error',
      startedAt: at(19.5),
      durationMs: 1000,
      endPhase: 'draining',
    });
    expect(agentCause(inFlight, life)).toBe('cut-in-flight');
    const killed = podLives(
      factsWith({
        timelines: new Map([['web-1', [...timeline, podEvent('app.exited', 20, { killedAtGrace: true })]]]),
      }),
    ).lifeOf('web-1');
    expect(agentCause(inFlight, killed)).toBe('killed-at-grace');
  });

  it('agentCause, HTTP/2: a stream its connection cut without GOAWAY is no-goaway, or stuck-connection once the pod was terminating', () => {
    const life = podLives(factsWith({})).lifeOf('web-1');
    const h2 = (over: Partial<AgentRequestRecord>) =>
      agentRecord({ protocol: 'h2', outcome: 'upstream-reset', arrivalPhase: 'serving', ...over });
    // Opened while serving (5 s), cut at exit without GOAWAY.
    expect(agentCause(h2({ startedAt: at(5), goaway: false, connection: 'reused' }), life)).toBe('no-goaway');
    // Started after preStop began (9 s) on a connection opened before: the client stayed on the old pod.
    expect(agentCause(h2({ startedAt: at(12), goaway: false, connection: 'reused' }), life)).toBe(
      'stuck-connection',
    );
    // The first stream of a new connection to a terminating pod is no per-connection stickiness.
    expect(agentCause(h2({ startedAt: at(12), goaway: false, connection: 'new' }), life)).toBe('no-goaway');
    // A GOAWAY went first: the app exited with the stream open all the same.
    expect(agentCause(h2({ startedAt: at(12), goaway: true, connection: 'reused' }), life)).toBe(
      'cut-in-flight',
    );
    // No word on GOAWAY (a stream not ended by its connection's close, HTTP/1.1): as before.
    expect(agentCause(h2({ startedAt: at(12), connection: 'reused' }), life)).toBe('cut-in-flight');
  });

  it('failureOf, gRPC: UNAVAILABLE with no pod shortly after the exit of a pod cut without GOAWAY is no-goaway', () => {
    const stream = (goaway: boolean) =>
      new Map([
        ['s1.g1', agentRecord({ protocol: 'h2', outcome: 'upstream-reset', goaway, startedAt: at(1) })],
      ]);
    const call = (t: number) =>
      request({
        startedAt: at(t),
        error: 'reset',
        grpcStatus: 14,
        status: undefined,
        pod: undefined,
        connection: 'reused',
      });
    const facts = factsWith({ agentRequests: stream(false) });
    const lives = podLives(facts);
    const evidence = new Map([['web-1', { withGoaway: 0, withoutGoaway: 1 }]]);
    // 1 s after web-1's exit (20 s), the session's last pod: reconnecting after the cut.
    expect(failureOf(call(21), facts, lives, null, { lastPod: 'web-1', evidence }).cause).toBe('no-goaway');
    // Past the reconnect window, before the exit, another last pod, or a GOAWAY seen: not that cut's.
    expect(failureOf(call(26), facts, lives, null, { lastPod: 'web-1', evidence }).cause).toBe(
      'never-reached-pod',
    );
    expect(failureOf(call(19), facts, lives, null, { lastPod: 'web-1', evidence }).cause).toBe(
      'never-reached-pod',
    );
    expect(failureOf(call(21), facts, lives, null, { lastPod: 'web-2', evidence }).cause).toBe(
      'never-reached-pod',
    );
    const told = new Map([['web-1', { withGoaway: 1, withoutGoaway: 0 }]]);
    expect(failureOf(call(21), facts, lives, null, { lastPod: 'web-1', evidence: told }).cause).toBe(
      'never-reached-pod',
    );
    // A gRPC call is never a stale keep-alive (no status, no pod, reset, reused).
    expect(failureOf(call(5), facts, lives).cause).toBe('never-reached-pod');
  });

  it('failureOf: never reached, reached a live pod, and a session held by a dying pod', () => {
    const facts = factsWith({
      logins: new Map([['s-1', [{ atMs: ms(0), issuedBy: 'web-1' }]]]),
      terminationStartByPod: new Map([['web-1', ms(9)]]),
    });
    const lives = podLives(facts);
    const noPod = request({ pod: undefined, startedAt: at(12) });
    expect(failureOf(noPod, facts, lives)).toMatchObject({
      cause: 'never-reached-pod',
      phase: 'unknown',
      pod: null,
    });
    // A reset on a reused keep-alive connection with no response header, seen by no pod: the
    // server side closed the idle connection as the request went out.
    const stale = {
      pod: undefined,
      status: undefined,
      error: 'reset',
      connection: 'reused',
      startedAt: at(12),
    } as const;
    expect(failureOf(request(stale), facts, lives)).toMatchObject({ cause: 'stale-keepalive', pod: null });
    // The same on a new connection, or once a response header came back, is not that race.
    expect(failureOf(request({ ...stale, connection: 'new' }), facts, lives).cause).toBe('never-reached-pod');
    expect(failureOf(request({ ...stale, status: 200 }), facts, lives).cause).toBe('never-reached-pod');
    expect(failureOf(request({ ...stale, error: 'refused' }), facts, lives).cause).toBe('never-reached-pod');
    const reached = request({ pod: 'web-1', startedAt: at(12) });
    expect(failureOf(reached, facts, lives)).toMatchObject({
      cause: 'other',
      phase: 'prestop',
      pod: 'web-1',
    });
    const session = request({
      pod: 'web-2',
      sessionId: 's-1',
      error: 'unauthorized',
      status: 401,
      startedAt: at(12),
    });
    expect(failureOf(session, facts, lives)).toMatchObject({
      cause: 'session-in-memory',
      pod: 'web-1',
      error: 'unauthorized',
      status: 401,
    });
  });

  it('tallyProbeRequests: counts oldest first, per pod, and notes the lost sessions', () => {
    const facts = factsWith({
      probes: [
        probeEvent('probe.request', 14, request({ probeId: 'late', pod: 'web-1', startedAt: at(14) })),
        probeEvent('probe.request', 1, request({ probeId: 'ok-1', ok: true, pod: 'web-1', sessionId: 'a' })),
        probeEvent('probe.request', 2, request({ probeId: 'ok-2', ok: true, pod: 'web-2', sessionId: 'b' })),
        probeEvent('probe.request', 3, request({ probeId: 'ok-3', ok: true, pod: 'web-2', sessionId: 'b' })),
        probeEvent(
          'probe.request',
          12,
          request({
            probeId: 'auth',
            sessionId: 'c',
            pod: undefined,
            error: 'unauthorized',
            status: 401,
            startedAt: at(12),
            retry: { ok: true },
          }),
        ),
      ],
    });
    const sessions = createSessionTally();
    const tally = tallyProbeRequests(facts, podLives(facts), sessions);
    expect(tally.rollout).toMatchObject({ total: 5, ok: 3, retriedOk: 1 });
    expect(tally.failures.map((f) => f.probeId)).toEqual(['auth', 'late']);
    expect([...tally.perPod].map(([pod, a]) => [pod, a.count])).toEqual([
      ['web-1', 2],
      ['web-2', 2],
    ]);
    expect(tally.rollout.clientErrors).toMatchObject({ unauthorized: 1, '5xx': 1 });
    expect(tally.rollout.failedByPhase).toMatchObject({ prestop: 1, serving: 0, unknown: 1 });
    expect([...tally.failedByPod]).toEqual([['web-1', 1]]);
    expect([...sessions.active].sort()).toEqual(['a', 'b', 'c', 's-abc']);
    expect([...sessions.losses.keys()]).toEqual(['c']);
  });
});
