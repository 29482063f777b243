import type { RedisTarget } from './redis.js';
import { type HostPort, parseHostPortList, settingName } from './values.js';

// Where the collector's Redis is: one server's URL, a Redis Cluster's seed nodes, or the Sentinels
// watching a master. One definition per setting, shared by the collector's config and the commands
// that read its Redis (report, verify), so the names, help and the at-most-one rule agree.

export interface RedisTargetSetting {
  readonly env: string;
  /** The flag with its argument, as commander takes it. */
  readonly flag: string;
  readonly help: string;
}

export const REDIS_TARGET_SETTINGS = {
  cluster: {
    env: 'REDIS_CLUSTER_NODES',
    flag: '--redis-cluster <host:port,...>',
    help: 'Redis Cluster seed nodes, instead of --redis-url',
  },
  sentinel: {
    env: 'REDIS_SENTINEL_NODES',
    flag: '--redis-sentinel <host:port,...>',
    help: 'Redis Sentinel nodes, which name the master, instead of --redis-url',
  },
  sentinelName: {
    env: 'REDIS_SENTINEL_NAME',
    flag: '--redis-sentinel-name <name>',
    help: 'master group the sentinels monitor (with --redis-sentinel)',
  },
  password: {
    env: 'REDIS_PASSWORD',
    flag: '--redis-password <password>',
    help: 'password of the Redis servers (a password in --redis-url wins)',
  },
  sentinelPassword: {
    env: 'REDIS_SENTINEL_PASSWORD',
    flag: '--redis-sentinel-password <password>',
    help: 'password of the sentinels themselves (requirepass in sentinel.conf)',
  },
} as const satisfies Record<string, RedisTargetSetting>;

/** The master group name Redis's own sentinel.conf example uses (`sentinel monitor mymaster …`). */
export const DEFAULT_SENTINEL_NAME = 'mymaster';

const URL_SETTING = { env: 'REDIS_URL', flag: '--redis-url <url>' } as const;

/** `ENV (--flag)` of a target setting, as errors name it. */
export function redisSettingName(s: { env: string; flag: string }): string {
  return settingName(s.env, s.flag.split(' ')[0]!);
}

/** A `host:port,host:port` list of a target setting; throws InvalidValueError naming it. */
export function parseRedisNodes(s: RedisTargetSetting, value: string): HostPort[] {
  return parseHostPortList(redisSettingName(s), value);
}

type TargetKind = 'url' | 'cluster' | 'sentinel';

const WHAT: Record<TargetKind, string> = {
  url: 'a single Redis',
  cluster: 'a Redis Cluster',
  sentinel: 'Redis Sentinels',
};

const SETTING_OF: Record<TargetKind, { env: string; flag: string }> = {
  url: URL_SETTING,
  cluster: REDIS_TARGET_SETTINGS.cluster,
  sentinel: REDIS_TARGET_SETTINGS.sentinel,
};

/**
 * The cross-field rule: at most one of REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINEL_NODES
 * (flag or env; a default URL does not count). Returns the setting to blame (the last set of
 * cluster, sentinel) and the one-line detail, or undefined when the rule holds.
 */
export function redisTargetConflict(
  set: Readonly<Record<TargetKind, boolean>>,
): { setting: RedisTargetSetting; detail: string } | undefined {
  const kinds = (['url', 'cluster', 'sentinel'] as const).filter((k) => set[k]);
  if (kinds.length < 2) return undefined;
  const blamed = kinds.at(-1) as 'cluster' | 'sentinel';
  const others = kinds
    .slice(0, -1)
    .map((k) => `${redisSettingName(SETTING_OF[k])} ${WHAT[k]}`)
    .join(', and ');
  return {
    setting: REDIS_TARGET_SETTINGS[blamed],
    detail: `names ${WHAT[blamed]}, and ${others}: set one of them`,
  };
}

/** The settings' values once parsed; `url` is the one to use when neither list is given. */
export interface RedisTargetValues {
  readonly url: string;
  readonly cluster?: readonly HostPort[] | undefined;
  readonly sentinel?: readonly HostPort[] | undefined;
  readonly sentinelName?: string | undefined;
  readonly password?: string | undefined;
  readonly sentinelPassword?: string | undefined;
}

/** The target the values name (call after redisTargetConflict held): sentinel, cluster, else url. */
export function redisTargetFrom(v: RedisTargetValues): RedisTarget {
  const password = v.password ? { password: v.password } : {};
  if (v.sentinel) {
    return {
      sentinels: v.sentinel,
      name: v.sentinelName || DEFAULT_SENTINEL_NAME,
      ...password,
      ...(v.sentinelPassword ? { sentinelPassword: v.sentinelPassword } : {}),
    };
  }
  if (v.cluster) return { cluster: v.cluster, ...password };
  return { url: v.url, ...password };
}
