import { describe, expect, it } from 'vitest';
import { formatReportText } from '../../collector/format.js';
import { computeReport } from '../../collector/report.js';
import { podLives } from '../../collector/report-lives.js';
import { probeStreamsByPod } from '../../collector/report-streams.js';
import { sumTerminations, terminationOf } from '../../collector/report-terminations.js';
import { at, emptyFacts, podEvent, probeEvent } from '../helpers/report-facts.js';

// Probe SSE/gRPC streams matched to the terminating pod that served them: how each ended
// (server-closed, cut) and the pushes lost after that pod's last one.

const sse = (s: number, data: Record<string, unknown>) =>
  probeEvent('probe.websocket', s, { transport: 'sse', sessionId: 's1', at: at(s), ...data });

describe('report streams: SSE and gRPC stream ends at pod terminations', () => {
  const facts = emptyFacts({
    terminations: [
      { pod: 'web-1', instance: 'agent-1', startMs: Date.parse(at(10)) },
      { pod: 'web-2', instance: 'agent-2', startMs: Date.parse(at(30)) },
    ],
    timelines: new Map([
      ['web-1', [podEvent('sigterm', 10), podEvent('app.exited', 12, { code: 0 })]],
      ['web-2', [podEvent('sigterm', 30, {}, 'agent-2'), podEvent('app.exited', 31, {}, 'agent-2')]],
    ]),
    probes: [
      sse(11, { event: 'stream-ended', end: 'server-closed', pod: 'web-1' }),
      sse(11.5, { event: 'stream-ended', end: 'server-closed', pod: 'web-1' }),
      // Before web-2's termination: a serving pod's stream end, the run's but no termination's.
      sse(20, { event: 'stream-ended', end: 'cut', pod: 'web-2' }),
      sse(31, { event: 'stream-ended', end: 'cut', pod: 'web-2' }),
      sse(31.4, { event: 'message-gap', missed: 4, messageId: '40', pod: 'web-2' }),
      // A gap after a pod that never terminated, and a stream end naming no pod.
      sse(32, { event: 'message-gap', missed: 2, messageId: '50', pod: 'web-9' }),
      sse(33, { event: 'stream-ended', end: 'cut' }),
    ],
  });

  it('probeStreamsByPod: counts each terminated pod’s stream ends and gaps from its termination on', () => {
    const byPod = probeStreamsByPod(facts, podLives(facts));
    expect(Object.fromEntries(byPod)).toEqual({
      'web-1': { streamEnds: { 'server-closed': 2, cut: 0 }, messagesLost: 0 },
      'web-2': { streamEnds: { 'server-closed': 0, cut: 1 }, messagesLost: 4 },
    });
  });

  it('a cut stream makes its termination unclean (stream-cut); clean ends do not', () => {
    const lives = podLives(facts);
    const byPod = probeStreamsByPod(facts, lives);
    const t1 = terminationOf(lives.terminated.get('web-1')!, 0, false, byPod.get('web-1'));
    const t2 = terminationOf(lives.terminated.get('web-2')!, 0, false, byPod.get('web-2'));
    expect(t1).toMatchObject({ clean: true, uncleanReasons: [], streamEnds: { 'server-closed': 2, cut: 0 } });
    expect(t2).toMatchObject({ clean: false, uncleanReasons: ['stream-cut'], messagesLost: 4 });
    const totals = sumTerminations([t1, t2], [...lives.terminated.values()]);
    expect(totals.streamEnds).toEqual({ 'server-closed': 2, cut: 1 });
    expect(totals.messagesLost).toBe(4);
  });

  it('the report: run-wide stream ends and losses apart from those at terminations', () => {
    const r = computeReport(facts);
    expect(r.streamEnds).toEqual({ 'server-closed': 2, cut: 3 });
    expect(r.streamEndsAtTermination).toEqual({ 'server-closed': 2, cut: 1 });
    expect(r.messagesLost).toBe(6);
    expect(r.messagesLostAtTermination).toBe(4);
    expect(r.terminations.map((t) => [t.pod, t.uncleanReasons])).toEqual([
      ['web-1', []],
      ['web-2', ['stream-cut']],
    ]);
    const text = formatReportText(r);
    expect(text).toMatch(/at pod terminations\s+server-closed 2, cut 1/);
    expect(text).toMatch(/messages lost at terminations\s+4\n/);
  });
});
