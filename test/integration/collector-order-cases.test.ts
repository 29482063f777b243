import { describe, expect, it } from 'vitest';
import { createApplier } from '../../collector/apply.js';
import { eventEntry } from '../../collector/event-ops.js';
import { createReportStore } from '../../collector/index.js';
import type { AnyEvent } from '../../contract/index.js';
import { createEventSequencer } from '../../contract/validate.js';
import { haRollout } from '../helpers/ha-rollout.js';
import { useRedisServer } from '../helpers/redis-server.js';
import { SAMPLE_DATA } from '../helpers/sample-events.js';
import { shuffled } from '../helpers/seeded-shuffle.js';

// collector-order.test.ts's question (does a report, or the rollout list, depend on the order a
// rollout's events were applied in?) for the cases around a finish applied before its start
// (lua/apply.lua: rename, late_start, startPending), asked of the apply script directly: one
// event per call on a Redis of its own, so the apply order is exactly the order given and a case
// costs milliseconds. Compared: the reports, the rollout list, the open rollouts and the closes
// the script reported (counted once each by the collector). The `it.fails` cases are order
// dependence found while reviewing that change; each says what differs and whether it predates it.

const T0 = Date.parse('2026-11-21T10:00:00.000Z');
/** Effectively no quiet timeout from event times: rollouts close for quiet only at a `SWEEP`. */
const QUIET_MS = 1000 * 86_400_000;
/** In an order: the quiet sweep runs here (as when the consumer is caught up, long after). */
const SWEEP = 'sweep';
type Step = AnyEvent | typeof SWEEP;

const SEEDS = Array.from({ length: 12 }, (_, i) => i + 1);

const at = (ms: number) => new Date(T0 + ms);
const controller = (name = 'ctl') =>
  createEventSequencer({ namespace: 'shop', workload: 'search', pod: null }, name);
const pod = (name: string) =>
  createEventSequencer({ namespace: 'shop', workload: 'search', pod: name }, `i-${name}`);
/** A pod's only event here: its preStop at `ms`. */
const preStop = (name: string, ms: number) =>
  pod(name).next('prestop.started', SAMPLE_DATA['prestop.started'], at(ms));
/** `c`'s rollout.started (trigger cli) at `startMs` and rollout.finished (complete) at `finishMs`. */
function controllerEvents(
  rolloutId: string,
  startMs: number,
  finishMs: number,
  podsReplaced: number,
  c = controller(),
) {
  return {
    start: c.next('rollout.started', { rolloutId, trigger: 'cli' }, at(startMs)),
    finish: c.next('rollout.finished', { rolloutId, outcome: 'complete', podsReplaced }, at(finishMs)),
  };
}

/** The HA test's rollout (10 pods, 1 s + n × 5 s), its controller events as `options` say. */
function rollout(
  rolloutId: string,
  options: {
    readonly outcome?: 'complete' | 'failed' | 'aborted';
    readonly fields?: boolean;
    /** The controller publishes both events twice (a restart), under new event ids. */
    readonly republished?: boolean;
  } = {},
): AnyEvent[] {
  const r = haRollout({ workload: 'search', rolloutId, t0Ms: T0, pods: 10 });
  const data = {
    rolloutId,
    trigger: 'cli' as const,
    ...(options.fields ? { replicas: 10, maxSurge: 2, maxUnavailable: 1, label: 'v2' } : {}),
  };
  const done = { rolloutId, outcome: options.outcome ?? 'complete', podsReplaced: 7 };
  const c = controller();
  const out: AnyEvent[] = [
    c.next('rollout.started', data, at(0)),
    ...r.pods.flat(),
    c.next('rollout.finished', done, at(60_000)),
  ];
  if (options.republished) {
    const again = controller('ctl-restarted');
    out.push(again.next('rollout.started', data, at(0)), again.next('rollout.finished', done, at(60_000)));
  }
  return out;
}

