// The `kubernetes` cluster adapter (@kubernetes/client-node) and the endpoint-propagation seam
// the agent's adaptive preStop uses.
export {
  createKubernetesAdapter,
  type KubernetesAdapter,
  type KubernetesAdapterStats,
} from './adapter.js';
export {
  type Clock,
  DEFAULT_KUBERNETES_ADAPTER_OPTIONS,
  type KubeConfigSource,
  type KubernetesAdapterOptions,
  loadKubeConfig,
  SYSTEM_CLOCK,
} from './config.js';
export {
  KubernetesAdapterError,
  type KubernetesAdapterErrorCode,
  KubernetesConfigError,
  KubernetesUnavailableError,
  RolloutPatchError,
  WorkloadNotFoundError,
} from './errors.js';
export { endpointStateOf } from './objects.js';
export { RESTARTED_AT_ANNOTATION } from './rollout-restart.js';
export { inClusterEndpointsSeam, waitEndpointsTerminating } from './wait-endpoints.js';
