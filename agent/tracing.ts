import type { Attributes, Span, Tracer } from '@opentelemetry/api';
import { DEFAULT_OTLP_PROTOCOL, type OtlpProtocol, otlpTracesUrl } from '../lib/otlp.js';
import type { AgentIdentity } from './config.js';

// One span per pod termination (prestop → draining → exited), exported over OTLP/HTTP only when
// OTEL_EXPORTER_OTLP_ENDPOINT is set. The SDK is loaded lazily so an agent without tracing pays
// neither its start-up time nor its memory, and nothing is registered globally.

export interface TerminationTracing {
  /** Starts the termination span (once); later calls are no-ops. */
  begin(phase: string, attributes?: Attributes): void;
  event(name: string, attributes?: Attributes): void;
  /** Ends the span and exports it; bounded by timeoutMs. */
  finish(timeoutMs: number): Promise<void>;
}

const NOOP: TerminationTracing = {
  begin() {},
  event() {},
  finish: () => Promise.resolve(),
};

/**
 * `endpoint` is OTEL_EXPORTER_OTLP_ENDPOINT (`/v1/traces` appended), `tracesEndpoint`
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (as given, wins), `protocol` OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL
 * (lib/otlp.ts; gRPC appends no path). OTEL_SERVICE_NAME and
 * OTEL_RESOURCE_ATTRIBUTES are read by the SDK's envDetector and win over the defaults below;
 * OTEL_TRACES_SAMPLER by the tracer provider's own defaults.
 */
export async function createTerminationTracing(
  endpoint: string | undefined,
  identity: AgentIdentity,
  version: string,
  tracesEndpoint?: string,
  protocol: OtlpProtocol = DEFAULT_OTLP_PROTOCOL,
): Promise<TerminationTracing> {
  const url = otlpTracesUrl(protocol, endpoint, tracesEndpoint);
  if (!url) return NOOP;
  const [
    { BasicTracerProvider, SimpleSpanProcessor },
    { detectResources, envDetector, resourceFromAttributes },
    { createOtlpTraceExporter },
  ] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
    import('../lib/otlp-exporter.js'),
  ]);
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': 'drainwatch-agent',
      'service.version': version,
      'k8s.pod.name': identity.pod,
      'k8s.namespace.name': identity.namespace,
      'drainwatch.workload': identity.workload,
      ...(identity.nodeName ? { 'k8s.node.name': identity.nodeName } : {}),
    }).merge(detectResources({ detectors: [envDetector] })),
    spanProcessors: [new SimpleSpanProcessor(createOtlpTraceExporter(protocol, url))],
  });
  const tracer: Tracer = provider.getTracer('drainwatch-agent', version);
  let span: Span | undefined;
  let finishing: Promise<void> | undefined;

  return {
    begin(phase, attributes) {
      if (span) return;
      span = tracer.startSpan('pod termination', {
        attributes: { 'drainwatch.started_phase': phase, 'k8s.pod.name': identity.pod, ...attributes },
      });
    },
    event(name, attributes) {
      span?.addEvent(name, attributes);
    },
    finish(timeoutMs) {
      finishing ??= (async () => {
        span?.end();
        const flushed = provider.forceFlush().then(() => provider.shutdown());
        await Promise.race([
          flushed.catch(() => undefined),
          new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref()),
        ]);
      })();
      return finishing;
    },
  };
}
