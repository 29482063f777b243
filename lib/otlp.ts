import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { parseChoice } from './values.js';

// The OTLP trace exporter the standard environment asks for, shared by the agent and the collector
// (OpenTelemetry "OTLP Exporter Configuration": OTEL_EXPORTER_OTLP_TRACES_PROTOCOL wins over
// OTEL_EXPORTER_OTLP_PROTOCOL; default http/protobuf).

export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json', 'grpc'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];
export const OTLP_PROTOCOL_ENV = 'OTEL_EXPORTER_OTLP_PROTOCOL';
export const OTLP_TRACES_PROTOCOL_ENV = 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL';
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

/** A span exporter for `protocol` sending to `url`. */
export function createOtlpTraceExporter(protocol: OtlpProtocol, url: string): SpanExporter {
  if (protocol === 'grpc') return new GrpcExporter({ url });
  if (protocol === 'http/json') return new JsonExporter({ url });
  return new ProtoExporter({ url });
}
