import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ClusterEvent, WorkloadRef } from '../cluster/adapter.js';
import type { EventKind, EventSequencer } from '../contract/index.js';
import { createEventSequencer, type EventData } from '../contract/validate.js';
import { publishEvent } from '../lib/jetstream.js';

// What a witness publishes itself, next to the probes' and agents' events: the rollout's start and
// end, and the cluster adapter's view of endpoint propagation, as evidence for the collector.

export interface EvidenceOptions {
  readonly nats: NatsConnection;
  readonly subjectRoot: string;
  readonly workload: WorkloadRef;
  /** `instance` of the per-pod events (the collector tells them from the agent's by it). */
  readonly instance?: string;
  /** How endpoint propagation was seen, e.g. `endpointslices` (ends up in the report). */
  readonly via: string;
  /** A failed publish is handed here and forgotten; without it, settle() rejects with it. */
  readonly onError?: (kind: EventKind, err: Error) => void;
}

export interface Evidence {
  /** Publishes a workload-level event (`pod: null`). */
  control<K extends EventKind>(kind: K, data: EventData<K>): void;
  /** Publishes `endpoints.propagated` for an `endpoints-terminating` event; ignores the others. */
  observe(event: ClusterEvent): void;
  /** Waits for every publish so far; rejects with the first failure unless onError took it. */
  settle(): Promise<void>;
}

export function createEvidence(options: EvidenceOptions): Evidence {
  const js = jetstream(options.nats);
  const identity = { namespace: options.workload.namespace, workload: options.workload.name };
  const control = createEventSequencer({ ...identity, pod: null });
  const pods = new Map<string, EventSequencer>();
  const pending: Promise<unknown>[] = [];
  const publish = <K extends EventKind>(seq: EventSequencer, kind: K, data: EventData<K>): void => {
    const p = publishEvent(js, seq.next(kind, data), { root: options.subjectRoot });
    const onError = options.onError;
    pending.push(onError ? p.catch((err: Error) => onError(kind, err)) : p);
  };
  return {
    control: (kind, data) => publish(control, kind, data),
    observe(e) {
      if (e.type !== 'endpoints-terminating') return;
      let seq = pods.get(e.pod.name);
      if (!seq) {
        seq = createEventSequencer({ ...identity, pod: e.pod.name }, options.instance);
        pods.set(e.pod.name, seq);
      }
      publish(seq, 'endpoints.propagated', {
        deletionAt: new Date(e.at.getTime() - e.propagationMs).toISOString(),
        terminatingAt: e.at.toISOString(),
        propagationMs: e.propagationMs,
        via: options.via,
      });
    },
    async settle() {
      await Promise.all(pending);
    },
  };
}
