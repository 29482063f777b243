import { afterEach, describe, expect, it } from 'vitest';
import {
  createEndpointTable,
  type EndpointTable,
  type TableEndpoint,
} from '../../cluster/local/endpoint-table.js';
import { createRng } from '../../lib/random.js';
import { pollUntil } from '../../lib/wait.js';

// The endpoint list and the picks shared by the local entry point's HTTP and TCP modes
// (cluster/local/endpoint-table.ts), on real timers with short propagation delays.

interface Ep extends TableEndpoint {
  load: number;
}

const ep = (pod: string, load = 0): Ep => ({ pod, routable: false, lastApplied: 0, load });
const pods = (list: readonly Ep[]): string[] => list.map((e) => e.pod);

const tables: EndpointTable<Ep>[] = [];
afterEach(() => {
  for (const t of tables.splice(0)) t.stop();
});

/** A table whose delays are `minMs + (maxMs - minMs) × draw`, the draws taken in turn. */
function table(minMs: number, maxMs: number, draws?: number[]): EndpointTable<Ep> {
  const rng = draws ? () => draws.shift() ?? 0 : createRng(1);
  const t = createEndpointTable<Ep>({ minMs, maxMs }, rng);
  tables.push(t);
  return t;
}

describe('endpoint table', () => {
  it('routes to an endpoint only after its propagation delay, in the order added', async () => {
    const t = table(30, 30);
    for (const pod of ['a', 'b', 'c']) t.add(ep(pod));
    expect(pods(t.routableList())).toEqual([]);
    expect(pods(t.all())).toEqual(['a', 'b', 'c']);
    await pollUntil(() => t.routableList().length === 3, { timeoutMs: 5000, what: 'three routable' });
    expect(pods(t.routableList())).toEqual(['a', 'b', 'c']);
  });

  it('markTerminating resolves with the delay drawn once the pod left the list, after onApplied ran', async () => {
    const t = table(0, 100, [0, 0, 0.4]);
    t.add(ep('a'));
    t.add(ep('b'));
    await pollUntil(() => t.routableList().length === 2, { timeoutMs: 5000 });
    const seen: string[] = [];
    const left = t.markTerminating('a', (e) => seen.push(`${e.pod} routable=${e.routable}`));
    expect(pods(t.routableList())).toEqual(['a', 'b']);
    expect(await left).toBe(40);
    expect(seen).toEqual(['a routable=false']);
    expect(pods(t.routableList())).toEqual(['b']);
    expect(await t.markTerminating('nobody')).toBe(0);
  });

  it('a later change applied first wins: an add whose delay ends after its removal stays out', async () => {
    // The add draws 100 ms, the removal made just after it 0 ms; the sleep's timer, set after the
    // add's and due later, fires after it whatever the load.
    const t = table(0, 100, [1, 0]);
    t.add(ep('a'));
    expect(await t.markTerminating('a')).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(t.routableList()).toEqual([]);
    expect(t.all()[0]?.lastApplied).toBe(2);
  });

  it('takes turns over the list, and least-loaded breaks ties by the same turn', () => {
    const t = table(0, 0);
    const list = [ep('a', 1), ep('b', 0), ep('c', 0)];
    expect([0, 1, 2, 3].map(() => t.nextInTurn(list).pod)).toEqual(['a', 'b', 'c', 'a']);
    // b and c tie at the lowest load: each pick takes the first of them from where the turn is.
    const load = (e: Ep): number => e.load;
    expect([0, 1, 2].map(() => t.leastLoaded(list, load).pod)).toEqual(['b', 'c', 'b']);
    list[1]!.load = 5;
    list[2]!.load = 5;
    expect(t.leastLoaded(list, load).pod).toBe('a');
    // Both picks share one turn: after a least-loaded pick the round-robin one moves on too.
    expect(t.nextInTurn(list).pod).toBe('c');
  });

  it('stop cancels the changes still waiting for their delay', async () => {
    const t = table(50, 50);
    t.add(ep('a'));
    t.stop();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(t.routableList()).toEqual([]);
  });
});
