import { describe, expect, it } from 'vitest';
import { podLife } from '../../collector/report-lives.js';
import {
  cleanTerminationsScore,
  evidenceIncompleteOf,
  hasGap,
  hasVerdict,
  sumTerminations,
  terminationOf,
  uncleanReasons,
} from '../../collector/report-terminations.js';
import { at, ms, podEvent } from '../helpers/report-facts.js';

describe('report terminations: one record per pod, and their totals', () => {
  const clean = podLife('web-1', 'agent-1', ms(9), [
    podEvent('prestop.started', 9),
    podEvent('prestop.finished', 14, { durationMs: 5000, reason: 'quiet' }),
    podEvent('sigterm', 16),
    podEvent('app.exited', 20, { code: 0 }),
    podEvent('endpoints.propagated', 11, { propagationMs: 2000 }, 'adapter'),
  ]);
  const killed = podLife('web-2', 'agent-2', ms(30), [
    podEvent('sigterm', 30, {}, 'agent-2'),
    podEvent(
      'drain.summary',
      40,
      {
        prestopMs: 0,
        drainMs: 10_000,
        inFlightAtSigterm: 4,
        inFlightCut: 2,
        lateArrivals: 1,
        websocketCloses: { '1001': 1, '1006': 2 },
        exitCode: 137,
        killedAtGrace: true,
        eventsDropped: 3,
      },
      'agent-2',
    ),
  ]);

  it('hasGap: fewer events seen than the highest seq of some instance', () => {
    expect(hasGap(undefined)).toBe(false);
    expect(hasGap({ 'a|n': '3', 'a|max': '3', 'b|n': '1', 'b|max': '1' })).toBe(false);
    expect(hasGap({ 'a|n': '3', 'a|max': '3', 'b|n': '1', 'b|max': '2' })).toBe(true);
  });

  it('a clean termination: times from the timeline, drain from SIGTERM to exit', () => {
    expect(terminationOf(clean, 0, false)).toEqual({
      pod: 'web-1',
      instance: 'agent-1',
      clean: true,
      uncleanReasons: [],
      startedAt: at(9),
      prestopMs: 5000,
      prestopReason: 'quiet',
      sigtermAt: at(16),
      stoppedListeningAt: null,
      exitedAt: at(20),
      drainMs: 4000,
      exitCode: 0,
      killedAtGrace: false,
      inFlightAtSigterm: 0,
      inFlightCut: 0,
      lateArrivals: 0,
      websocketCloses: {},
      websocketOutcomes: {
        clean: 0,
        'normal-close-at-shutdown': 0,
        'no-close-frame': 0,
        'killed-at-grace': 0,
        'other-code': 0,
      },
      streamEnds: { 'server-closed': 0, cut: 0 },
      messagesLost: 0,
      failedProbeRequests: 0,
      endpointPropagationMs: 2000,
      evidenceIncomplete: false,
    });
  });

  it('an unclean one says why, in a fixed order; the drain summary’s figures win', () => {
    const t = terminationOf(killed, 2, true);
    expect(t.uncleanReasons).toEqual([
      'failed-requests',
      'in-flight-cut',
      'websocket-close',
      'killed-at-grace',
    ]);
    expect(t).toMatchObject({
      clean: false,
      drainMs: 10_000,
      exitCode: 137,
      prestopMs: 0,
      evidenceIncomplete: true,
    });
    const silent = podLife('web-3', 'agent-3', ms(30), [podEvent('sigterm', 30, {}, 'agent-3')]);
    // Closing events missing: no verdict, not unclean (issue #16); lost evidence once the rollout closed.
    expect(uncleanReasons(silent, 0, {}, false)).toEqual([]);
    expect(terminationOf(silent, 0, false)).toMatchObject({ clean: false, uncleanReasons: [] });
    expect(hasVerdict(terminationOf(silent, 0, false))).toBe(false);
    expect(evidenceIncompleteOf(silent, undefined, false)).toBe(false);
    expect(evidenceIncompleteOf(silent, undefined, true)).toBe(true);
    expect(cleanTerminationsScore([terminationOf(clean, 0, false), terminationOf(silent, 0, true)])).toBe(1);
    expect(cleanTerminationsScore([terminationOf(silent, 0, true)])).toBeNull();
    // A proven reason still counts against the score, lost closing events or not.
    expect(hasVerdict(terminationOf(silent, 1, true))).toBe(true);
  });

  it('sums closes, reasons, durations and counts over the terminations', () => {
    const records = [terminationOf(clean, 0, false), terminationOf(killed, 2, false)];
    expect(sumTerminations(records, [clean, killed])).toEqual({
      websocketCloses: { '1001': 1, '1006': 2 },
      // The drain summary has no times: every frameless close of an app killed at grace is the kill's.
      websocketOutcomes: {
        clean: 1,
        'normal-close-at-shutdown': 0,
        'no-close-frame': 0,
        'killed-at-grace': 2,
        'other-code': 0,
      },
      streamEnds: { 'server-closed': 0, cut: 0 },
      messagesLost: 0,
      prestopByReason: { quiet: 1 },
      prestopMs: [5000, 0],
      drainMs: [4000, 10_000],
      propagationMs: [2000],
      inFlightAtSigterm: 4,
      inFlightCut: 2,
      lateArrivals: 1,
      agentEventsDropped: 3,
    });
  });
});
