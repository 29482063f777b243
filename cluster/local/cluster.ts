import { createRng, randomSuffix } from '../../lib/random.js';
import { pollUntil } from '../../lib/wait.js';
import type {
  ClusterAdapter,
  ClusterEvent,
  PodRef,
  PodStatus,
  RolloutOptions,
  RolloutResult,
  WorkloadRef,
} from '../adapter.js';
import { type LocalClusterInput, resolveLocalClusterConfig } from './config.js';
import { createEntry } from './entry.js';
import type { EntryActivity } from './entry-activity.js';
import type { EndpointCounts } from './entrypoint.js';
import { UnknownWorkloadError } from './errors.js';
import { createLocalPod, type LocalPod } from './pod.js';

// The `local` ClusterAdapter: one workload of N pods on this machine behind one entry point,
// and a rolling update that follows a Deployment's maxSurge/maxUnavailable rules.

export interface LocalCluster extends ClusterAdapter {
  readonly kind: 'local';
  readonly workload: WorkloadRef;
  /** The entry point's URL (http://127.0.0.1:<port>); set once start() resolved. */
  entrypointUrl(): string;
  /** Requests and WebSockets the entry point routed to each pod. */
  endpointCounts(): ReadonlyMap<string, EndpointCounts>;
  /** What the entry point did so far: retries, upstream errors, endpoint changes applied. */
  entryActivity(): Promise<EntryActivity>;
}

