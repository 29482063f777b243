import { describe, expect, it } from 'vitest';
import { EXIT, gateExitCode } from '../../cli/errors.js';
import { computeReport, gateVerdict } from '../../collector/report.js';
import { reportInvariantViolations } from '../../collector/report-invariants.js';
import { podLife } from '../../collector/report-lives.js';
import { servingRates, trafficSkew } from '../../collector/report-skew.js';
import { terminationOf } from '../../collector/report-terminations.js';
import type { ReportFacts } from '../../collector/report-types.js';
import { terminationWebsocketOutcomes, websocketOutcome } from '../../collector/report-websockets.js';
import type { EventData } from '../../contract/validate.js';
import { at, emptyFacts, ms, podEvent, probeEvent } from '../helpers/report-facts.js';
import { SAMPLE_DATA } from '../helpers/sample-events.js';

// Issue #15 "Report truth": each point with scripted facts (docs/collector.md, "Counting rules").

type Req = EventData<'probe.request'>;
const req = (s: number, over: Partial<Req>) =>
  probeEvent('probe.request', s, {
    probeId: `p-${s}-${over.sessionId ?? 'x'}-${over.pod ?? ''}`,
    ok: true,
    kind: 'traffic',
    startedAt: at(s),
    ...over,
  });
const login = (issuedBy: string, s = 0) => ({ atMs: ms(s), issuedBy });

describe('#15.1 health checks are counted apart', () => {
  it('traffic summaries’ health checks are shown apart and never in agent-side failures', () => {
    const summary = (failedServing: number, healthChecks: number, healthChecksFailed: number) => ({
      pod: 'web-new',
      time: at(5),
      data: {
        ...SAMPLE_DATA['traffic.summary'],
        failed: { serving: failedServing, prestop: 0, draining: 0, exited: 0 },
        healthChecks,
        healthChecksFailed,
      },
    });
    const r = computeReport(emptyFacts({ traffic: [summary(0, 12, 10), summary(1, 3, 0)] }));
    expect(r.healthChecks).toEqual({ requests: 15, failed: 10 });
    expect(r.agentFailedRequests.serving).toBe(1);
    expect(r.probeRequests.failed).toBe(0);
  });
});

describe('#15.2 a baseline window before the first pod terminates', () => {
  // Round robin, sessions in memory: web-b refuses the session web-a issued, while web-a serves.
  function roundRobinFacts(): ReportFacts {
    return emptyFacts({
      terminations: [{ pod: 'web-a', instance: 'agent-a', startMs: ms(20) }],
      terminationStartByPod: new Map([['web-a', ms(20)]]),
      logins: new Map([
        ['s1', [login('web-a')]],
        ['s2', [login('web-a')]],
      ]),
      probes: [
        req(1, { sessionId: 's1', pod: 'web-a' }),
        req(2, { sessionId: 's2', pod: 'web-a' }),
        req(3, { sessionId: 's3', pod: 'web-b' }),
        req(5, { sessionId: 's1', pod: 'web-b', ok: false, status: 401, error: 'unauthorized' }),
        req(25, { sessionId: 's2', pod: 'web-b', ok: false, status: 401, error: 'unauthorized' }),
        req(26, { sessionId: 's3', pod: 'web-b' }),
      ],
    });
  }

  it('failures and sessions lost before it are baseline defects with cause session-not-shared', () => {
    const r = computeReport(roundRobinFacts());
    expect(r.baseline).toMatchObject({
      rolloutBeganAt: at(20),
      requests: 4,
      failed: 1,
      sessionsLost: 1,
    });
    expect(r.baseline.failedByCause['session-not-shared']).toBe(1);
    expect(r.baseline.sessionsLostByCause['session-not-shared']).toBe(1);
    expect(r.failures[0]).toMatchObject({
      sessionId: 's1',
      beforeRollout: true,
      cause: 'session-not-shared',
    });
    // s2 was lost after web-a began terminating: its memory went with it.
    expect(r.sessions).toMatchObject({ active: 2, lost: 1 });
    expect(r.sessions.lostByCause['session-in-memory']).toBe(1);
    expect(r.sessions.lostByCause.other).toBe(0);
    // Persistence covers the sessions alive when the rollout began (s2, s3), not s1.
    expect(r.scores.sessionPersistence).toBe(0.5);
    expect(r.probeRequests).toMatchObject({ total: 2, failed: 1 });
    expect(r.invariantViolations).toEqual([]);
  });

  it('the gate fails, saying the app loses sessions even without a rollout', () => {
    const r = computeReport(roundRobinFacts());
    const g = gateVerdict({ ...r, scores: { ...r.scores, sessionPersistence: 1 } }, 0.5);
    expect(g.passed).toBe(false);
    expect(g.reasons?.[0]).toMatch(
      /loses sessions even without a rollout: 1 session\(s\) lost .*session-not-shared 1/,
    );
  });

  it('a request still in flight when the first termination began counts in the rollout, not the baseline', () => {
    // Sent 0.3 s before web-a's SIGTERM, it reached web-a while it drained: the rollout's late arrival.
    const facts = emptyFacts({
      terminations: [{ pod: 'web-a', instance: 'agent-a', startMs: ms(20) }],
      terminationStartByPod: new Map([['web-a', ms(20)]]),
      probes: [
        req(10, { sessionId: 's1', pod: 'web-a', durationMs: 5 }),
        req(19.7, { sessionId: 's2', pod: 'web-a', ok: false, status: 502, error: '5xx', durationMs: 400 }),
      ],
    });
    const r = computeReport(facts);
    expect(r.baseline).toMatchObject({ requests: 1, failed: 0 });
    expect(r.probeRequests).toMatchObject({ total: 1, failed: 1 });
    expect(r.failures[0]).toMatchObject({ sessionId: 's2', beforeRollout: false });
  });

  it('without any termination there is no baseline split (no agent, nothing to compare with)', () => {
    const r = computeReport(
      emptyFacts({ probes: [req(5, { sessionId: 's', pod: 'p', ok: false, status: 500 })] }),
    );
    expect(r.baseline).toMatchObject({ rolloutBeganAt: null, requests: 0, failed: 0 });
    expect(r.probeRequests.failed).toBe(1);
  });
});

