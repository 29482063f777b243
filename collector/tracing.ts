import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { core, resources, tracing } from '@opentelemetry/sdk-node';
import { DEFAULT_OTLP_PROTOCOL, type OtlpProtocol, otlpTracesUrl } from '../lib/otlp.js';
import { createOtlpTraceExporter } from '../lib/otlp-exporter.js';
import type { RolloutReport } from './report-types.js';

// One trace per rollout, one child span per pod termination, emitted when the rollout closes (the
// times come from the events, so the trace shows the rollout as it happened). A private tracer
// provider: the collector never touches the process-global OTel state.

export interface RolloutTracer {
  record(report: RolloutReport): void;
  stop(): Promise<void>;
}

const NOOP: RolloutTracer = { record() {}, stop: async () => {} };

/**
 * The standard OpenTelemetry environment, read by the SDK's own code where it has it:
 * OTEL_SDK_DISABLED (core.getBooleanFromEnv), OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
 * (resources.envDetector; they win over the `drainwatch-collector` default), OTEL_TRACES_SAMPLER
 * and its _ARG (the tracer provider's default config). Traces go over `protocol` (http/protobuf,
 * http/json or grpc) to
 * `tracesEndpoint` as given (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), else `endpoint` + `/v1/traces`
 * (OTEL_EXPORTER_OTLP_ENDPOINT), per the OTLP exporter spec; with neither, nothing is exported.
 */
export function createRolloutTracer(options: {
  endpoint: string | undefined;
  tracesEndpoint?: string | undefined;
  serviceName?: string;
  /** OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL (lib/otlp.ts); default http/protobuf. */
  protocol?: OtlpProtocol;
}): RolloutTracer {
  if (core.getBooleanFromEnv('OTEL_SDK_DISABLED')) return NOOP;
  const protocol = options.protocol ?? DEFAULT_OTLP_PROTOCOL;
  const url = otlpTracesUrl(protocol, options.endpoint, options.tracesEndpoint);
  if (!url) return NOOP;
  const exporter = createOtlpTraceExporter(protocol, url);
  const fromEnv = resources.detectResources({ detectors: [resources.envDetector] });
  const provider = new tracing.BasicTracerProvider({
    resource: resources
      .defaultResource()
      .merge(
        resources.resourceFromAttributes({ 'service.name': options.serviceName ?? 'drainwatch-collector' }),
      )
      .merge(fromEnv),
    spanProcessors: [new tracing.BatchSpanProcessor(exporter, { scheduledDelayMillis: 500 })],
  });
  const tracer = provider.getTracer('drainwatch-collector');
  let stopping: Promise<void> | undefined;
  return {
    record(r) {
      const start = Date.parse(r.startedAt);
      const end = r.finishedAt ? Date.parse(r.finishedAt) : Date.now();
      const root = tracer.startSpan(`rollout ${r.namespace}/${r.workload}`, {
        kind: SpanKind.INTERNAL,
        startTime: start,
        root: true,
        attributes: {
          'drainwatch.rollout.id': r.rolloutId,
          'drainwatch.namespace': r.namespace,
          'drainwatch.workload': r.workload,
          'drainwatch.outcome': r.outcome,
          'drainwatch.pods_replaced': r.podsReplaced,
          'drainwatch.probe_requests.failed': r.probeRequests.failed,
          'drainwatch.sessions.lost': r.sessions.lost,
        },
      });
      // Children hang off the root in a context of their own, never off whatever is active.
      const ctx = trace.setSpan(ROOT_CONTEXT, root);
      for (const t of r.terminations) {
        const tStart = Date.parse(t.startedAt);
        const tEnd = t.exitedAt ? Date.parse(t.exitedAt) : end;
        const span = tracer.startSpan(
          `termination ${t.pod}`,
          {
            startTime: tStart,
            attributes: {
              'k8s.pod.name': t.pod,
              'drainwatch.clean': t.clean,
              'drainwatch.unclean_reasons': t.uncleanReasons.join(','),
              'drainwatch.in_flight_cut': t.inFlightCut,
              'drainwatch.failed_probe_requests': t.failedProbeRequests,
              'drainwatch.killed_at_grace': t.killedAtGrace,
            },
          },
          ctx,
        );
        if (!t.clean) span.setStatus({ code: SpanStatusCode.ERROR, message: t.uncleanReasons.join(',') });
        span.end(Math.max(tEnd, tStart));
      }
      root.end(Math.max(end, start));
    },
    stop() {
      stopping ??= provider.forceFlush().then(() => provider.shutdown());
      return stopping;
    },
  };
}
