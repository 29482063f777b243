import { EventEmitter } from 'node:events';
import type { Cluster } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { onSlotMastersChanged } from '../../lib/redis-slot-map.js';

// onSlotMastersChanged over a stand-in for ioredis's Cluster: its `slots` map (per slot, the
// master's "host:port" first, then its replicas) as a read of CLUSTER SLOTS leaves it, and the
// 'refresh' event each read emits. A change is what may have lost writes the old master had
// acknowledged: its slots served by another master while it serves none (demoted or gone). Slots
// resharded between masters that both still serve slots lose nothing (MIGRATE moves the keys
// synchronously), so a resharding replays nothing.

const A = '127.0.0.1:7000';
const B = '127.0.0.1:7001';
const C = '127.0.0.1:7002';
const A2 = '127.0.0.1:7003'; // A's replica
const HALF = 8192;

/** A fake cluster whose map gives slots [0, HALF) to `low` and the rest to `high`. */
function fakeCluster() {
  const emitter = new EventEmitter();
  const cluster = Object.assign(emitter, { slots: [] as string[][] });
  const read = (assign: (slot: number) => string[]) => {
    for (let s = 0; s < 16_384; s++) cluster.slots[s] = assign(s);
    emitter.emit('refresh');
  };
  return { cluster: cluster as unknown as Cluster, read };
}

const split =
  (low: string[], high: string[], moved: (s: number) => boolean = () => false) =>
  (s: number) =>
    s < HALF !== moved(s) ? low : high;

describe('onSlotMastersChanged', () => {
  it('counts the slots of a master that another one took over (failover), not before a baseline', () => {
    const { cluster, read } = fakeCluster();
    const changes: number[] = [];
    onSlotMastersChanged(cluster, (n) => changes.push(n));
    read(split([A, A2], [B]));
    read(split([A, A2], [B])); // the same map again
    expect(changes).toEqual([]);
    read(split([A2, A], [B])); // A2 promoted, A its replica now
    expect(changes).toEqual([HALF]);
  });

  it('counts a demoted master whose slots went to an existing master, and a node gone', () => {
    const { cluster, read } = fakeCluster();
    const changes: number[] = [];
    onSlotMastersChanged(cluster, (n) => changes.push(n));
    read(split([A], [B]));
    read(() => [B]); // A gone, B serves every slot
    expect(changes).toEqual([HALF]);
  });

  it('counts nothing for slots resharded between masters that both still serve slots', () => {
    const { cluster, read } = fakeCluster();
    const changes: number[] = [];
    onSlotMastersChanged(cluster, (n) => changes.push(n));
    read(split([A, A2], [B]));
    // 100 slots of A, then 4,000 more, handed to B; then some of them to a new master C.
    read(split([A, A2], [B], (s) => s < 100));
    read(split([A, A2], [B], (s) => s < 4100));
    read((s) => (s < 10 ? [C] : split([A, A2], [B], (x) => x < 4100)(s)));
    expect(changes).toEqual([]);
  });

  it('stops at unsubscribe', () => {
    const { cluster, read } = fakeCluster();
    const changes: number[] = [];
    const off = onSlotMastersChanged(cluster, (n) => changes.push(n));
    read(split([A, A2], [B]));
    off();
    read(split([A2, A], [B]));
    expect(changes).toEqual([]);
  });
});
