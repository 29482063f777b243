import { describe, expect, it } from 'vitest';
import { createReportStore } from '../../collector/index.js';
import type { TimelineEntry } from '../../collector/store.js';
import type { AnyEvent } from '../../contract/index.js';
import type { EventData } from '../../contract/validate.js';
import { buildTimelineRun } from '../../timeline/index.js';
import { expectedReport, NS, scriptedRollout } from '../helpers/collector-scenario.js';
import { useCollectorServers } from '../helpers/collector-servers.js';
import { differences } from '../helpers/differences.js';
import { type AddedRequest, batchRequests, type Script, withRequests } from '../helpers/request-batching.js';

// Batching changes no figure (contract 1.1). The scripted rollout, with request records added so
// its pods have windows worth batching, goes to one collector as is and to another as a batching
// agent sends it: each pod's consecutive request records in `request.batch` events (100 ms windows,
// at most 100 records, seqs contiguous). The reports, rollout lists, probe-id lookups and the pods'
// timelines must be the same but for what batching renames: a record's event id (`<batch id>/<i>`)
// and seq (its batch's), and the seqs of the pod's later events.

const T0 = Date.parse('2026-11-21T10:00:00.000Z');
const PODS = ['quote-a', 'quote-b', 'quote-c', 'quote-e'];

/** A request record that ended `endMs` after T0 and took 3 ms. */
function rec(requestId: string, endMs: number, over: Partial<EventData<'request'>> = {}): AddedRequest {
  return {
    atMs: T0 + endMs,
    data: {
      requestId,
      method: 'GET',
      route: '/api/quote',
      arrivalPhase: 'serving',
      endPhase: 'serving',
      outcome: 'ok',
      status: 200,
      durationMs: 3,
      connection: 'reused',
      lateArrival: false,
      startedAt: new Date(T0 + endMs - 3).toISOString(),
      ...over,
    },
  };
}

const byRequestId = (script: Script, id: string) =>
  script.events.find((e) => e.kind === 'request' && e.data.requestId === id)!.id;
const byKind = (script: Script, pod: string, kind: AnyEvent['kind']) =>
  script.events.find((e) => e.pod === pod && e.kind === kind)!.id;

/**
 * The scripted rollout with request records around the ones it has: agent records of the ok probe
 * requests, records next to the failed probe requests' (r-late on quote-a, r-cut on quote-b), and
 * 250 records 1 ms apart on quote-c (windows of 100, 100 and 50).
 */
function scenario(): { rolloutId: string; script: Script } {
  const { rolloutId, events, withheld } = scriptedRollout(T0);
  let script: Script = { events, withheld };
  const draining = { arrivalPhase: 'draining', endPhase: 'draining' } as const;
  // quote-a: its ok probe requests, 100 ms apart (one window each), and one more after r-late.
  script = withRequests(script, byKind(script, 'quote-a', 'agent.started'), 'after', [
    rec('r-a0', 503, { probeId: 'ok-a0' }),
    rec('r-a1', 603, { probeId: 'ok-a1' }),
    rec('r-a2', 703, { probeId: 'ok-a2' }),
  ]);
  script = withRequests(script, byRequestId(script, 'r-late'), 'after', [
    rec('r-a3', 6830, { ...draining, lateArrival: true }),
  ]);
  // quote-b: two requests end just before r-cut (the failed probe request p-cut).
  script = withRequests(script, byRequestId(script, 'r-cut'), 'before', [
    rec('r-b0', 44_950, draining),
    rec('r-b1', 44_980, { ...draining, outcome: 'http-error', status: 503 }),
  ]);
  // quote-c: its ok probe requests (the first with two others), then a burst, before r-other.
  const burst = Array.from({ length: 250 }, (_, i) =>
    rec(`r-c-burst-${i}`, 2500 + i, {
      ...(i % 10 === 0 ? { outcome: 'http-error', status: 500 } : {}),
      ...(i % 25 === 0 ? { healthCheck: true, route: '/healthz' } : {}),
      ...(i % 2 === 0 ? { connection: 'new' } : {}),
    }),
  );
  script = withRequests(script, byRequestId(script, 'r-other'), 'before', [
    rec('r-c0', 2003, { probeId: 'ok-c0' }),
    rec('r-c1', 2010),
    rec('r-c2', 2020, { method: 'POST', route: '/api/order' }),
    rec('r-c3', 2103, { probeId: 'ok-c1' }),
    rec('r-c4', 2203, { probeId: 'ok-c2' }),
    rec('r-c5', 2303, { probeId: 'ok-c3' }),
    ...burst,
  ]);
  return { rolloutId, script };
}

/** A timeline entry without what batching renames (its id and seq). */
const unnamed = ({ id: _id, seq: _seq, ...rest }: TimelineEntry) => rest;

