import { describe, expect, it } from 'vitest';
import { createApplier } from '../../collector/apply.js';
import { eventEntry } from '../../collector/event-ops.js';
import { createReportStore } from '../../collector/index.js';
import { KEYS, rolloutField, workloadKey } from '../../collector/keys.js';
import { createEventSequencer } from '../../contract/validate.js';
import { useRedisServer } from '../helpers/redis-server.js';

// State written by the apply script before 2026-12-01 stays readable for the retention: a finish
// applied before its own start closed the rollout its preStops had opened under their implicit
// id (`finishedAs`), with `<controller id>|aliasOf` the way back. Today's script renames such a
// rollout to the controller's id; these cases write the old layout by hand and check that a late
// start migrates it, and that a rollout whose start was applied before the upgrade is still found
// by the controller's id.

const T0 = Date.parse('2026-11-21T10:00:00.000Z');
const WK = workloadKey('shop', 'search');
const IMPLICIT = 'search-20261121T100001Z-abcdef';

describe('collector: rollouts stored by the script before 2026-12-01 (aliasOf)', () => {
  const redisServer = useRedisServer();

  /** A Redis holding one rollout closed by `ro-l`'s finish under the implicit id, as the old script left it. */
  async function legacyState(started: boolean) {
    const redis = await redisServer.client();
    const fields: Record<string, string> = {
      id: IMPLICIT,
      namespace: 'shop',
      workload: 'search',
      trigger: started ? 'cli' : 'implicit',
      implicit: started ? '0' : '1',
      startedAt: String(T0 + 1000),
      lastActivity: String(T0 + 5000),
      finishedAt: String(T0 + 9000),
      outcome: 'complete',
      podsReplaced: '1',
      finishedAs: 'ro-l',
    };
    const hash = Object.fromEntries(Object.entries(fields).map(([k, v]) => [rolloutField(IMPLICIT, k), v]));
    await redis.hset(KEYS.rollouts(WK), { ...hash, [rolloutField('ro-l', 'aliasOf')]: IMPLICIT });
    await redis.zadd(KEYS.workloadRollouts(WK), T0 + 1000, IMPLICIT);
    await redis.sadd(KEYS.workloads, WK);
    await redis.sadd(KEYS.anyWorkloads, WK);
    return { redis, store: createReportStore(redis) };
  }

  it('a late rollout.started after the upgrade moves the rollout to the controller id', async () => {
    const { redis, store } = await legacyState(false);
    const c = createEventSequencer({ namespace: 'shop', workload: 'search', pod: null }, 'ctl');
    const start = c.next('rollout.started', { rolloutId: 'ro-l', trigger: 'cli' }, new Date(T0));
    await createApplier(redis, { retentionSeconds: 3600 }).apply([eventEntry(start, { quietMs: 10_000 })]);

    const list = await store.listRollouts();
    expect(list.map((r) => [r.rolloutId, r.trigger, r.outcome, r.startedAt])).toEqual([
      ['ro-l', 'cli', 'complete', new Date(T0).toISOString()],
    ]);
    expect(await store.getReport('ro-l')).toMatchObject({ rolloutId: 'ro-l', podsReplaced: 1 });
    expect(await store.getReport(IMPLICIT)).toBeUndefined();
    // Nothing of the old layout is left behind.
    const left = Object.keys(await redis.hgetall(KEYS.rollouts(WK))).filter(
      (f) => f.startsWith(`${IMPLICIT}|`) || f.endsWith('|aliasOf') || f.endsWith('|finishedAs'),
    );
    expect(left).toEqual([]);
  });

  it('a rollout whose start came before the upgrade is still found by the controller id', async () => {
    const { store } = await legacyState(true);
    expect(await store.getReport('ro-l')).toMatchObject({ rolloutId: IMPLICIT, trigger: 'cli' });
  });
});
