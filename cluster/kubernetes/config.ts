import { KubeConfig } from '@kubernetes/client-node';
import { KubernetesConfigError } from './errors.js';

export interface Clock {
  now(): Date;
}

export const SYSTEM_CLOCK: Clock = { now: () => new Date() };

export interface KubernetesAdapterOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly clock?: Clock;
  /** First wait before re-opening a watch that failed; doubles up to watchRetryMaxMs. */
  readonly watchRetryMinMs?: number;
  readonly watchRetryMaxMs?: number;
  /** How close to the grace deadline an exit 137 must be to count as killed at the grace period. */
  readonly killedAtGraceToleranceMs?: number;
}

export const DEFAULT_KUBERNETES_ADAPTER_OPTIONS = {
  watchRetryMinMs: 200,
  watchRetryMaxMs: 5_000,
  // deletionTimestamp and finishedAt have one-second precision on the wire.
  killedAtGraceToleranceMs: 2_000,
} as const;

export interface KubeConfigSource {
  /** A kubeconfig file (else KUBECONFIG, ~/.kube/config, or the in-cluster service account). */
  readonly kubeconfig?: string;
  readonly context?: string;
}

/** Loads a KubeConfig the way kubectl finds one. */
export function loadKubeConfig(source: KubeConfigSource = {}): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (source.kubeconfig) kc.loadFromFile(source.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw new KubernetesConfigError(
      `kubeconfig: cannot load ${source.kubeconfig ?? 'the default kubeconfig'}: ${(err as Error).message}`,
    );
  }
  if (source.context) {
    if (!kc.getContexts().some((c) => c.name === source.context))
      throw new KubernetesConfigError(
        `context: no context named ${JSON.stringify(source.context)} in the kubeconfig`,
      );
    kc.setCurrentContext(source.context);
  }
  if (!kc.getCurrentCluster()) throw new KubernetesConfigError('kubeconfig: no current cluster');
  return kc;
}

export function checkAdapterOptions(o: KubernetesAdapterOptions): void {
  if (!o.namespace) throw new KubernetesConfigError('namespace: must not be empty');
  if (!o.kubeConfig.getCurrentCluster()) throw new KubernetesConfigError('kubeconfig: no current cluster');
}
