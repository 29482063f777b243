import type { ReportFacts, StoredPodEvent, StoredProbeEvent } from '../../collector/report-types.js';
import type { EventKind } from '../../contract/index.js';
import type { EventData } from '../../contract/validate.js';
import { SAMPLE_DATA } from './sample-events.js';

// Building blocks for unit tests of the report's parts: times relative to one start, events with
// the sample payloads (or variations of them), and facts with nothing in them.

export const T0 = Date.parse('2026-11-21T10:00:00Z');

/** ISO time `s` seconds after T0. */
export function at(s: number): string {
  return new Date(T0 + s * 1000).toISOString();
}

export function ms(s: number): number {
  return T0 + s * 1000;
}

let n = 0;

/** An event of a pod's timeline, `s` seconds after T0, from agent `instance`. */
export function podEvent<K extends EventKind>(
  kind: K,
  s: number,
  data: Partial<EventData<K>> = {},
  instance = 'agent-1',
): StoredPodEvent {
  n += 1;
  return { id: `e${n}`, kind, time: at(s), instance, seq: n, data: { ...SAMPLE_DATA[kind], ...data } };
}

/** A probe event `s` seconds after T0. */
export function probeEvent<K extends EventKind>(
  kind: K,
  s: number,
  data: Partial<EventData<K>> = {},
): StoredProbeEvent {
  n += 1;
  return { id: `p${String(n).padStart(4, '0')}`, kind, time: at(s), data: { ...SAMPLE_DATA[kind], ...data } };
}

/** A finished rollout from T0 to T0 + 60 s, with no facts. */
export function emptyFacts(over: Partial<ReportFacts> = {}): ReportFacts {
  return {
    rollout: {
      id: 'ro-1',
      namespace: 'shop',
      workload: 'quote',
      trigger: 'cli',
      startedAt: T0,
      finishedAt: ms(60),
      outcome: 'complete',
      podsReplaced: null,
    },
    terminations: [],
    terminationStartByPod: new Map(),
    timelines: new Map(),
    seqs: new Map(),
    probes: [],
    agentRequests: new Map(),
    logins: new Map(),
    traffic: [],
    ...over,
  };
}