export function createLocalCluster(input: LocalClusterInput): LocalCluster {
  const config = resolveLocalClusterConfig(input);
  const rng = createRng(config.seed);
  const entrypoint = createEntry(
    config.entry,
    { balance: config.balance, propagation: config.propagation, rng },
    config.entryMode,
  );
  const listeners = new Set<(event: ClusterEvent) => void>();
  const pods: LocalPod[] = [];
  let url: string | undefined;
  let templateHash = randomSuffix(rng, 9);
  // Wakes the rollout loop whenever a pod changes state.
  let wake: (() => void) | undefined;

  const emit = (event: ClusterEvent): void => {
    for (const l of listeners) {
      try {
        l(event);
      } catch {
        // A listener's failure is its own; the cluster keeps going.
      }
    }
    wake?.();
  };

  function checkWorkload(w: WorkloadRef): void {
    if (w.namespace !== config.workload.namespace || w.name !== config.workload.name)
      throw new UnknownWorkloadError(w.namespace, w.name);
  }

  function newPod(): LocalPod {
    const ref: PodRef = {
      namespace: config.workload.namespace,
      workload: config.workload.name,
      name: `${config.workload.name}-${templateHash}-${randomSuffix(rng, 5)}`,
    };
    const pod = createLocalPod({
      ref,
      command: config.command,
      env: config.env,
      readyPath: config.readyPath,
      readiness: config.readiness,
      readyTimeoutMs: config.readyTimeoutMs,
      graceMs: config.graceMs,
      sidecar: config.sidecar,
      entrypoint,
      emit,
      ...(config.cwd ? { cwd: config.cwd } : {}),
      ...(config.onOutput ? { onOutput: config.onOutput } : {}),
    });
    pods.push(pod);
    return pod;
  }

  let stopping: Promise<void> | undefined;
  let started: Promise<void> | undefined;
  // Apps run in their own process groups, so they would outlive a crashed rehearsal: a last
  // resort kills them when this process exits without stop().
  const killAll = (): void => {
    for (const p of pods) p.killNow();
  };

  return {
    kind: 'local',
    workload: config.workload,
    start() {
      started ??= (async () => {
        process.once('exit', killAll);
        url = (await entrypoint.start()).url;
        const initial = Array.from({ length: config.replicas }, () => newPod());
        await Promise.all(initial.map((p) => p.start()));
        // The first pods are routable before anyone is told the cluster is up.
        await pollUntil(() => entrypoint.routable().length === config.replicas, {
          timeoutMs: config.propagation.maxMs + 10_000,
          what: 'the entry point routing to every initial pod',
        });
      })();
      return started;
    },
    stop() {
      stopping ??= (async () => {
        await Promise.all(pods.map((p) => p.kill()));
        await entrypoint.stop();
        process.off('exit', killAll);
      })();
      return stopping;
    },
    entrypointUrl() {
      if (!url) throw new Error('the local cluster has not started');
      return url;
    },
    endpointCounts: () => entrypoint.counts(),
    entryActivity: () => entrypoint.activity(),
    async pods(workload) {
      checkWorkload(workload);
      return pods.map((p) => p.status()).filter((s: PodStatus) => s.phase !== 'gone');
    },
    watch(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async rolloutRestart(workload, options: RolloutOptions): Promise<RolloutResult> {
      checkWorkload(workload);
      const startedAt = new Date();
      const deadline = Date.now() + options.timeoutMs;
      templateHash = randomSuffix(rng, 9);
      const old = pods.filter((p) => p.status().phase === 'running');
      const fresh: LocalPod[] = [];
      const terminations: Promise<void>[] = [];
      const starts: Promise<void>[] = [];
      const desired = config.replicas;
      let failure: unknown;
      let outcome: RolloutResult['outcome'] = 'complete';

      let lastProgress = '';
      const progress = (): void => {
        const readyNew = fresh.filter((p) => p.status().ready).length;
        const readyAll = readyNew + old.filter((p) => p.status().ready).length;
        // Only changes are news.
        if (`${readyNew}/${readyAll}` === lastProgress) return;
        lastProgress = `${readyNew}/${readyAll}`;
        for (const l of listeners)
          l({
            type: 'rollout-progress',
            workload: config.workload,
            updated: readyNew,
            ready: readyAll,
            desired,
            at: new Date(),
          });
      };

      for (;;) {
        const oldLive = old.filter((p) => p.status().phase === 'running' || p.status().phase === 'pending');
        const freshLive = fresh.filter(
          (p) => p.status().phase !== 'terminating' && p.status().phase !== 'gone',
        );
        const freshReady = fresh.filter((p) => p.status().ready).length;
        if (failure) {
          outcome = 'failed';
          break;
        }
        if (oldLive.length === 0 && freshReady >= desired) break;
        if (options.signal?.aborted) {
          outcome = 'aborted';
          break;
        }
        if (Date.now() > deadline) {
          outcome = 'failed';
          break;
        }
        // Surge: new pods while the total stays within desired + maxSurge.
        while (fresh.length < desired && oldLive.length + freshLive.length < desired + config.maxSurge) {
          const pod = newPod();
          fresh.push(pod);
          freshLive.push(pod);
          starts.push(
            pod.start().catch((err: unknown) => {
              failure ??= err;
              wake?.();
            }),
          );
        }
        // Scale down: old pods while availability stays at desired - maxUnavailable. Pods not
        // ready yet cost no availability, so they go first.
        let available = oldLive.filter((p) => p.status().ready).length + freshReady;
        const order = [...oldLive].sort((a, b) => Number(a.status().ready) - Number(b.status().ready));
        for (const pod of order) {
          const costs = pod.status().ready ? 1 : 0;
          if (available - costs < desired - config.maxUnavailable) continue;
          // Old pods may only go once a replacement exists or is coming (never below desired total).
          if (freshLive.length + oldLive.length - 1 < desired - config.maxUnavailable) continue;
          available -= costs;
          oldLive.splice(oldLive.indexOf(pod), 1);
          terminations.push(pod.terminate());
        }
        progress();
        await new Promise<void>((resolve) => {
          wake = resolve;
          const t = setTimeout(resolve, 250);
          t.unref();
        });
        wake = undefined;
      }
      await Promise.all(terminations);
      if (outcome !== 'complete') await Promise.allSettled(starts);
      progress();
      return {
        rolloutId: options.rolloutId,
        workload: config.workload,
        startedAt,
        finishedAt: new Date(),
        outcome,
        podsReplaced: terminations.length,
      };
    },
  };
}
