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
import {
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
import { CollectorConfigError } from './errors.js';

/** Every collector setting with its default; flag > env > default. */
export const COLLECTOR_DEFAULTS = {
  listen: '0.0.0.0:15090',
  natsUrl: 'nats://127.0.0.1:4222',
  redisUrl: 'redis://127.0.0.1:6379',
  redisPrefix: 'drainwatch:',
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
  fetchBatch: 500,
  /**
   * How long stored event data and applied event ids are kept after their last write. At least the
   * stream's max age, so a replay of the whole stream can never apply an event twice.
   */
  retentionSeconds: 7 * 24 * 3600,
  /** How often gauges (latest scores, open rollouts) are recomputed from Redis. */
  refreshIntervalMs: 10_000,
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
  readonly fetchBatch: number;
  readonly retentionSeconds: number;
  readonly refreshIntervalMs: number;
  readonly gate: number;
  /** OTLP/HTTP base URL; traces are exported only when it is set. */
  readonly otlpEndpoint: string | undefined;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
}

/** The flags of `drainwatch collector`, as commander parsed them (strings unless noted). */
export interface CollectorFlags {
  readonly listen?: string;
  readonly natsUrl?: string;
  readonly redisUrl?: string;
  readonly redisCluster?: string;
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
  readonly gate?: string | number;
  readonly logLevel?: string;
  readonly logFormat?: string;
}

/** Environment variable of each setting (the names docs/architecture.md §3 fixes, plus the collector's own). */
export const COLLECTOR_ENV = {
  listen: 'DRAINWATCH_LISTEN',
  natsUrl: 'NATS_URL',
  redisUrl: 'REDIS_URL',
  redisCluster: 'REDIS_CLUSTER_NODES',
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
  gate: 'DRAINWATCH_GATE',
  otlpEndpoint: 'OTEL_EXPORTER_OTLP_ENDPOINT',
  logLevel: 'DRAINWATCH_LOG_LEVEL',
  logFormat: 'DRAINWATCH_LOG_FORMAT',
} as const;

type Env = Readonly<Record<string, string | undefined>>;

function pick(flag: string | number | undefined, env: Env, name: string): string | undefined {
  if (flag !== undefined && flag !== '') return String(flag);
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** Runs a lib/values.ts grammar, turning its InvalidValueError into CollectorConfigError. */
function parsed<T>(setting: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof InvalidValueError) throw new CollectorConfigError(setting, err.detail);
    throw err;
  }
}

/** The shared duration grammar (a bare number is seconds), above zero. */
function durationMs(setting: string, value: string): number {
  const ms = parsed(setting, () => parseDurationMs(setting, value, 's'));
  if (ms <= 0) throw new CollectorConfigError(setting, `must be above zero, got ${value}`);
  return ms;
}

// Sizes are a grammar of the collector alone (JetStream's max bytes).
const SIZE: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

function bytes(setting: string, value: string): number {
  const m = /^(\d+)([kmg]?)i?b?$/i.exec(value.trim());
  if (!m) throw new CollectorConfigError(setting, `expected a size like 512m or 1g, got ${value}`);
  const n = Number(m[1]) * SIZE[m[2]!.toLowerCase()]!;
  if (n <= 0) throw new CollectorConfigError(setting, `must be above zero, got ${value}`);
  return n;
}

/** `host:port`, `[v6]:port` or `:port`; throws CollectorConfigError naming `setting`. */
export function parseListen(setting: string, value: string): ListenAddress {
  return parsed(setting, () => parseHostPort(setting, value));
}

function urlOf(setting: string, value: string, protocols: readonly string[]): string {
  return parsed(setting, () => parseUrl(setting, value, protocols));
}

const NAME = /^[A-Za-z0-9_-]+$/;

const FLAG_OF: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(COLLECTOR_ENV).map(([key, envName]) => [
    envName,
    `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`,
  ]),
);

/** Reads the collector's settings; throws one CollectorConfigError naming the first bad setting. */
export function loadCollectorConfig(flags: CollectorFlags = {}, env: Env = process.env): CollectorConfig {
  try {
    return load(flags, env);
  } catch (err) {
    // Name the flag too, as the user may have set either.
    if (
      err instanceof CollectorConfigError &&
      FLAG_OF[err.setting] &&
      err.setting !== COLLECTOR_ENV.otlpEndpoint
    ) {
      throw new CollectorConfigError(err.setting, err.detail, FLAG_OF[err.setting]);
    }
    throw err;
  }
}

