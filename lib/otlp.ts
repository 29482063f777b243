import { parseChoice, parseUrl, type SettingIssues } from './values.js';

// The OTLP trace exporter the standard environment asks for, shared by the agent and the collector
// (OpenTelemetry "OTLP Exporter Configuration": OTEL_EXPORTER_OTLP_TRACES_PROTOCOL wins over
// OTEL_EXPORTER_OTLP_PROTOCOL; default http/protobuf). Settings only: the exporters themselves are
// in otlp-exporter.ts, because loading them (gRPC and protobuf included) costs every agent sidecar
// about 15 MB of RSS whether or not tracing is on.

export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json', 'grpc'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];
export const OTLP_PROTOCOL_ENV = 'OTEL_EXPORTER_OTLP_PROTOCOL';
export const OTLP_TRACES_PROTOCOL_ENV = 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL';
export const OTLP_ENDPOINT_ENV = 'OTEL_EXPORTER_OTLP_ENDPOINT';
export const OTLP_TRACES_ENDPOINT_ENV = 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT';
/** The spec's default protocol for SDKs. */
export const DEFAULT_OTLP_PROTOCOL: OtlpProtocol = 'http/protobuf';

/** Which variable sets the protocol, and its value (the traces-specific one wins); none when unset. */
export function otlpProtocolSetting(
  env: Readonly<Record<string, string | undefined>>,
): { readonly env: string; readonly value: string } | undefined {
  for (const name of [OTLP_TRACES_PROTOCOL_ENV, OTLP_PROTOCOL_ENV]) {
    const value = env[name]?.trim();
    if (value) return { env: name, value };
  }
  return undefined;
}

/** One of OTLP_PROTOCOLS. Throws InvalidValueError (lib/values.ts) naming the supported values. */
export function parseOtlpProtocol(setting: string, value: string): OtlpProtocol {
  return parseChoice(setting, value, OTLP_PROTOCOLS);
}

/** The OTLP trace exporter's settings as the standard environment gives them. */
export interface OtlpEnvSettings {
  /** OTEL_EXPORTER_OTLP_ENDPOINT: the base URL; undefined when unset or empty. */
  readonly endpoint: string | undefined;
  /** OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: the traces URL as given; wins over `endpoint`. */
  readonly tracesEndpoint: string | undefined;
  /** OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL; default http/protobuf. */
  readonly protocol: OtlpProtocol;
}

/**
 * Reads the OTLP exporter variables of `env` for the agent and the collector alike. Each bad one
 * (an endpoint that is not an http or https URL, an unknown protocol) is recorded in `issues`
 * under its variable's name; the protocol then falls back to the default.
 */
export function readOtlpEnv(
  env: Readonly<Record<string, string | undefined>>,
  issues: SettingIssues,
): OtlpEnvSettings {
  const url = (name: string): string | undefined => {
    const v = env[name];
    if (v === undefined || v === '') return undefined;
    issues.value(name, (s) => parseUrl(s, v, ['http', 'https']), '');
    return v;
  };
  const protocolSetting = otlpProtocolSetting(env);
  return {
    endpoint: url(OTLP_ENDPOINT_ENV),
    tracesEndpoint: url(OTLP_TRACES_ENDPOINT_ENV),
    protocol: protocolSetting
      ? issues.value(
          protocolSetting.env,
          (s) => parseOtlpProtocol(s, protocolSetting.value),
          DEFAULT_OTLP_PROTOCOL,
        )
      : DEFAULT_OTLP_PROTOCOL,
  };
}

/**
 * The traces URL: `tracesEndpoint` as given, else `endpoint` + `/v1/traces` for the HTTP
 * protocols, or `endpoint` itself for gRPC (the spec appends no path there); undefined without one.
 */
export function otlpTracesUrl(
  protocol: OtlpProtocol,
  endpoint: string | undefined,
  tracesEndpoint: string | undefined,
): string | undefined {
  if (tracesEndpoint) return tracesEndpoint;
  if (!endpoint) return undefined;
  return protocol === 'grpc' ? endpoint : `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}
