import { DiscoveryV1Api, KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { DEFAULT_KUBERNETES_ADAPTER_OPTIONS } from './config.js';
import { KubernetesUnavailableError } from './errors.js';
import { type EndpointSliceObject, endpointStateOf } from './objects.js';
import { createResourceWatch } from './resource-watch.js';

/**
 * The agent's adaptive-preStop seam: resolves once no EndpointSlice of the namespace routes new
 * traffic to `podName` (every slice listing it has it not-ready or terminating, or none lists it).
 * Needs get/list/watch on endpointslices in the namespace. Rejects with the signal's reason when
 * aborted (the agent's preStop deadline), and with KubernetesUnavailableError when the slices
 * cannot be listed.
 */
export async function waitEndpointsTerminating(
  kubeConfig: KubeConfig,
  namespace: string,
  podName: string,
  signal: AbortSignal,
): Promise<void> {
  signal.throwIfAborted();
  const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
  let settle: (() => void) | undefined;
  const done = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const check = () => {
    if (endpointStateOf(podName, watch.list()) !== 'routed') settle?.();
  };
  const watch = createResourceWatch<EndpointSliceObject & KubernetesObject>(
    kubeConfig,
    `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
    namespace,
    () => discovery.listNamespacedEndpointSlice({ namespace }) as never,
    { onChange: check },
    {
      retryMinMs: DEFAULT_KUBERNETES_ADAPTER_OPTIONS.watchRetryMinMs,
      retryMaxMs: DEFAULT_KUBERNETES_ADAPTER_OPTIONS.watchRetryMaxMs,
    },
  );
  const aborted = new Promise<never>((_, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
  aborted.catch(() => undefined);
  try {
    try {
      await Promise.race([watch.start(), aborted]);
    } catch (err) {
      if (signal.aborted) throw err;
      throw new KubernetesUnavailableError(
        `cannot list endpointslices in ${namespace}: ${(err as Error)?.message ?? err}`,
        {
          cause: err,
        },
      );
    }
    check();
    await Promise.race([done, aborted]);
  } finally {
    await watch.stop();
  }
}

/**
 * The agent's `endpointsTerminating` dependency when it runs in a pod: uses the pod's service
 * account (see manifests/agent/rbac.yaml) and the downward-API POD_NAME / POD_NAMESPACE. Undefined
 * outside a cluster, so the agent's adaptive preStop falls back to its traffic-based wait.
 */
export function inClusterEndpointsSeam(
  env: Readonly<Record<string, string | undefined>> = process.env,
): ((signal: AbortSignal) => Promise<void>) | undefined {
  const namespace = env['POD_NAMESPACE'];
  const pod = env['POD_NAME'];
  if (!env['KUBERNETES_SERVICE_HOST'] || !namespace || !pod) return undefined;
  return (signal) => {
    const kc = new KubeConfig();
    kc.loadFromCluster();
    return waitEndpointsTerminating(kc, namespace, pod, signal);
  };
}
