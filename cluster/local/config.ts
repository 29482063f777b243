import type { WorkloadRef } from '../adapter.js';
import type { EntryMode } from './entry.js';
import type { EntryKind } from './entry-activity.js';
import type { BalanceStrategy } from './entrypoint.js';
import { LocalClusterConfigError } from './errors.js';
import { DEFAULT_PROPAGATION, type PropagationRange } from './propagation.js';
import type { SidecarLauncher } from './sidecar.js';

export interface LocalClusterConfig {
  readonly workload: WorkloadRef;
  /** A shell command; it gets PORT (plus `env`) on top of this process's environment. */
  readonly command: string;
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly replicas: number;
  /** The httpGet readiness check's path (readiness `http-get`). */
  readonly readyPath: string;
  /**
   * How the pod's readiness is checked, as the kubelet's probe kinds: `http-get` of readyPath
   * through the sidecar, or `tcp-socket`, a TCP connect to the app's port (for gRPC and other
   * protocols that answer no HTTP/1.1 GET).
   */
  readonly readiness: Readiness;
  readonly readyTimeoutMs: number;
  readonly sidecar: SidecarLauncher;
  readonly balance: BalanceStrategy;
  /** The balancer in front of the pods: drainwatch's own, or a real nginx or HAProxy. */
  readonly entry: EntryKind;
  /** Per request (`http`) or per TCP connection (`tcp`, local entry only: entry-tcp.ts). */
  readonly entryMode: EntryMode;
  readonly propagation: PropagationRange;
  /** terminationGracePeriodSeconds, in ms. */
  readonly graceMs: number;
  readonly maxSurge: number;
  readonly maxUnavailable: number;
  /** Seeds propagation delays and pod names. */
  readonly seed: number;
  readonly onOutput?: (pod: string, line: string) => void;
}

export const READINESS_CHECKS = ['http-get', 'tcp-socket'] as const;
export type Readiness = (typeof READINESS_CHECKS)[number];

export const LOCAL_CLUSTER_DEFAULTS = {
  workload: { namespace: 'rehearsal', name: 'app' },
  env: {},
  replicas: 3,
  readyPath: '/healthz',
  readiness: 'http-get',
  readyTimeoutMs: 30_000,
  // The one default balance; the rehearsal's example app overrides it (rehearse defaultBalance).
  balance: 'round-robin',
  entry: 'local',
  entryMode: 'http',
  propagation: DEFAULT_PROPAGATION,
  graceMs: 30_000,
  maxSurge: 1,
  maxUnavailable: 0,
} as const satisfies Partial<LocalClusterConfig>;

export type LocalClusterInput = Pick<LocalClusterConfig, 'command' | 'sidecar'> &
  Partial<Omit<LocalClusterConfig, 'command' | 'sidecar'>>;

/**
 * Fills in defaults and checks the cross-field rules, naming the setting that breaks one. Values
 * arrive typed (the rehearsal parsed them from text), so only the rules between them are checked.
 */
export function resolveLocalClusterConfig(input: LocalClusterInput): LocalClusterConfig {
  const c: LocalClusterConfig = {
    ...LOCAL_CLUSTER_DEFAULTS,
    seed: Math.floor(Math.random() * 2 ** 31),
    ...input,
  };
  if (!c.command.trim()) throw new LocalClusterConfigError('app', 'the app command is empty');
  if (!Number.isInteger(c.replicas) || c.replicas < 1)
    throw new LocalClusterConfigError('replicas', `expected ≥ 1, got ${c.replicas}`);
  if (!c.readyPath.startsWith('/'))
    throw new LocalClusterConfigError('ready-path', `must start with /, got ${JSON.stringify(c.readyPath)}`);
  if (c.maxSurge < 0 || c.maxUnavailable < 0)
    throw new LocalClusterConfigError('max-surge', 'maxSurge and maxUnavailable must be ≥ 0');
  if (c.maxSurge === 0 && c.maxUnavailable === 0)
    throw new LocalClusterConfigError('max-surge', 'maxSurge and maxUnavailable cannot both be 0');
  if (c.entryMode === 'tcp' && c.entry !== 'local')
    throw new LocalClusterConfigError(
      'entry',
      `per-connection (tcp) mode is built for the local entry point only, not ${c.entry}`,
    );
  if (c.graceMs <= 0) throw new LocalClusterConfigError('grace', 'the grace period must be > 0');
  return c;
}
