export { createRng, type Rng, randomSuffix } from '../../lib/random.js';
export { createLocalCluster, type LocalCluster } from './cluster.js';
export {
  LOCAL_CLUSTER_DEFAULTS,
  type LocalClusterConfig,
  type LocalClusterInput,
  resolveLocalClusterConfig,
} from './config.js';
export { createEntry } from './entry.js';
export {
  ENTRY_KINDS,
  type EntryActivity,
  type EntryChange,
  type EntryKind,
  summarizeChanges,
} from './entry-activity.js';
export { createHaproxyBackend } from './entry-haproxy.js';
export { HAPROXY_COOKIE, HAPROXY_RETRIES, renderHaproxyConfig } from './entry-haproxy-config.js';
export { parseShowStat, runtimeCommand } from './entry-haproxy-runtime.js';
export { createManagedEntrypoint, type EntryBackend, type ManagedEndpoint } from './entry-managed.js';
export { createNginxBackend } from './entry-nginx.js';
export { renderNginxConfig } from './entry-nginx-config.js';
export { parseNginxAccessLog, parseNginxErrorLog } from './entry-nginx-log.js';
export {
  BALANCE_STRATEGIES,
  type BalanceStrategy,
  createEntrypoint,
  type EndpointCounts,
  type Entrypoint,
  type EntrypointOptions,
} from './entrypoint.js';
export {
  EntryApplyError,
  EntryStartError,
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
