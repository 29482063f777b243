import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createCollectorMetrics } from '../../collector/metrics.js';
import { computeReport } from '../../collector/report.js';
import { DRAIN_METRICS, grpcStatusName } from '../../contract/index.js';
import { at, emptyFacts, ms, podEvent, probeEvent } from '../helpers/report-facts.js';
import { SAMPLE_DATA } from '../helpers/sample-events.js';

// The probes' gRPC figures of a closed rollout (report.grpc) reach the counters with the status
// names of the gRPC spec, once per closed rollout, the baseline's calls left out.

const call = (s: number, grpcStatus: number, extra: Record<string, unknown> = {}) =>
  probeEvent('probe.request', s, {
    probeId: `g-${s}`,
    route: '/quote.Quotes/Get',
    method: 'POST',
    ok: grpcStatus === 0,
    status: 200,
    error: grpcStatus === 0 ? undefined : 'reset',
    grpcStatus,
    pod: grpcStatus === 14 ? undefined : 'web-1',
    startedAt: at(s),
    durationMs: 5,
    ...extra,
  });

const cut = (s: number, connectionId: string) =>
  probeEvent('probe.websocket', s, {
    transport: 'grpc',
    event: 'stream-ended',
    end: 'cut',
    connectionId,
    at: at(s),
    pod: 'web-1',
    code: undefined,
  });

function grpcReport() {
  return computeReport(
    emptyFacts({
      terminations: [{ pod: 'web-1', instance: 'agent-1', startMs: ms(10) }],
      // c-1's stream, per its agent: cut with its connection, no GOAWAY sent first.
      agentRequests: new Map([
        [
          'c-1',
          {
            ...SAMPLE_DATA.request,
            protocol: 'h2',
            outcome: 'upstream-reset',
            goaway: false,
            connection: 'new',
            startedAt: at(5),
            pod: 'web-1',
            instance: 'agent-1',
            time: at(12),
          },
        ],
      ]),
      timelines: new Map([['web-1', [podEvent('sigterm', 10), podEvent('app.exited', 12, { code: 0 })]]]),
      probes: [
        // Baseline: ended before the first termination; the app's own, not the rollout's.
        call(2, 14),
        call(3, 0),
        call(11, 0),
        call(11.5, 0),
        call(12.2, 14),
        call(12.4, 14),
        call(13, 4),
        call(14, 0),
        cut(12.1, 'c-1'),
        cut(12.1, 'c-2'),
      ],
    }),
  );
}

async function samples(registry: Registry, name: string): Promise<Record<string, number>> {
  const m = registry.getSingleMetric(name);
  const out: Record<string, number> = {};
  for (const v of (await m!.get()).values) {
    const { namespace, workload, ...rest } = v.labels as Record<string, string>;
    expect(`${namespace}/${workload}`).toBe('shop/quote');
    out[Object.values(rest).join(',')] = v.value;
  }
  return out;
}

describe('collector metrics: the probes gRPC calls and cut streams of a closed rollout', () => {
  it('status numbers are named as the gRPC spec names them; unknown ones keep their number', () => {
    expect(grpcStatusName(0)).toBe('OK');
    expect(grpcStatusName('14')).toBe('UNAVAILABLE');
    expect(grpcStatusName(16)).toBe('UNAUTHENTICATED');
    expect(grpcStatusName(42)).toBe('42');
  });

  it('recordClosed adds report.grpc: calls by status name, cut streams by cause', async () => {
    const report = grpcReport();
    expect(report.grpc).toMatchObject({ calls: 6, unavailable: 2, failedByStatus: { '14': 2, '4': 1 } });
    const registry = new Registry();
    const metrics = createCollectorMetrics(registry, { podSeriesExpiryMs: 60_000 });
    metrics.recordClosed(report, Date.now());
    expect(await samples(registry, DRAIN_METRICS.probeGrpcCalls.name)).toEqual({
      OK: 3,
      UNAVAILABLE: 2,
      DEADLINE_EXCEEDED: 1,
    });
    expect(await samples(registry, DRAIN_METRICS.probeGrpcStreamsCut.name)).toEqual({
      'no-goaway': 1,
      'never-reached-pod': 1,
    });
  });

  it('a rollout without gRPC calls creates no gRPC series', async () => {
    const registry = new Registry();
    createCollectorMetrics(registry, { podSeriesExpiryMs: 60_000 }).recordClosed(
      computeReport(emptyFacts()),
      Date.now(),
    );
    expect(await samples(registry, DRAIN_METRICS.probeGrpcCalls.name)).toEqual({});
    expect(await samples(registry, DRAIN_METRICS.probeGrpcStreamsCut.name)).toEqual({});
  });
});
