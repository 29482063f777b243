export { createRng, type Rng, randomSuffix } from '../../lib/random.js';
export { createLocalCluster, type LocalCluster } from './cluster.js';
export {
  LOCAL_CLUSTER_DEFAULTS,
  type LocalClusterConfig,
  type LocalClusterInput,
  resolveLocalClusterConfig,
} from './config.js';
export {
  BALANCE_STRATEGIES,
  type BalanceStrategy,
  createEntrypoint,
  type EndpointCounts,
  type Entrypoint,
  type EntrypointOptions,
} from './entrypoint.js';
export {
  LocalClusterConfigError,
  PodStartError,
  SidecarStartError,
  UnknownWorkloadError,
} from './errors.js';
export { AFFINITY_COOKIE } from './forwarding.js';
export {
  DEFAULT_PROPAGATION,
  formatPropagation,
  type PropagationRange,
  parsePropagation,
  samplePropagation,
} from './propagation.js';
export {
  type AppExit,
  createPassthroughLauncher,
  type PassthroughOptions,
  type Sidecar,
  type SidecarLauncher,
  type SidecarSpec,
} from './sidecar.js';