describe('#15.5 and #15.9 how WebSockets ended at termination', () => {
  const killed = podLife('web-k', 'agent-1', ms(0), [
    podEvent('prestop.started', 0),
    podEvent('sigterm', 5),
    podEvent('websocket.closed', 8, { closedPhase: 'draining', closeFrame: false }),
    podEvent('websocket.closed', 35, { closedPhase: 'draining', closeFrame: false }),
    podEvent('websocket.closed', 35.5, { closedPhase: 'exited', closeFrame: false }),
    podEvent('app.exited', 35.2, { killedAtGrace: true, code: null, signal: 'SIGKILL' }),
  ]);

  it('a frameless close at the SIGKILL is killed-at-grace; one long before it, no-close-frame', () => {
    expect(terminationWebsocketOutcomes(killed)).toMatchObject({
      'killed-at-grace': 2,
      'no-close-frame': 1,
      clean: 0,
    });
  });

  it('close codes: 1001 and 1012 clean, 1000 normal-close-at-shutdown, others other-code', () => {
    const life = podLife('web-c', 'agent-1', ms(0), [podEvent('sigterm', 1)]);
    expect(websocketOutcome('1001', life, ms(2))).toBe('clean');
    expect(websocketOutcome('1012', life, ms(2))).toBe('clean');
    expect(websocketOutcome('1000', life, ms(2))).toBe('normal-close-at-shutdown');
    expect(websocketOutcome('none', life, ms(2))).toBe('no-close-frame');
    expect(websocketOutcome('1006', life, ms(2))).toBe('no-close-frame');
    expect(websocketOutcome('1011', life, ms(2))).toBe('other-code');
    expect(websocketOutcome('1005', life, ms(2))).toBe('other-code');
  });

  it('a close frame without a code (Engine.IO’s) is 1005, other-code, from events as from the summary', () => {
    const frameNoCode = podEvent('websocket.closed', 2, {
      closedPhase: 'draining',
      closeFrame: true,
      closedBy: 'client',
    });
    // The agent leaves `code` out of the event when the close frame carried none.
    delete (frameNoCode.data as { code?: number }).code;
    const closes = [
      podEvent('sigterm', 1),
      frameNoCode,
      podEvent('websocket.closed', 2, { closedPhase: 'draining', closeFrame: false }),
      podEvent('app.exited', 3, { code: 0 }),
    ];
    const fromEvents = podLife('web-e', 'agent-1', ms(0), closes);
    expect(fromEvents.wsCloses).toEqual({ '1005': 1, none: 1 });
    expect(terminationWebsocketOutcomes(fromEvents)).toMatchObject({ 'other-code': 1, 'no-close-frame': 1 });
    // The drain summary counts more closes than the events tell: its keys, the agent's, decide.
    const summary = podEvent('drain.summary', 4, { websocketCloses: { '1005': 2, none: 1 } });
    const fromSummary = podLife('web-e', 'agent-1', ms(0), [...closes, summary]);
    expect(terminationWebsocketOutcomes(fromSummary)).toMatchObject({ 'other-code': 2, 'no-close-frame': 1 });
  });

  it('a termination that closed its WebSockets with 1000 is not clean', () => {
    const life = podLife('web-n', 'agent-1', ms(0), [
      podEvent('sigterm', 1),
      podEvent('websocket.closed', 2, { closedPhase: 'draining', closeFrame: true, code: 1000 }),
      podEvent('app.exited', 3, { code: 0 }),
    ]);
    const t = terminationOf(life, 0, false);
    expect(t.websocketOutcomes['normal-close-at-shutdown']).toBe(1);
    expect(t.uncleanReasons).toEqual(['websocket-close']);
  });

  it('probe WebSockets cut by the kill are killed-at-grace in the report, not failed requests', () => {
    const r = computeReport(
      emptyFacts({
        terminations: [{ pod: 'web-k', instance: 'agent-1', startMs: ms(0) }],
        terminationStartByPod: new Map([['web-k', ms(0)]]),
        timelines: new Map([
          ['web-k', [podEvent('sigterm', 5), podEvent('app.exited', 35, { killedAtGrace: true })]],
        ]),
        probes: [
          probeEvent('probe.websocket', 35, { event: 'closed', code: 1006, pod: 'web-k', at: at(35) }),
          probeEvent('probe.websocket', 36, { event: 'closed', code: 1000, pod: 'web-k', at: at(6) }),
        ],
      }),
    );
    expect(r.websocketOutcomes.probe).toMatchObject({ 'killed-at-grace': 1, 'normal-close-at-shutdown': 1 });
    expect(r.failedByCause['no-close-frame']).toBe(0);
    expect(r.invariantViolations).toEqual([]);
  });
});

