import { DEFAULT_STREAM_NAME, DEFAULT_SUBJECT_ROOT } from '../contract/index.js';
import {
  LOG_DEFAULTS,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
  parseLogFormat,
  parseLogLevel,
} from '../lib/log.js';
import { OTLP_ENDPOINT_ENV, OTLP_TRACES_ENDPOINT_ENV, type OtlpProtocol, readOtlpEnv } from '../lib/otlp.js';
import type { RedisTarget } from '../lib/redis.js';
import {
  DEFAULT_SENTINEL_NAME,
  REDIS_TARGET_SETTINGS,
  redisTargetConflict,
  redisTargetFrom,
} from '../lib/redis-target.js';
import {
  createSettingIssues,
  type HostPort,
  InvalidValueError,
  parseDurationMs,
  parseHostPort,
  parseHostPortList,
  parsePositiveInt,
  parseScore,
  parseUrl,
  parseUrlList,
} from '../lib/values.js';
import { bytes, choice, named, positiveDurationMs, streamReplicas } from './config-grammars.js';
import { CollectorConfigError } from './errors.js';

/** Where the collector's Redis is, from its settings: the one of URL, cluster, sentinel set. */
export function collectorRedisTarget(config: CollectorConfig): RedisTarget {
  return redisTargetFrom({
    url: config.redisUrl,
    cluster: config.redisCluster,
    sentinel: config.redisSentinel,
    sentinelName: config.redisSentinelName,
    password: config.redisPassword,
    sentinelPassword: config.redisSentinelPassword,
  });
}

/** Every collector setting with its default; flag > env > default. */
/** The longest --ack-wait and --pull-expiry accepted (ms). */
const MAX_ACK_WAIT_MS = 3_600_000;
const MAX_PULL_EXPIRY_MS = 60_000;
/** The longest --apply-linger accepted (ms): an event waits at most this long before its batch is applied. */
const MAX_APPLY_LINGER_MS = 1000;

export const COLLECTOR_DEFAULTS = {
  listen: '0.0.0.0:15090',
  natsUrl: 'nats://127.0.0.1:4222',
  redisUrl: 'redis://127.0.0.1:6379',
  redisPrefix: 'drainwatch:',
  redisSentinelName: DEFAULT_SENTINEL_NAME,
  subjectRoot: DEFAULT_SUBJECT_ROOT,
  stream: DEFAULT_STREAM_NAME,
  consumer: 'drainwatch-collector',
  streamMaxAgeSeconds: 7 * 24 * 3600,
  streamMaxBytes: 1024 * 1024 * 1024,
  /** Copies JetStream keeps of the stream, if the collector creates it: 1, or 3 on a 3-node cluster. */
  streamReplicas: 1,
  /** A rollout with no pod lifecycle event for this long is closed with outcome `timeout`. */
  rolloutQuietMs: 5 * 60_000,
  /** Per-termination `drainwatch_pod_*` series are removed this long after being set. */
  podSeriesExpiryMs: 15 * 60_000,
  deadLetterMax: 1000,
  /** Redelivery delay for fetched but unacknowledged events (a crashed replica's batch). */
  ackWaitMs: 30_000,
  /**
   * Expiry of the consumer's pull requests; their idle heartbeat is half of it. A request lost with
   * its consumer leader (a node lost or drained) is noticed after two missed heartbeats, so this
   * bounds the pause after such a loss (collector/pull.ts; nats.js's own default is 30 s).
   */
  pullExpiryMs: 2_000,
  /**
   * The most messages applied by one script call (collector/ingest-queue.ts also bounds a batch's
   * bytes); the consumer pulls twice as many and lets 4 times as many wait unacknowledged.
   */
  fetchBatch: 200,
  /**
   * How long a batch that is not full waits for more messages after its first (ms; 0: none).
   * Fewer, larger batches at a steady rate (collector/ingest-queue.ts), for at most this much more
   * lag: 1.8 times as many events per collector CPU-second at 10,000 events/s (docs/scaling.md).
   */
  applyLingerMs: 50,
  /**
   * How long stored event data and applied event ids are kept after their last write. At least the
   * stream's max age, so a replay of the whole stream can never apply an event twice.
   */
  retentionSeconds: 7 * 24 * 3600,
  /**
   * How often gauges (latest scores, open rollouts) are recomputed from Redis and quiet rollouts
   * looked for; a rollout's quiet deadline is also swept for on time, whatever this interval.
   */
  refreshIntervalMs: 10_000,
  /**
   * After the Redis connection was lost (or a write failed) and came back, the events this
   * collector acknowledged in this window before the loss are applied again from the stream: a
   * Redis failover or crash may have lost writes it had acknowledged (docs/scaling.md). 0 = off.
   */
  redisReplayWindowMs: 30_000,
  /** Session-persistence threshold behind `drainwatch_gate_passed`. */
  gate: 1,
  logLevel: LOG_DEFAULTS.level,
  logFormat: LOG_DEFAULTS.format,
} as const;

