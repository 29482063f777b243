import { type JsMsg, jetstreamManager } from '@nats-io/jetstream';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApplier } from '../../collector/apply.js';
import { createBatchApply } from '../../collector/ingest-apply.js';
import { createCollectorMetrics } from '../../collector/metrics.js';
import { createRecovery } from '../../collector/recovery.js';
import { readStream } from '../../collector/stream-replay.js';
import { ensureStream } from '../../lib/jetstream.js';
import { SILENT_LOGGER } from '../../lib/log.js';
import { pollUntil } from '../../lib/wait.js';
import { type CollectorEnv, startCollectorEnv } from '../helpers/collector-harness.js';
import { publishAll, scriptedRollout } from '../helpers/collector-scenario.js';

// A Redis Cluster master that learns late that its replica took over (it was paused, or the
// gossip reached it last) still acknowledges a batch the collector sent it before the client read
// the new slot map; the batch is acked to JetStream after the replay started, and lost when the
// old master resyncs. The replay must wait for the batches in flight at its trigger, so their
// seqs are in the ack log when it takes the ranges (collector/recovery.ts). Driven here on a real
// stream with the recovery's own dependencies: the in-flight batch is one whose ack comes while
// the replay waits.

const seqs = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ seq: from + i }) as JsMsg);

describe('collector recovery: a replay includes the batches in flight when it was triggered', () => {
  let env: CollectorEnv;

  beforeAll(async () => {
    env = await startCollectorEnv();
    await ensureStream(await jetstreamManager(env.nc), {
      name: env.ns.streamName,
      root: env.ns.subjectRoot,
      maxAgeSeconds: 3600,
    });
    await publishAll(env.nc, scriptedRollout().events.slice(0, 20), env.ns.subjectRoot);
  }, 60_000);
  afterAll(async () => {
    await env?.stop();
  });

  /** A recovery on the real stream whose settled() the test resolves; `replayed` lists applied seqs. */
  function recoveryWithHeldBatch(inFlightWaitMs?: number) {
    const replayed: number[] = [];
    const held = { settle: () => {}, waiting: 0 };
    const recovery = createRecovery(env.config(), {
      nats: env.nc,
      clock: { now: () => Date.now() },
      log: SILENT_LOGGER,
      metrics: createCollectorMetrics(new Registry(), { podSeriesExpiryMs: 60_000 }),
      check: async () => false,
      apply: async (msgs) => {
        replayed.push(...msgs.map((m) => m.seq));
        return { restored: msgs.length, present: 0 };
      },
      settled: () => {
        held.waiting++;
        return new Promise<void>((resolve) => {
          held.settle = resolve;
        });
      },
      ...(inFlightWaitMs === undefined ? {} : { inFlightWaitMs }),
    });
    recovery.acked(seqs(1, 12)); // applied and acked before the master change
    recovery.lost(); // the slot map shows the change; a batch (13–20) is still with the old master
    return { recovery, replayed, held };
  }

  const waitingFor = (held: { waiting: number }, n: number) =>
    pollUntil(() => held.waiting >= n, { timeoutMs: 5000, intervalMs: 5, what: 'the replay to wait' });

  it('re-applies a batch acknowledged after the loss was seen, once it settled', async () => {
    const { recovery, replayed, held } = recoveryWithHeldBatch();
    const replay = recovery.restored();
    expect(recovery.replaying).toBe(true);
    await waitingFor(held, 1);
    recovery.acked(seqs(13, 20)); // the old master answered: acked after the trigger
    held.settle();
    await replay;
    expect(replayed).toEqual(seqs(1, 20).map((m) => m.seq));
    expect(recovery.replaying).toBe(false);
  });

  it('does not hold the replay up for a batch that does not settle, and replays again once it does', async () => {
    const { recovery, replayed, held } = recoveryWithHeldBatch(100);
    // A batch held by a frozen master: the replay of the rest goes ahead after the wait.
    await recovery.restored();
    expect(replayed).toEqual(seqs(1, 12).map((m) => m.seq));
    recovery.acked(seqs(13, 20));
    held.settle();
    await pollUntil(() => replayed.length >= 12 + 20, {
      timeoutMs: 10_000,
      intervalMs: 10,
      what: 'the second replay',
    });
    // The second replay covers the window again, the late batch included.
    expect(replayed.slice(12)).toEqual(seqs(1, 20).map((m) => m.seq));
    await pollUntil(() => !recovery.replaying, { timeoutMs: 10_000, intervalMs: 10, what: 'the end' });
  });

  it('merges the triggers that come while it waits into one replay', async () => {
    const { recovery, replayed, held } = recoveryWithHeldBatch();
    const first = recovery.restored();
    await waitingFor(held, 1);
    // The same failover told again, ms later (a master's connection gone after the slot map).
    recovery.lost();
    const second = recovery.restored();
    held.settle();
    await Promise.all([first, second]);
    expect(replayed).toEqual(seqs(1, 12).map((m) => m.seq));
    expect(held.waiting).toBe(1);
    expect(recovery.replaying).toBe(false);
  });

  it('applies nothing once stopped, though its batches settle after', async () => {
    const { recovery, replayed, held } = recoveryWithHeldBatch();
    void recovery.restored();
    await waitingFor(held, 1);
    const stopping = recovery.stop();
    held.settle();
    await stopping;
    expect(replayed).toEqual([]);
    recovery.lost();
    await recovery.restored();
    expect(replayed).toEqual([]);
  });

  it("the ingest's settled() resolves only once the batch being applied at the call is acked", async () => {
    const msgs: JsMsg[] = [];
    await readStream(env.nc, env.config(), {}, async (batch) => {
      msgs.push(...batch);
    });
    expect(msgs).toHaveLength(20);
    const acked: number[] = [];
    const batches = createBatchApply(
      env.config(),
      {
        applier: createApplier(env.redis, { retentionSeconds: 3600 }),
        metrics: createCollectorMetrics(new Registry(), { podSeriesExpiryMs: 60_000 }),
        clock: { now: () => Date.now() },
        log: SILENT_LOGGER,
        onRedisState: () => {},
        onNotes: () => {},
        onBatchApplied: (applied) => acked.push(...applied.map((m) => m.seq)),
      },
      { signal: new AbortController().signal, holdQueued: () => {} },
    );
    // The apply script's reply is a Redis round trip away: a settled() that did not wait for the
    // flush would resolve first.
    const flushing = batches.flush(msgs);
    await batches.settled();
    expect(acked).toEqual(seqs(1, 20).map((m) => m.seq));
    await flushing;
    await batches.settled(); // nothing in flight: at once
  });
});