describe('collector: order independence around a finish applied before its start', () => {
  const redisServer = useRedisServer();

  /** Applies `steps` in order, one event per script call, on a fresh key prefix. */
  async function stateAfter(steps: readonly Step[], rolloutIds: readonly string[]) {
    const redis = await redisServer.client();
    const applier = createApplier(redis, { retentionSeconds: 3600 });
    const closed: string[] = [];
    for (const step of steps) {
      if (step === SWEEP) {
        closed.push(...(await applier.sweep(T0 + QUIET_MS + 86_400_000, QUIET_MS)).closed);
        continue;
      }
      const { notes } = await applier.apply([eventEntry(step, { quietMs: QUIET_MS })]);
      for (const n of notes) if (n.kind === 'closed') closed.push(n.rolloutId);
    }
    const store = createReportStore(redis);
    return {
      reports: await Promise.all(rolloutIds.map((id) => store.getReport(id))),
      rollouts: await store.listRollouts(),
      open: await store.openRollouts(),
      closed: closed.sort(),
    };
  }

  const describeOrder = (steps: readonly Step[]) =>
    steps
      .map((s) => (s === SWEEP ? SWEEP : `${s.pod ?? '-'}/${s.kind}@${Date.parse(s.time) - T0}`))
      .join(' ');

  /** `inOrder` gives one rollout per id (`rollouts` in all), and every other order the same state. */
  async function expectSame(
    inOrder: readonly Step[],
    others: readonly (readonly Step[])[],
    rolloutIds: readonly string[],
    rollouts = rolloutIds.length,
  ) {
    const want = await stateAfter(inOrder, rolloutIds);
    expect(want.reports.every(Boolean)).toBe(true);
    expect(want.rollouts).toHaveLength(rollouts);
    for (const order of others) {
      expect(await stateAfter(order, rolloutIds), describeOrder(order)).toEqual(want);
    }
  }

  describe('hold', () => {
    it.each([
      { name: 'outcome failed', events: () => rollout('ro-f', { outcome: 'failed' }), id: 'ro-f' },
      { name: 'outcome aborted', events: () => rollout('ro-x', { outcome: 'aborted' }), id: 'ro-x' },
      {
        name: "the start's optional fields (late_start writes them)",
        events: () => rollout('ro-o', { fields: true }),
        id: 'ro-o',
      },
      {
        name: 'controller events published twice (new event ids)',
        events: () => rollout('ro-d', { republished: true }),
        id: 'ro-d',
      },
    ])('seeded shuffles: $name', async ({ events, id }) => {
      const inOrder = events();
      await expectSame(
        inOrder,
        SEEDS.map((seed) => shuffled(inOrder, seed)),
        [id],
      );
    });

    it('a finish with no rollout open, then its start, then the preStops: one rollout, as in stream order', async () => {
      const { start, finish } = controllerEvents('ro-n', 0, 9000, 2);
      const [p1, q1] = [preStop('search-0', 1000), preStop('search-1', 5000)];
      await expectSame(
        [start, p1, q1, finish],
        [
          [finish, start, p1, q1],
          [finish, q1, start, p1],
          [q1, finish, p1, start],
        ],
        ['ro-n'],
      );
    });

    it('a renamed rollout takes a pod event older than its implicit start while its own start is pending', async () => {
      const { start, finish } = controllerEvents('ro-p', 0, 9000, 2);
      const [p1, q1] = [preStop('search-0', 1000), preStop('search-1', 5000)];
      // q1 opens the implicit rollout, the finish renames it (startPending), p1 moves its start back.
      await expectSame([start, p1, q1, finish], [[q1, finish, p1, start]], ['ro-p']);
    });

    // Not about order alone: in stream order (event time order) a pod's SIGTERM 100 ms after the
    // controller's finish (its preStop was inside the rollout; old pods still drain when the
    // controller reports complete) opened a second, implicit rollout, open until the quiet
    // timeout, until the touch asked when the pod's termination began (fails without it).
    it("a pod's SIGTERM after the finish, its preStop before it, joins the rollout", async () => {
      const { start, finish } = controllerEvents('ro-t', 0, 2000, 1);
      const p = pod('search-0');
      const pre = p.next('prestop.started', SAMPLE_DATA['prestop.started'], at(1000));
      const sig = p.next('sigterm', SAMPLE_DATA.sigterm, at(2100));
      await expectSame([start, pre, finish, sig], [[start, pre, sig, finish]], ['ro-t']);
    });
  });

  describe('known order dependence (it.fails: the test states the wanted behaviour)', () => {
    // Before bd88687 too (its ids aside): a closed rollout whose start is known takes no pod event
    // older than that start, while an open one does (its start moves back, docs/collector.md). A
    // controller whose rollout.started is timed after the first preStops (clock skew, a slow
    // controller) and a preStop applied after the finish (a redelivery) give a second, implicit
    // rollout that stays open until the quiet timeout. late_start clears startPending, so the
    // same happens after a rename once the late start has come. 68 of 200 shuffles of the HA
    // rollout with its start at +3 s differ, the same seeds before bd88687.
    it.fails('a start timed after the first preStop, that preStop applied after the finish', async () => {
      const { start, finish } = controllerEvents('ro-s', 3000, 9000, 2);
      const [p1, q1] = [preStop('search-0', 1000), preStop('search-1', 5000)];
      await expectSame(
        [start, p1, q1, finish],
        [
          [start, q1, finish, p1], // no rename: the start was first
          [q1, finish, start, p1], // renamed, then the late start cleared startPending
        ],
        ['ro-s'],
      );
    });

    // Before bd88687 too: an implicit rollout is named after the event that opened it (its time
    // and event id), the first one applied, not the earliest; an earlier one moves its start back
    // but not its name. With no controller events, a report's id depends on the apply order (190
    // of 200 shuffles of the HA rollout's pod events). Tried in review: rollout_touch renaming an
    // open implicit rollout to the event's implicit id when that event moves its start back (ties:
    // the smaller id) makes this pass and leaves the 190 at 9 (the case below).
    it.fails('an implicit rollout (no controller events) is named after its first applied event', async () => {
      const [p1, q1] = [preStop('search-0', 1000), preStop('search-1', 5000)];
      await expectSame([p1, q1, SWEEP], [[q1, p1, SWEEP]], [], 1);
    });

    // Before bd88687 too: a pod event that only marks activity (an exit) applied while no rollout
    // is open is dropped, so a rollout closed for quiet ends at the last activity applied after it
    // opened: an exit before the first preStop is applied gives an earlier finish. (9 of 200
    // shuffles of the HA rollout's pod events differ by this alone once named as tried above.)
    it.fails('an implicit rollout closed for quiet ends at the last activity applied after it opened', async () => {
      const p = pod('search-0');
      const pre = p.next('prestop.started', SAMPLE_DATA['prestop.started'], at(1000));
      const exit = p.next('app.exited', SAMPLE_DATA['app.exited'], at(3000));
      await expectSame([pre, exit, SWEEP], [[exit, pre, SWEEP]], [], 1);
    });

    // Before bd88687 too: a quiet sweep closes the preStop-opened rollout while its controller's
    // events are delayed (longer than the quiet timeout); the finish then finds no implicit rollout
    // open, so it closes a rollout of its own, and the late start opens it over the same pods: two
    // rollouts. In stream order the sweep closes the controller's rollout and its finish then
    // sets the outcome and finish over the timeout: one.
    it.fails("a quiet sweep between the preStops and the delayed controller's events", async () => {
      const { start, finish } = controllerEvents('ro-q', 0, 9000, 2);
      const [p1, q1] = [preStop('search-0', 1000), preStop('search-1', 5000)];
      await expectSame([start, p1, q1, SWEEP, finish], [[p1, q1, SWEEP, finish, start]], ['ro-q']);
    });

    // Documented as not covered (docs/collector.md): one rollout's events applied after the next
    // one's. The next rollout's finish, applied while the implicit rollout of this one's preStops
    // is open, renames that one to the next rollout's id (before bd88687: closed it, aliased).
    it.fails("the next rollout's finish applied while this one's preStops opened an implicit rollout", async () => {
      const c = controller();
      const { start: startA, finish: finishA } = controllerEvents('ro-a', 0, 9000, 1, c);
      const { start: startB, finish: finishB } = controllerEvents('ro-b', 120_000, 129_000, 1, c);
      const [pa, qb] = [preStop('search-0', 1000), preStop('search-1', 121_000)];
      await expectSame(
        [startA, pa, finishA, startB, qb, finishB],
        [[pa, finishB, startA, finishA, startB, qb]],
        ['ro-a', 'ro-b'],
      );
    });
  });
});
