import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { OtlpProtocol } from './otlp.js';

// The OTLP trace exporters, apart from the settings (otlp.ts): the agent imports this module only
// when an endpoint is configured (agent/tracing.ts), so a sidecar without tracing never loads
// gRPC, protobuf or the exporters (about 15 MB of RSS, test/unit/agent-no-zod.test.ts).

/** A span exporter for `protocol` sending to `url`. */
export function createOtlpTraceExporter(protocol: OtlpProtocol, url: string): SpanExporter {
  if (protocol === 'grpc') return new GrpcExporter({ url });
  if (protocol === 'http/json') return new JsonExporter({ url });
  return new ProtoExporter({ url });
}