export type ListenAddress = HostPort;

export interface CollectorConfig {
  readonly listen: ListenAddress;
  readonly natsUrl: string;
  readonly redisUrl: string;
  /** Redis Cluster seed nodes; when set, the collector uses the cluster and not redisUrl. */
  readonly redisCluster: readonly HostPort[] | undefined;
  /** Redis Sentinel nodes; when set, the collector uses the master they name and not redisUrl. */
  readonly redisSentinel: readonly HostPort[] | undefined;
  /** The master group the sentinels monitor. */
  readonly redisSentinelName: string;
  /** AUTH password of the Redis servers (a password in redisUrl wins). */
  readonly redisPassword: string | undefined;
  readonly redisSentinelPassword: string | undefined;
  readonly redisPrefix: string;
  readonly apiToken: string | undefined;
  readonly subjectRoot: string;
  readonly stream: string;
  readonly consumer: string;
  readonly streamMaxAgeSeconds: number;
  readonly streamMaxBytes: number;
  readonly streamReplicas: number;
  readonly rolloutQuietMs: number;
  readonly podSeriesExpiryMs: number;
  readonly deadLetterMax: number;
  readonly ackWaitMs: number;
  /** ms a pull request waits on the consumer's leader; its idle heartbeat is half of it. */
  readonly pullExpiryMs: number;
  readonly fetchBatch: number;
  readonly applyLingerMs: number;
  readonly retentionSeconds: number;
  readonly refreshIntervalMs: number;
  /** ms before a Redis loss whose acknowledged events are applied again once it is back; 0 = off. */
  readonly redisReplayWindowMs: number;
  readonly gate: number;
  /** OTLP/HTTP base URL (OTEL_EXPORTER_OTLP_ENDPOINT); `/v1/traces` is appended. */
  readonly otlpEndpoint: string | undefined;
  /** OTLP/HTTP traces URL as given (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); wins over otlpEndpoint. */
  readonly otlpTracesEndpoint: string | undefined;
  /** OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL; default http/protobuf. */
  readonly otlpProtocol: OtlpProtocol;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
}

/** The flags of `drainwatch collector`, as commander parsed them (strings unless noted). */
export interface CollectorFlags {
  readonly listen?: string;
  readonly natsUrl?: string;
  readonly redisUrl?: string;
  readonly redisCluster?: string;
  readonly redisSentinel?: string;
  readonly redisSentinelName?: string;
  readonly redisPassword?: string;
  readonly redisSentinelPassword?: string;
  readonly redisPrefix?: string;
  readonly apiToken?: string;
  readonly subjectRoot?: string;
  readonly stream?: string;
  readonly consumer?: string;
  readonly streamMaxAge?: string | number;
  readonly retention?: string | number;
  readonly streamMaxBytes?: string | number;
  readonly streamReplicas?: string | number;
  readonly rolloutQuiet?: string | number;
  readonly podSeriesExpiry?: string | number;
  readonly deadLetterMax?: string | number;
  readonly ackWait?: string | number;
  readonly pullExpiry?: string | number;
  readonly applyLinger?: string | number;
  readonly refreshInterval?: string | number;
  readonly redisReplayWindow?: string | number;
  readonly gate?: string | number;
  readonly logLevel?: string;
  readonly logFormat?: string;
}

