import { describe, expect, it } from 'vitest';
import { computeReport, formatReportText, type ReportFacts } from '../../collector/index.js';
import { emptyFacts } from '../helpers/report-facts.js';

const base: ReportFacts = emptyFacts();

describe('computeReport', () => {
  it('reports no evidence as null scores, and a gate with no sessions does not pass', () => {
    const r = computeReport(base, { gate: 1 });
    expect(r.scores).toEqual({ sessionPersistence: null, requestSuccess: null, cleanTerminations: null });
    expect(r.gate).toEqual({ score: 'sessionPersistence', threshold: 1, value: null, passed: false });
    expect(r.durationSeconds).toBe(60);
    expect(r.podsReplaced).toBe(0);
    expect(formatReportText(r)).toContain('FAILED');
  });

  it('a failed request the probe saw on a pod whose agent was up is "other", not never-reached-pod', () => {
    const t = '2026-11-21T10:00:10.000Z';
    const r = computeReport({
      ...base,
      timelines: new Map([
        [
          'quote-x',
          [
            {
              id: 'e1',
              kind: 'agent.started',
              time: '2026-11-21T09:00:00.000Z',
              instance: 'i',
              seq: 1,
              data: {},
            },
          ],
        ],
      ]),
      probes: [
        {
          id: 'p',
          kind: 'probe.request',
          time: t,
          data: {
            probeId: 'p1',
            runId: 'r',
            sessionId: 's',
            kind: 'traffic',
            method: 'GET',
            route: '/',
            ok: false,
            status: 503,
            error: '5xx',
            pod: 'quote-x',
            connection: 'new',
            startedAt: t,
            durationMs: 1,
          },
        },
      ],
    });
    expect(r.failures[0]).toMatchObject({ cause: 'other', phase: 'serving', pod: 'quote-x' });
    expect(r.scores.requestSuccess).toBe(0);
  });

  it('a lost session names its issuer: lost while that pod terminated is session-in-memory', () => {
    const at = (s: number) => new Date(Date.parse('2026-11-21T10:00:00Z') + s * 1000).toISOString();
    const lost = (sessionId: string, issuedBy: string, s: number) => ({
      id: `l-${sessionId}`,
      kind: 'probe.session',
      time: at(s),
      data: { runId: 'r', sessionId, event: 'lost', reason: 'unauthorized', issuedBy, at: at(s) },
    });
    const r = computeReport({
      ...base,
      terminationStartByPod: new Map([['quote-old', Date.parse(at(5))]]),
      probes: [lost('s1', 'quote-old', 10), lost('s2', 'quote-new', 10), lost('s3', 'quote-old', 2)],
    });
    expect(r.sessions).toMatchObject({ active: 3, lost: 3 });
    // s1: its issuer had been terminating for 5 s; s2: issuer alive; s3: lost before the issuer's termination.
    expect(r.sessions.lostByCause).toMatchObject({ 'session-in-memory': 1, other: 2 });
    expect(r.scores.sessionPersistence).toBe(0);
  });

  it('prints an open rollout without pretending it finished', () => {
    const text = formatReportText(
      computeReport({ ...base, rollout: { ...base.rollout, finishedAt: null, outcome: null } }),
    );
    expect(text).toContain('(open)');
    expect(text).toContain('n/a (nothing observed)');
  });
});

describe('endpoint propagation from a cluster adapter', () => {
  it('counts a propagation event published under another instance than the agent', () => {
    const at = (s: number) => new Date(Date.parse('2026-11-21T10:00:00Z') + s * 1000).toISOString();
    const agentEvent = (seq: number, kind: string, s: number, data: object = {}) => ({
      id: `a${seq}`,
      kind,
      time: at(s),
      instance: 'agent-1',
      seq,
      data,
    });
    const facts = {
      ...base,
      terminations: [{ pod: 'quote-a', instance: 'agent-1', startMs: Date.parse(at(5)) }],
      terminationStartByPod: new Map([['quote-a', Date.parse(at(5))]]),
      timelines: new Map([
        [
          'quote-a',
          [
            agentEvent(1, 'agent.started', -60),
            agentEvent(2, 'prestop.started', 5),
            {
              id: 'c1',
              kind: 'endpoints.propagated',
              time: at(7.5),
              instance: 'rehearse-adapter',
              seq: 1,
              data: { deletionAt: at(5), terminatingAt: at(7.5), propagationMs: 2500, via: 'local' },
            },
            // An adapter event from before this termination belongs to an earlier life: ignored.
            {
              id: 'c0',
              kind: 'endpoints.propagated',
              time: at(-30),
              instance: 'rehearse-adapter',
              seq: 2,
              data: { deletionAt: at(-31), terminatingAt: at(-30), propagationMs: 900, via: 'local' },
            },
          ],
        ],
      ]),
    } as unknown as ReportFacts;
    const r = computeReport(facts);
    expect(r.endpointPropagation).toMatchObject({ samples: 1, p50Ms: 2500, maxMs: 2500 });
  });
});
