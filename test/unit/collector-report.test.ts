import { describe, expect, it } from 'vitest';
import { computeReport, formatReportText, type ReportFacts } from '../../collector/index.js';

const base: ReportFacts = {
  rollout: {
    id: 'ro-1',
    namespace: 'shop',
    workload: 'quote',
    trigger: 'cli',
    startedAt: Date.parse('2026-11-21T10:00:00Z'),
    finishedAt: Date.parse('2026-11-21T10:01:00Z'),
    outcome: 'complete',
    podsReplaced: null,
  },
  terminations: [],
  terminationStartByPod: new Map(),
  timelines: new Map(),
  seqs: new Map(),
  probes: [],
  agentRequests: new Map(),
  logins: new Map(),
  traffic: [],
};

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

  it('prints an open rollout without pretending it finished', () => {
    const text = formatReportText(
      computeReport({ ...base, rollout: { ...base.rollout, finishedAt: null, outcome: null } }),
    );
    expect(text).toContain('(open)');
    expect(text).toContain('n/a (nothing observed)');
  });
});
