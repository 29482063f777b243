import { describe, expect, it } from 'vitest';
import { createReportStore } from '../../collector/index.js';
import type { AnyEvent } from '../../contract/index.js';
import { scriptedRollout } from '../helpers/collector-scenario.js';
import { useCollectorServers } from '../helpers/collector-servers.js';
import { haRollout } from '../helpers/ha-rollout.js';
import { shuffled } from '../helpers/seeded-shuffle.js';

// A report depends on which events were applied, never on the order they were applied in (a
// rollout's finish before its start, pods' events before the start or after the finish included):
// collector replicas sharing one durable consumer apply neighbouring batches at the same time, and
// JetStream redelivers a batch whose ack was late after the ones behind it (the HA test,
// scale-cluster.test.ts, compares a report after a node loss with a fault-free run's). Each case
// applies one rollout's events in stream order and in seeded random orders, one collector each
// (so the apply order is the publish order), and compares the whole reports and rollout lists.

const T0 = Date.parse('2026-11-21T10:00:00.000Z');

/** One rollout of the HA test's workload from `t0Ms`, in stream order: 10 pods, `search-<id>-<n>`. */
function haEvents(rolloutId: string, t0Ms: number): AnyEvent[] {
  const r = haRollout({ workload: 'search', rolloutId, t0Ms, pods: 10, podPrefix: `search-${rolloutId}` });
  return [r.started, ...r.pods.flat(), r.finished];
}

const SEEDS = Array.from({ length: 12 }, (_, i) => i + 1);

interface Case {
  readonly name: string;
  /**
   * Events in stream order, in groups shuffled each on its own and published one group after the
   * other: a redelivery comes back within the ack wait (30 s by default), not a rollout later.
   */
  readonly script: () => { groups: readonly (readonly AnyEvent[])[]; rolloutIds: readonly string[] };
}

const CASES: readonly Case[] = [
  {
    name: "the HA test's workload",
    script: () => ({ groups: [haEvents('ro-a', T0)], rolloutIds: ['ro-a'] }),
  },
  {
    name: 'two rollouts of one workload, a minute apart',
    script: () => ({
      groups: [haEvents('ro-a', T0), haEvents('ro-b', T0 + 120_000)],
      rolloutIds: ['ro-a', 'ro-b'],
    }),
  },
  {
    name: 'the scripted rollout with probes, WebSockets and streams',
    script: () => {
      const { events, rolloutId } = scriptedRollout(T0);
      return { groups: [events], rolloutIds: [rolloutId] };
    },
  },
];

describe('collector: the report does not depend on the order events are applied in', () => {
  const servers = useCollectorServers('order-test');

  async function reportsAfter(events: readonly AnyEvent[], rolloutIds: readonly string[]) {
    const run = await servers.applyAll(events);
    const store = createReportStore(run.redis);
    const reports = await Promise.all(rolloutIds.map((id) => store.getReport(id)));
    // The controller's id, whichever of its rollout.started and rollout.finished came first.
    return { reports, rollouts: await store.listRollouts() };
  }

  it.each(CASES)(
    '$name',
    async ({ script }) => {
      const { groups, rolloutIds } = script();
      const inOrder = await reportsAfter(groups.flat(), rolloutIds);
      expect(inOrder.reports.every(Boolean)).toBe(true);
      expect(inOrder.rollouts).toHaveLength(rolloutIds.length);
      for (const seed of SEEDS) {
        const order = groups.flatMap((g, i) => shuffled(g, seed * 31 + i));
        const got = await reportsAfter(order, rolloutIds);
        expect(got, `seed ${seed}: ${order.map((e) => `${e.pod ?? '-'}/${e.kind}`).join(' ')}`).toEqual(
          inOrder,
        );
      }
    },
    120_000,
  );
});