/** Environment variable of each setting (the names docs/architecture.md §3 fixes, plus the collector's own). */
export const COLLECTOR_ENV = {
  listen: 'DRAINWATCH_LISTEN',
  natsUrl: 'NATS_URL',
  redisUrl: 'REDIS_URL',
  redisCluster: REDIS_TARGET_SETTINGS.cluster.env,
  redisSentinel: REDIS_TARGET_SETTINGS.sentinel.env,
  redisSentinelName: REDIS_TARGET_SETTINGS.sentinelName.env,
  redisPassword: REDIS_TARGET_SETTINGS.password.env,
  redisSentinelPassword: REDIS_TARGET_SETTINGS.sentinelPassword.env,
  redisPrefix: 'DRAINWATCH_REDIS_PREFIX',
  apiToken: 'DRAINWATCH_API_TOKEN',
  subjectRoot: 'DRAINWATCH_SUBJECT_ROOT',
  stream: 'DRAINWATCH_STREAM',
  consumer: 'DRAINWATCH_CONSUMER',
  streamMaxAge: 'DRAINWATCH_STREAM_MAX_AGE',
  retention: 'DRAINWATCH_RETENTION',
  streamMaxBytes: 'DRAINWATCH_STREAM_MAX_BYTES',
  streamReplicas: 'DRAINWATCH_STREAM_REPLICAS',
  rolloutQuiet: 'DRAINWATCH_ROLLOUT_QUIET',
  podSeriesExpiry: 'DRAINWATCH_POD_SERIES_EXPIRY',
  deadLetterMax: 'DRAINWATCH_DEAD_LETTER_MAX',
  ackWait: 'DRAINWATCH_ACK_WAIT',
  pullExpiry: 'DRAINWATCH_PULL_EXPIRY',
  applyLinger: 'DRAINWATCH_APPLY_LINGER',
  refreshInterval: 'DRAINWATCH_REFRESH_INTERVAL',
  redisReplayWindow: 'DRAINWATCH_REDIS_REPLAY_WINDOW',
  gate: 'DRAINWATCH_GATE',
  otlpEndpoint: OTLP_ENDPOINT_ENV,
  otlpTracesEndpoint: OTLP_TRACES_ENDPOINT_ENV,
  logLevel: 'DRAINWATCH_LOG_LEVEL',
  logFormat: 'DRAINWATCH_LOG_FORMAT',
} as const;

type Env = Readonly<Record<string, string | undefined>>;