function load(flags: CollectorFlags, env: Env): CollectorConfig {
  const D = COLLECTOR_DEFAULTS;
  const E = COLLECTOR_ENV;
  const get = (key: keyof CollectorFlags & keyof typeof E) => pick(flags[key], env, E[key]);

  const subjectRoot = get('subjectRoot') ?? D.subjectRoot;
  if (!subjectRoot.split('.').every((t) => NAME.test(t))) {
    throw new CollectorConfigError(E.subjectRoot, `expected dot-separated NATS tokens, got ${subjectRoot}`);
  }
  const stream = get('stream') ?? D.stream;
  if (!NAME.test(stream)) throw new CollectorConfigError(E.stream, `not a valid stream name: ${stream}`);
  const consumer = get('consumer') ?? D.consumer;
  if (!NAME.test(consumer))
    throw new CollectorConfigError(E.consumer, `not a valid consumer name: ${consumer}`);

  const rawAge = get('streamMaxAge');
  const rawQuiet = get('rolloutQuiet');
  const rawExpiry = get('podSeriesExpiry');
  const rawAck = get('ackWait');
  const config: CollectorConfig = {
    listen: parseListen(E.listen, get('listen') ?? D.listen),
    natsUrl: parsed(E.natsUrl, () => parseUrlList(E.natsUrl, get('natsUrl') ?? D.natsUrl, ['nats', 'tls'])),
    redisUrl: urlOf(E.redisUrl, get('redisUrl') ?? D.redisUrl, ['redis', 'rediss']),
    redisCluster: (() => {
      const v = get('redisCluster');
      return v ? parsed(E.redisCluster, () => parseHostPortList(E.redisCluster, v)) : undefined;
    })(),
    redisPrefix: get('redisPrefix') ?? D.redisPrefix,
    apiToken: get('apiToken'),
    subjectRoot,
    stream,
    consumer,
    streamMaxAgeSeconds: rawAge
      ? Math.ceil(durationMs(E.streamMaxAge, rawAge) / 1000)
      : D.streamMaxAgeSeconds,
    streamMaxBytes: (() => {
      const v = get('streamMaxBytes');
      return v ? bytes(E.streamMaxBytes, v) : D.streamMaxBytes;
    })(),
    streamReplicas: (() => {
      const v = get('streamReplicas');
      const n = v ? parsed(E.streamReplicas, () => parsePositiveInt(E.streamReplicas, v)) : D.streamReplicas;
      // JetStream's own limit: a stream has at most 5 replicas.
      if (n > 5)
        throw new CollectorConfigError(E.streamReplicas, `JetStream keeps at most 5 replicas, got ${n}`);
      return n;
    })(),
    rolloutQuietMs: rawQuiet ? durationMs(E.rolloutQuiet, rawQuiet) : D.rolloutQuietMs,
    podSeriesExpiryMs: rawExpiry ? durationMs(E.podSeriesExpiry, rawExpiry) : D.podSeriesExpiryMs,
    deadLetterMax: (() => {
      const v = get('deadLetterMax');
      return v ? parsed(E.deadLetterMax, () => parsePositiveInt(E.deadLetterMax, v)) : D.deadLetterMax;
    })(),
    ackWaitMs: rawAck ? durationMs(E.ackWait, rawAck) : D.ackWaitMs,
    fetchBatch: D.fetchBatch,
    retentionSeconds: (() => {
      const v = get('retention');
      return v ? Math.ceil(durationMs(E.retention, v) / 1000) : D.retentionSeconds;
    })(),
    refreshIntervalMs: D.refreshIntervalMs,
    gate: (() => {
      const v = get('gate');
      return v ? parsed(E.gate, () => parseScore(E.gate, v)) : D.gate;
    })(),
    otlpEndpoint: pick(undefined, env, E.otlpEndpoint),
    logLevel: (() => {
      const v = get('logLevel') ?? D.logLevel;
      const level = parseLogLevel(v);
      if (!level)
        throw new CollectorConfigError(E.logLevel, `expected one of ${LOG_LEVELS.join(', ')}, got ${v}`);
      return level;
    })(),
    logFormat: (() => {
      const v = get('logFormat') ?? D.logFormat;
      const format = parseLogFormat(v);
      if (!format)
        throw new CollectorConfigError(E.logFormat, `expected one of ${LOG_FORMATS.join(', ')}, got ${v}`);
      return format;
    })(),
  };
  if (config.otlpEndpoint) urlOf(E.otlpEndpoint, config.otlpEndpoint, ['http', 'https']);
  // Cross-field rules: checked here so a bad combination fails at start-up, not mid-rollout.
  if (config.redisCluster && get('redisUrl') !== undefined) {
    throw new CollectorConfigError(
      E.redisCluster,
      `names a Redis Cluster, and ${E.redisUrl} (--redis-url) a single Redis: set one of them`,
    );
  }
  if (config.ackWaitMs < 1000) {
    throw new CollectorConfigError(E.ackWait, `must be at least 1s, got ${config.ackWaitMs} ms`);
  }
  if (config.podSeriesExpiryMs < config.refreshIntervalMs) {
    throw new CollectorConfigError(
      E.podSeriesExpiry,
      `must be at least the ${config.refreshIntervalMs} ms refresh interval, got ${config.podSeriesExpiryMs} ms`,
    );
  }
  // An event kept in the stream longer than its id is remembered could be applied twice on replay.
  if (config.retentionSeconds < config.streamMaxAgeSeconds) {
    if (get('retention') !== undefined) {
      throw new CollectorConfigError(
        E.retention,
        `must be at least the stream max age (${config.streamMaxAgeSeconds} s), got ${config.retentionSeconds} s`,
      );
    }
    return { ...config, retentionSeconds: config.streamMaxAgeSeconds };
  }
  return config;
}
