import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
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

/** Where the in-cluster service account's token is mounted (Kubernetes docs: "Accessing the API from a Pod"). */
export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Where client-node's loadFromDefault looks, in its order (KUBECONFIG's paths, ~/.kube/config,
 * the in-cluster service account), and whether any is there. Without one, client-node falls back
 * to http://localhost:8080 and the first request fails with a connection or TLS message that
 * hides the cause; `undefined` means one exists.
 */
export function missingKubeConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
  exists: (path: string) => boolean = existsSync,
): string | undefined {
  const listed = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  const inCluster = Boolean(env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT);
  if (listed.some(exists) || exists(home) || (inCluster && exists(SERVICE_ACCOUNT_TOKEN))) return undefined;
  const kubeconfig = env.KUBECONFIG
    ? `KUBECONFIG (${listed.map((p) => `${p}: missing`).join(', ')})`
    : 'KUBECONFIG (not set)';
  const cluster = inCluster
    ? `in-cluster service account (${SERVICE_ACCOUNT_TOKEN}: missing)`
    : 'in-cluster service account (KUBERNETES_SERVICE_HOST not set)';
  return `no kubeconfig found; looked at ${kubeconfig}, ${home} (missing), ${cluster}; give one with --kubeconfig`;
}

/** Loads a KubeConfig the way kubectl finds one. Throws KubernetesConfigError when there is none. */
export function loadKubeConfig(source: KubeConfigSource = {}): KubeConfig {
  const kc = new KubeConfig();
  const missing = source.kubeconfig ? undefined : missingKubeConfig();
  if (missing) throw new KubernetesConfigError(missing);
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
