import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Collector, createCollector } from '../../collector/index.js';
import type { AnyEvent, EventKind } from '../../contract/index.js';
import { createEventSequencer, type EventData } from '../../contract/validate.js';
import { pollUntil } from '../../lib/wait.js';
import { type CollectorEnv, startCollectorEnv } from '../helpers/collector-harness.js';
import { publishAll } from '../helpers/collector-scenario.js';
import { SAMPLE_DATA } from '../helpers/sample-events.js';

// A gRPC rollout through the real collector (NATS JetStream, Redis): when it closes, /metrics
// carries the report's gRPC figures in drainwatch_probe_grpc_* (the baseline's call left out).

const NS = 'shop';
const WL = 'quote-grpc';

function grpcRollout(t0Ms: number): { rolloutId: string; events: AnyEvent[] } {
  const rolloutId = `ro-grpc-${t0Ms}`;
  const at = (s: number) => new Date(t0Ms + s * 1000);
  const events: AnyEvent[] = [];
  const control = createEventSequencer({ namespace: NS, workload: WL, pod: null });
  const pod = createEventSequencer({ namespace: NS, workload: WL, pod: 'quote-grpc-a' });
  const emit = <K extends EventKind>(seq: typeof control, kind: K, data: EventData<K>, s: number) => {
    events.push(seq.next(kind, data, at(s)) as AnyEvent);
  };
  const call = (s: number, grpcStatus: number, podName?: string) =>
    emit(
      control,
      'probe.request',
      {
        probeId: `g-${s}`,
        runId: 'run-g',
        sessionId: 's1',
        kind: 'traffic',
        method: 'POST',
        route: '/quote.Quotes/Get',
        ok: grpcStatus === 0,
        status: 200,
        ...(grpcStatus === 0 ? {} : { error: 'reset' as const }),
        grpcStatus,
        connection: 'reused',
        startedAt: at(s).toISOString(),
        durationMs: 4,
        ...(podName ? { pod: podName } : {}),
      },
      s,
    );

  call(-20, 14); // the baseline's: before the first termination
  emit(control, 'rollout.started', { ...SAMPLE_DATA['rollout.started'], rolloutId }, 0);
  emit(pod, 'agent.started', SAMPLE_DATA['agent.started'], -100);
  emit(pod, 'prestop.started', SAMPLE_DATA['prestop.started'], 5);
  emit(pod, 'sigterm', { appRunning: true, phase: 'draining', inFlight: 1, websockets: 0 }, 6);
  emit(
    pod,
    'app.exited',
    { code: 0, signal: null, killedAtGrace: false, detectedBy: 'process', inFlight: 0 },
    7,
  );
  call(6, 0, 'quote-grpc-a');
  call(6.5, 0, 'quote-grpc-a');
  call(7.5, 14);
  call(8, 14);
  call(9, 4, 'quote-grpc-b');
  call(10, 0, 'quote-grpc-b');
  emit(
    control,
    'probe.websocket',
    {
      runId: 'run-g',
      sessionId: 's1',
      connectionId: 'stream-1',
      transport: 'grpc',
      event: 'stream-ended',
      end: 'cut',
      pod: 'quote-grpc-a',
      at: at(7).toISOString(),
    },
    7,
  );
  emit(control, 'rollout.finished', { rolloutId, outcome: 'complete', podsReplaced: 1 }, 20);
  return { rolloutId, events };
}

describe('collector: a closed gRPC rollout feeds the probe gRPC counters', () => {
  let env: CollectorEnv;
  let collector: Collector;
  let base: string;

  beforeAll(async () => {
    env = await startCollectorEnv();
    collector = createCollector(env.config(), { nats: env.nc, redis: env.redis });
    const { http } = await collector.start();
    base = `http://127.0.0.1:${http.port}`;
  });

  afterAll(async () => {
    await collector?.stop();
    await env?.stop();
  });

  it('calls by status name and cut streams by cause equal report.grpc', async () => {
    const { rolloutId, events } = grpcRollout(Date.now() - 60_000);
    await publishAll(env.nc, events, env.ns.subjectRoot);
    await collector.drain(30_000);
    const report = await pollUntil(() => collector.store.getReport(rolloutId), {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: `report of ${rolloutId}`,
    });
    expect(report.outcome).toBe('complete');
    expect(report.grpc).toMatchObject({ calls: 6, unavailable: 2, failedByStatus: { '14': 2, '4': 1 } });
    const cut = Object.entries(report.grpc!.streamsCutByCause).filter(([, n]) => n > 0);
    expect(cut).toHaveLength(1);

    const metrics = await (await fetch(`${base}/metrics`)).text();
    const series = (name: string) =>
      Object.fromEntries(
        metrics
          .split('\n')
          .filter((l) => l.startsWith(`${name}{`))
          .map((l) => {
            const labels = l.slice(l.indexOf('{') + 1, l.indexOf('}'));
            expect(labels).toContain(`namespace="${NS}",workload="${WL}"`);
            return [labels.split(',').at(-1)!, Number(l.split(' ').at(-1))];
          }),
      );
    expect(series('drainwatch_probe_grpc_calls_total')).toEqual({
      'code="OK"': 3,
      'code="UNAVAILABLE"': 2,
      'code="DEADLINE_EXCEEDED"': 1,
    });
    expect(series('drainwatch_probe_grpc_streams_cut_total')).toEqual({ [`cause="${cut[0]![0]}"`]: 1 });
  });
});
