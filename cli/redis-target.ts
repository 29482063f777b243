import type { Command, Option } from 'commander';
import type { RedisTarget } from '../lib/redis.js';
import {
  DEFAULT_SENTINEL_NAME,
  parseRedisNodes,
  REDIS_TARGET_SETTINGS,
  type RedisTargetSetting,
  redisSettingName,
  redisTargetConflict,
  redisTargetFrom,
} from '../lib/redis-target.js';
import { InvalidValueError } from '../lib/values.js';
import { UsageError } from './errors.js';
import { settingOption } from './parse.js';

// `--redis-cluster`, `--redis-sentinel` and their companions beside `--redis-url` / REDIS_URL, for
// the commands that read the collector's Redis: one single Redis, a Redis Cluster's seed nodes, or
// the Sentinels naming a master, never two of them. Definitions in lib/redis-target.ts.

/** The option of one target setting, with its environment variable (and shown default). */
export function redisTargetOption(s: RedisTargetSetting, shownDefault?: string): Option {
  return settingOption(s.flag, s.help, s.env, shownDefault);
}

/** Every target option but --redis-url (each command words its own): cluster, sentinel, passwords. */
export function redisTargetOptions(): Option[] {
  const S = REDIS_TARGET_SETTINGS;
  return [
    redisTargetOption(S.cluster),
    redisTargetOption(S.sentinel),
    redisTargetOption(S.sentinelName, DEFAULT_SENTINEL_NAME),
    redisTargetOption(S.password),
    redisTargetOption(S.sentinelPassword),
  ];
}

/** The target options' values as commander parsed them. */
export interface RedisTargetFlags {
  readonly redisCluster?: string;
  readonly redisSentinel?: string;
  readonly redisSentinelName?: string;
  readonly redisPassword?: string;
  readonly redisSentinelPassword?: string;
}

/**
 * The Redis the command's flags name. Throws UsageError (exit 2) when two of --redis-url (flag or
 * REDIS_URL, not its default), --redis-cluster and --redis-sentinel are set, or a node is not
 * host:port.
 */
export function redisTargetOf(cmd: Command, defaultUrl: string): RedisTarget {
  const o = cmd.opts() as RedisTargetFlags & { redisUrl?: string };
  const source = cmd.getOptionValueSource('redisUrl');
  return resolveRedisTarget({
    ...o,
    url: o.redisUrl ?? defaultUrl,
    urlSet: source === 'cli' || source === 'env',
  });
}

const given = (v: string | undefined) => v !== undefined && v !== '';

/**
 * The `[setting name, detail]` of two Redis targets given at once (lib/redis-target.ts's rule), or
 * undefined: for a command that names it among its other bad options before anything starts.
 */
export function redisTargetIssue(o: RedisTargetFlags & { urlSet: boolean }): [string, string] | undefined {
  const conflict = redisTargetConflict({
    url: o.urlSet,
    cluster: given(o.redisCluster),
    sentinel: given(o.redisSentinel),
  });
  return conflict ? [redisSettingName(conflict.setting), conflict.detail] : undefined;
}

/** As redisTargetOf, from values: `urlSet` tells a given --redis-url from a default one. */
export function resolveRedisTarget(o: RedisTargetFlags & { url: string; urlSet: boolean }): RedisTarget {
  const issue = redisTargetIssue(o);
  if (issue) throw new UsageError(`${issue[0]}: ${issue[1]}`);
  const S = REDIS_TARGET_SETTINGS;
  try {
    return redisTargetFrom({
      url: o.url,
      cluster: given(o.redisCluster) ? parseRedisNodes(S.cluster, o.redisCluster!) : undefined,
      sentinel: given(o.redisSentinel) ? parseRedisNodes(S.sentinel, o.redisSentinel!) : undefined,
      sentinelName: o.redisSentinelName,
      password: o.redisPassword,
      sentinelPassword: o.redisSentinelPassword,
    });
  } catch (err) {
    if (err instanceof InvalidValueError) throw new UsageError(err.message);
    throw err;
  }
}