describe('collector: request.batch events give the reports request events give', () => {
  const servers = useCollectorServers('request-batch-test');

  /** One collector of its own (subjects, stream, Redis prefix) applies `events`; what it stored. */
  async function apply(events: readonly AnyEvent[], rolloutId: string) {
    const run = await servers.applyAll(events);
    const store = createReportStore(run.redis);
    const facts = await store.facts(rolloutId);
    const received = await run.registry.getSingleMetric('drainwatch_events_received_total')!.get();
    const count = (kind: string) => received.values.find((v) => v.labels.kind === kind)?.value ?? 0;
    return {
      report: await store.getReport(rolloutId),
      rollouts: await store.listRollouts(),
      agentRequests: Object.fromEntries(facts?.agentRequests ?? []),
      // The rollout's timeline page (timeline/): lanes, phases, failures.
      rolloutTimeline: facts && buildTimelineRun(facts),
      timelines: new Map(await Promise.all(PODS.map(async (p) => [p, await store.timeline(NS, p)] as const))),
      received: { request: count('request'), 'request.batch': count('request.batch') },
    };
  }

  it('the same report, rollout list, probe-id records and request timelines; one message per batch', async () => {
    const { rolloutId, script } = scenario();
    const batched = batchRequests(script);

    // Not vacuous: the batched stream has what the comparison must survive.
    const batches = batched.events.flatMap((e) => (e.kind === 'request.batch' ? [e] : []));
    const sizes = batches.map((b) => b.data.records.length);
    const failedProbes = new Set(
      script.events.flatMap((e) => (e.kind === 'probe.request' && !e.data.ok ? [e.data.probeId] : [])),
    );
    const withFailed = batches.filter((b) => b.data.records.some((r) => failedProbes.has(r.probeId ?? '')));
    expect(sizes.sort((a, b) => a - b)).toEqual([2, 3, 3, 50, 100, 100]);
    expect(withFailed.flatMap((b) => b.data.records.map((r) => r.probeId ?? '-'))).toEqual([
      'p-late',
      '-',
      '-',
      '-',
      'p-cut',
    ]);
    const singles = batched.events.filter((e) => e.kind === 'request').length;
    // Windows of one stay request events: r-a0..2 (100 ms apart), r-c3..5, r-other.
    expect(singles).toBe(7);
    expect(batched.events.length).toBe(script.events.length - sizes.reduce((n, k) => n + k - 1, 0));

    const plain = await apply(script.events, rolloutId);
    const viaBatches = await apply(batched.events, rolloutId);

    // The added records change no figure of the scripted rollout.
    expect(plain.report).toMatchObject(expectedReport(rolloutId, T0));
    const diff = differences(plain.report, viaBatches.report);
    expect(diff, diff.join('\n')).toEqual([]);
    expect(viaBatches.report).toEqual(plain.report);
    expect(viaBatches.rollouts).toEqual(plain.rollouts);
    // The report joins failed probe requests to these records by probe id.
    expect(Object.keys(plain.agentRequests).sort()).toEqual(['p-cut', 'p-late', 'p-other']);
    expect(viaBatches.agentRequests).toEqual(plain.agentRequests);
    expect(plain.rolloutTimeline?.failures.length).toBeGreaterThan(0);
    expect(viaBatches.rolloutTimeline).toEqual(plain.rolloutTimeline);

    for (const pod of PODS) {
      const before = plain.timelines.get(pod)!;
      const after = viaBatches.timelines.get(pod)!;
      const requests = (tl: readonly TimelineEntry[]) => tl.filter((e) => e.kind === 'request').map(unnamed);
      expect(requests(after), pod).toEqual(requests(before));
      // In event-time order, as without batches (a batch's own time is its flush time, later).
      const times = after.map((e) => Date.parse(e.time));
      expect(times, pod).toEqual([...times].sort((a, b) => a - b));
      // The pod's other events: the same ones (only their seqs moved).
      const others = (tl: readonly TimelineEntry[]) =>
        tl
          .filter((e) => e.kind !== 'request')
          .map(({ seq: _seq, ...rest }) => rest)
          .sort((a, b) => a.id.localeCompare(b.id));
      expect(others(after), pod).toEqual(others(before));
    }
    expect(plain.timelines.get('quote-c')!.filter((e) => e.kind === 'request')).toHaveLength(257);
    // What differs: a batched record's id is `<batch id>/<index>` (and its seq the batch's).
    const renamed = PODS.flatMap((p) => viaBatches.timelines.get(p)!).filter((e) => /\/\d+$/.test(e.id));
    expect(renamed).toHaveLength(sizes.reduce((n, k) => n + k, 0));

    // drainwatch_events_received_total counts messages: one per batch, one per plain request
    // (exactly: nothing is redelivered within the 30 s ack wait).
    expect(plain.received).toEqual({ request: 265, 'request.batch': 0 });
    expect(viaBatches.received).toEqual({ request: singles, 'request.batch': batches.length });
  }, 120_000);
});
