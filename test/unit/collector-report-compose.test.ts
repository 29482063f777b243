import { describe, expect, it } from 'vitest';
import { agentFailedRequests, computeReport, gateVerdict, outcomeOf } from '../../collector/report.js';
import { trafficSkew } from '../../collector/report-skew.js';
import { emptyFacts, ms } from '../helpers/report-facts.js';
import { SAMPLE_DATA } from '../helpers/sample-events.js';

describe('report: the parts put together', () => {
  it('outcomeOf: open until finished; finished without an outcome is complete', () => {
    const ro = emptyFacts().rollout;
    expect(outcomeOf({ ...ro, finishedAt: null, outcome: 'failed' })).toBe('open');
    expect(outcomeOf({ ...ro, outcome: null })).toBe('complete');
    expect(outcomeOf({ ...ro, outcome: 'timeout' })).toBe('timeout');
  });

  it('trafficSkew: busiest ÷ quietest pod, else the probes’ own figure', () => {
    expect(
      trafficSkew(
        new Map([
          ['a', 30],
          ['b', 10],
        ]),
        1.1,
      ),
    ).toBe(3);
    expect(trafficSkew(new Map([['a', 30]]), 1.1)).toBe(1.1);
    expect(trafficSkew(new Map(), null)).toBeNull();
  });

  it('agentFailedRequests sums the traffic summaries by phase', () => {
    const failed = { serving: 1, prestop: 2, draining: 3, exited: 4 };
    const traffic = [
      { pod: 'a', time: '', data: { ...SAMPLE_DATA['traffic.summary'], failed } },
      { pod: 'b', time: '', data: { ...SAMPLE_DATA['traffic.summary'], failed } },
    ];
    expect(agentFailedRequests(emptyFacts({ traffic }))).toEqual({
      serving: 2,
      prestop: 4,
      draining: 6,
      exited: 8,
    });
  });

  it('gateVerdict passes at or above the threshold, never without evidence', () => {
    const r = computeReport(emptyFacts());
    expect(gateVerdict(r, 0.5).passed).toBe(false);
    const withScore = { ...r, scores: { ...r.scores, sessionPersistence: 0.5 } };
    expect(gateVerdict(withScore, 0.5)).toEqual({
      score: 'sessionPersistence',
      threshold: 0.5,
      value: 0.5,
      passed: true,
    });
    expect(gateVerdict(withScore, 0.51).passed).toBe(false);
  });

  // Issue #15 point 6: a dropped WebSocket is no failed request; it used to be added to the
  // no-close-frame cause, so the causes summed to more than the failed requests.
  it('computeReport counts dropped probe WebSockets apart from the causes of failed requests', () => {
    const facts = emptyFacts({
      probes: [
        {
          id: 'w',
          kind: 'probe.websocket',
          time: new Date(ms(5)).toISOString(),
          data: { ...SAMPLE_DATA['probe.websocket'], event: 'closed', code: 1006 },
        },
      ],
    });
    const r = computeReport(facts);
    expect(r.failedByCause['no-close-frame']).toBe(0);
    expect(r.probeRequests.failed).toBe(0);
    expect(r.websocketsDropped).toBe(1);
    expect(r.websocketOutcomes.probe['no-close-frame']).toBe(1);
    expect(r.invariantViolations).toEqual([]);
    expect(r.sessions).toMatchObject({ active: 1, lost: 0 });
  });
});
