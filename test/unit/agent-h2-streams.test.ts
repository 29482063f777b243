import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createAgentMetrics } from '../../agent/metrics.js';
import { createH2Streams } from '../../agent/proxy/h2-streams.js';
import { createTraffic } from '../../agent/traffic.js';
import { dataSchemas } from '../../contract/validate.js';

// The outcome of each HTTP/2 stream from the frames the relay saw, as request events that the
// contract's schema accepts.

function setup(quietWindow?: () => boolean) {
  const events: Record<string, unknown>[] = [];
  const registry = new Registry();
  const traffic = createTraffic({
    clock: { now: () => 1_700_000_000_000 },
    metrics: createAgentMetrics(registry),
    emit: (kind, data) => {
      if (kind === 'request') events.push(dataSchemas.request.parse(data));
    },
    idPrefix: 'p',
  });
  let idle = 0;
  const streams = createH2Streams(
    traffic,
    () => {
      idle += 1;
    },
    quietWindow,
  );
  return { events, traffic, streams, registry, idle: () => idle };
}

const req = (path: string) => [
  { name: ':method', value: 'POST' },
  { name: ':path', value: path },
  { name: 'authorization', value: 'Bearer secret' },
];

describe('HTTP/2 stream accounting', () => {
  it('a unary call with an OK trailer is ok; UNAVAILABLE in a trailers-only answer is a failure', () => {
    const { events, traffic, streams } = setup();
    streams.clientHeaders(1, req('/quote.Quotes/Get?x=1'), true);
    streams.appHeaders(1, [{ name: ':status', value: '200' }], false);
    streams.appHeaders(1, [{ name: 'grpc-status', value: '0' }], true);
    streams.clientHeaders(3, req('/quote.Quotes/Get'), true);
    streams.appHeaders(
      3,
      [
        { name: ':status', value: '200' },
        { name: 'grpc-status', value: '14' },
      ],
      true,
    );
    streams.flush();
    expect(traffic.totals().requests.serving).toBe(2);
    expect(traffic.totals().failed.serving).toBe(1);
    // Only the failure is an event; no metadata value travels in it.
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      route: '/quote.Quotes/Get',
      outcome: 'http-error',
      grpcStatus: 14,
      status: 200,
      protocol: 'h2',
      connection: 'reused',
    });
    expect(JSON.stringify(events)).not.toContain('secret');
  });

  it('END_STREAM and RST_STREAM in one read count as the reset; REFUSED_STREAM as refused', () => {
    const { events, streams } = setup();
    streams.clientHeaders(1, req('/a'), true);
    streams.appEnd(1);
    streams.reset(1, 'app', 2);
    streams.clientHeaders(3, req('/b'), false);
    streams.reset(3, 'app', 7);
    streams.flush();
    expect(events.map((e) => [e.route, e.outcome, e.rstCode])).toEqual([
      ['/a', 'upstream-reset', 2],
      ['/b', 'upstream-refused', 7],
    ]);
  });

  it("streams above the app's GOAWAY last stream id are refused; late after the pod left serving", () => {
    const { events, traffic, streams } = setup();
    streams.clientHeaders(1, req('/a'), true);
    traffic.setPhase('draining');
    streams.clientHeaders(3, req('/b'), true);
    streams.appGoaway(1);
    expect(events).toEqual([
      expect.objectContaining({ route: '/b', outcome: 'upstream-refused', lateArrival: true }),
    ]);
    expect(streams.open).toBe(1);
    // The connection then dies with stream 1 open: cut, after the app's GOAWAY.
    streams.closeAll('upstream-reset', true);
    expect(traffic.drainCounts()).toMatchObject({ inFlightAtSigterm: 1, inFlightCut: 1 });
    expect(events.at(-1)).toMatchObject({ route: '/a', outcome: 'upstream-reset', goaway: true });
  });

  it("a RST_STREAM NO_ERROR after the app's whole response only stops the upload: ok", () => {
    const { traffic, streams, idle } = setup();
    streams.clientHeaders(1, req('/upload'), false);
    streams.appHeaders(1, [{ name: 'grpc-status', value: '0' }], true);
    streams.reset(1, 'app', 0);
    streams.flush();
    expect(traffic.totals().failed.serving).toBe(0);
    expect(traffic.totals().requests.serving).toBe(1);
    expect(idle()).toBe(1);
  });

  it("a stream on a connection held through the preStop is counted but leaves the quiet window's last arrival", () => {
    let held = true;
    const { traffic, streams } = setup(() => !held);
    streams.clientHeaders(1, req('/quote.Quotes/Get'), true);
    expect(traffic.arrivals).toBe(1);
    expect(traffic.lastArrivalAt).toBe(Number.NEGATIVE_INFINITY);
    // Once the connection got its GOAWAY, its streams are arrivals as any other.
    held = false;
    streams.clientHeaders(3, req('/quote.Quotes/Get'), true);
    expect(traffic.arrivals).toBe(2);
    expect(traffic.lastArrivalAt).toBe(1_700_000_000_000);
  });
});