describe('#15.6 figures reconcile', () => {
  it('in-flight requests lost are the failures cut in flight, from the same facts', () => {
    const facts = emptyFacts({
      terminations: [{ pod: 'web-1', instance: 'agent-1', startMs: ms(1) }],
      terminationStartByPod: new Map([['web-1', ms(1)]]),
      timelines: new Map([['web-1', [podEvent('sigterm', 1), podEvent('app.exited', 3, { code: 0 })]]]),
      agentRequests: new Map(
        [2, 2.5].map((s) => [
          `cut-${s}`,
          {
            ...SAMPLE_DATA.request,
            probeId: `cut-${s}`,
            arrivalPhase: 'draining' as const,
            endPhase: 'exited' as const,
            outcome: 'upstream-reset' as const,
            startedAt: at(s),
            pod: 'web-1',
            instance: 'agent-1',
            time: at(3),
          },
        ]),
      ),
      probes: [2, 2.5].map((s) =>
        req(s, { probeId: `cut-${s}`, sessionId: 's', pod: 'web-1', ok: false, error: 'reset' }),
      ),
    });
    const r = computeReport(facts);
    expect(r.failedByCause['cut-in-flight']).toBe(2);
    expect(r.inFlightLost).toBe(2);
    expect(r.invariantViolations).toEqual([]);
  });

  it('reportInvariantViolations names figures that do not add up', () => {
    const r = computeReport(
      emptyFacts({ probes: [req(5, { sessionId: 's', pod: 'p', ok: false, status: 500 })] }),
    );
    expect(reportInvariantViolations(r)).toEqual([]);
    const broken = {
      ...r,
      failedByCause: { ...r.failedByCause, 'no-close-frame': r.failedByCause['no-close-frame'] + 3 },
      inFlightLost: 12,
    };
    const v = reportInvariantViolations(broken);
    expect(v).toContain('causes of failed requests sum to 4, not 1');
    expect(v.some((line) => line.startsWith('in-flight requests lost (12)'))).toBe(true);
  });
});

describe('#15.7 skew compares request rates over the time each pod served', () => {
  it('a pod ready for a short while does not look starved', () => {
    // web-a served 55 s at 10 req/s; web-new served its last 2 s at 10 req/s.
    const perPod = new Map([
      ['web-a', { count: 550, firstMs: ms(0), lastMs: ms(55) }],
      ['web-new', { count: 20, firstMs: ms(58), lastMs: ms(60) }],
    ]);
    const rates = servingRates(perPod, { terminations: [{ pod: 'web-a', instance: 'i', startMs: ms(55) }] });
    expect(550 / 20).toBe(27.5);
    expect(trafficSkew(rates, null)).toBeCloseTo(1, 5);
  });

  it('a pod that served less than MIN_SERVING_MS has no rate yet', () => {
    const rates = servingRates(new Map([['web-x', { count: 1, firstMs: ms(59), lastMs: ms(59.5) }]]), {
      terminations: [],
    });
    expect(rates.size).toBe(0);
  });
});

describe('#15.10 an overloaded probe makes the run inconclusive', () => {
  it('never passes a gate, and the CLI exits 4 for it', () => {
    const facts = emptyFacts({
      probes: [
        req(1, { sessionId: 's', pod: 'p' }),
        probeEvent('probe.summary', 59, { unreliable: true, maxLoopLagMs: 812 }),
      ],
    });
    const r = computeReport(facts, { gate: 0.5 });
    expect(r.scores.sessionPersistence).toBe(1);
    expect(r.inconclusive).toMatch(/812 ms/);
    expect(r.gate).toMatchObject({ passed: false, inconclusive: r.inconclusive });
    expect(gateExitCode(r.gate)).toBe(EXIT.inconclusive);
    expect(EXIT.inconclusive).toBe(4);
    expect(
      gateExitCode(computeReport(emptyFacts({ probes: [req(1, { sessionId: 's' })] }), { gate: 0.5 }).gate),
    ).toBe(EXIT.ok);
  });
});