function pick(flag: string | number | undefined, env: Env, name: string): string | undefined {
  if (flag !== undefined && flag !== '') return String(flag);
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** `host:port`, `[v6]:port` or `:port`; throws CollectorConfigError naming `setting`. */
export function parseListen(setting: string, value: string): ListenAddress {
  try {
    return parseHostPort(setting, value);
  } catch (err) {
    if (err instanceof InvalidValueError) throw new CollectorConfigError(setting, err.detail);
    throw err;
  }
}

function flagOf(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * Reads the collector's settings (flag > env > COLLECTOR_DEFAULTS) and the cross-field rules.
 * Throws CollectorConfigError naming the setting (`ENV (--flag)`), or InvalidSettingsError naming
 * every bad one when there are several.
 */
export function loadCollectorConfig(flags: CollectorFlags = {}, env: Env = process.env): CollectorConfig {
  const D = COLLECTOR_DEFAULTS;
  const E = COLLECTOR_ENV;
  const issues = createSettingIssues((setting, detail) => {
    const key = (Object.keys(E) as (keyof typeof E)[]).find((k) => E[k] === setting);
    // OTEL_* and the retention (env only, docs/collector.md) have no flag.
    const flag = key && !key.startsWith('otlp') && key !== 'retention' ? flagOf(key) : undefined;
    return new CollectorConfigError(setting, detail, flag);
  });
  const get = <T>(key: keyof CollectorFlags & keyof typeof E, parse: (s: string, v: string) => T) => {
    const v = pick(flags[key], env, E[key]);
    return v === undefined ? undefined : issues.value<T | undefined>(E[key], (s) => parse(s, v), undefined);
  };
  const rawAge = get('streamMaxAge', positiveDurationMs);
  const retention = get('retention', positiveDurationMs);
  const otlp = readOtlpEnv(env, issues);
  const config: CollectorConfig = {
    listen: get('listen', parseHostPort) ?? parseHostPort('', D.listen),
    natsUrl: get('natsUrl', (s, v) => parseUrlList(s, v, ['nats', 'tls'])) ?? D.natsUrl,
    redisUrl: get('redisUrl', (s, v) => parseUrl(s, v, ['redis', 'rediss'])) ?? D.redisUrl,
    redisCluster: get('redisCluster', parseHostPortList),
    redisSentinel: get('redisSentinel', parseHostPortList),
    redisSentinelName: pick(flags.redisSentinelName, env, E.redisSentinelName) ?? D.redisSentinelName,
    redisPassword: pick(flags.redisPassword, env, E.redisPassword),
    redisSentinelPassword: pick(flags.redisSentinelPassword, env, E.redisSentinelPassword),
    redisPrefix: pick(flags.redisPrefix, env, E.redisPrefix) ?? D.redisPrefix,
    apiToken: pick(flags.apiToken, env, E.apiToken),
    subjectRoot: get('subjectRoot', named('subject root (dot-separated NATS tokens)', true)) ?? D.subjectRoot,
    stream: get('stream', named('stream name', false)) ?? D.stream,
    consumer: get('consumer', named('consumer name', false)) ?? D.consumer,
    streamMaxAgeSeconds: rawAge !== undefined ? Math.ceil(rawAge / 1000) : D.streamMaxAgeSeconds,
    streamMaxBytes: get('streamMaxBytes', bytes) ?? D.streamMaxBytes,
    streamReplicas: get('streamReplicas', streamReplicas) ?? D.streamReplicas,
    rolloutQuietMs: get('rolloutQuiet', positiveDurationMs) ?? D.rolloutQuietMs,
    podSeriesExpiryMs: get('podSeriesExpiry', positiveDurationMs) ?? D.podSeriesExpiryMs,
    deadLetterMax: get('deadLetterMax', parsePositiveInt) ?? D.deadLetterMax,
    ackWaitMs: get('ackWait', positiveDurationMs) ?? D.ackWaitMs,
    pullExpiryMs: get('pullExpiry', positiveDurationMs) ?? D.pullExpiryMs,
    fetchBatch: D.fetchBatch,
    // 0 is allowed: every batch is applied as soon as a message is there.
    applyLingerMs: get('applyLinger', parseDurationMs) ?? D.applyLingerMs,
    retentionSeconds: retention !== undefined ? Math.ceil(retention / 1000) : D.retentionSeconds,
    refreshIntervalMs: get('refreshInterval', positiveDurationMs) ?? D.refreshIntervalMs,
    // 0 is allowed: it turns the replay off.
    redisReplayWindowMs: get('redisReplayWindow', parseDurationMs) ?? D.redisReplayWindowMs,
    gate: get('gate', parseScore) ?? D.gate,
    otlpEndpoint: otlp.endpoint,
    otlpTracesEndpoint: otlp.tracesEndpoint,
    otlpProtocol: otlp.protocol,
    logLevel: get('logLevel', choice(parseLogLevel, LOG_LEVELS)) ?? D.logLevel,
    logFormat: get('logFormat', choice(parseLogFormat, LOG_FORMATS)) ?? D.logFormat,
  };
  // Cross-field rules: checked here so a bad combination fails at start-up, not mid-rollout.
  const conflict = redisTargetConflict({
    url: pick(flags.redisUrl, env, E.redisUrl) !== undefined,
    cluster: pick(flags.redisCluster, env, E.redisCluster) !== undefined,
    sentinel: pick(flags.redisSentinel, env, E.redisSentinel) !== undefined,
  });
  if (conflict) issues.add(conflict.setting.env, conflict.detail);
  // At most an hour: an event left unacknowledged by a crashed replica waits this long for another
  // (and JetStream's nanosecond durations overflow long before a user would notice).
  if ((config.ackWaitMs < 1000 || config.ackWaitMs > MAX_ACK_WAIT_MS) && !issues.has(E.ackWait)) {
    issues.add(E.ackWait, `must be from 1s to 1h, got ${config.ackWaitMs} ms`);
  }
  // nats.js refuses a pull expiry under 1 s (it would fail at start-up, after connecting) and clamps
  // the heartbeat, half of it, at 30 s; a longer one only delays noticing a lost pull request.
  if ((config.pullExpiryMs < 1000 || config.pullExpiryMs > MAX_PULL_EXPIRY_MS) && !issues.has(E.pullExpiry)) {
    issues.add(E.pullExpiry, `must be from 1s to 60s, got ${config.pullExpiryMs} ms`);
  }
  if (config.applyLingerMs > MAX_APPLY_LINGER_MS && !issues.has(E.applyLinger)) {
    issues.add(E.applyLinger, `must be from 0 to 1s, got ${config.applyLingerMs} ms`);
  } else if (
    config.applyLingerMs > config.ackWaitMs / 2 &&
    !issues.has(E.applyLinger) &&
    !issues.has(E.ackWait)
  ) {
    // A message waits out the linger unacknowledged: near the ack wait, JetStream would deliver it
    // again while its batch is still being applied (harmless, applying is idempotent, but wasted).
    issues.add(
      E.applyLinger,
      `must be at most half the ack wait (${E.ackWait}, ${config.ackWaitMs} ms), got ${config.applyLingerMs} ms`,
    );
  }
  if (config.podSeriesExpiryMs < config.refreshIntervalMs && !issues.has(E.podSeriesExpiry)) {
    issues.add(
      E.podSeriesExpiry,
      `must be at least the refresh interval (${E.refreshInterval}, ${config.refreshIntervalMs} ms), got ${config.podSeriesExpiryMs} ms`,
    );
  }
  // An event kept in the stream longer than its id is remembered could be applied twice on replay.
  const shortRetention = config.retentionSeconds < config.streamMaxAgeSeconds;
  if (shortRetention && retention !== undefined && !issues.has(E.streamMaxAge)) {
    issues.add(
      E.retention,
      `must be at least the stream max age (${config.streamMaxAgeSeconds} s), got ${config.retentionSeconds} s`,
    );
  }
  issues.throwIfAny();
  return shortRetention ? { ...config, retentionSeconds: config.streamMaxAgeSeconds } : config;
}
