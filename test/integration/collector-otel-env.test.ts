import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadCollectorConfig } from '../../collector/config.js';
import type { RolloutReport } from '../../collector/report-types.js';
import { createRolloutTracer } from '../../collector/tracing.js';

// The standard OpenTelemetry variables reach the collector's traces: a real OTLP/HTTP receiver on
// loopback gets the spans with the service name and resource attributes the environment set;
// OTEL_SDK_DISABLED=true and OTEL_TRACES_SAMPLER=always_off send nothing.

interface Post {
  readonly url: string;
  readonly body: string;
  readonly contentType: string;
}

let receiver: Server;
let base: string;
const posts: Post[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      posts.push({ url: req.url ?? '', body, contentType: req.headers['content-type'] ?? '' });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});
afterEach(() => {
  vi.unstubAllEnvs();
  posts.length = 0;
});

// Only the fields the tracer reads: one rollout with one clean termination.
const REPORT = {
  rolloutId: 'r-otel',
  namespace: 'shop',
  workload: 'cart',
  outcome: 'complete',
  startedAt: '2026-11-30T10:00:00.000Z',
  finishedAt: '2026-11-30T10:00:30.000Z',
  podsReplaced: 1,
  probeRequests: { failed: 0 },
  sessions: { lost: 0 },
  terminations: [
    {
      pod: 'cart-1',
      startedAt: '2026-11-30T10:00:01.000Z',
      exitedAt: '2026-11-30T10:00:05.000Z',
      clean: true,
      uncleanReasons: [],
      inFlightCut: 0,
      failedProbeRequests: 0,
      killedAtGrace: false,
    },
  ],
} as unknown as RolloutReport;

function resourceAttributes(body: string): Record<string, unknown> {
  const json = JSON.parse(body) as {
    resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] } }[];
  };
  return Object.fromEntries(
    json.resourceSpans[0]!.resource.attributes.map((a) => [a.key, a.value.stringValue]),
  );
}

describe('collector traces and the OTEL_* environment', () => {
  it('sends to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT with OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES', async () => {
    vi.stubEnv('OTEL_SERVICE_NAME', 'drain-witness-staging');
    vi.stubEnv('OTEL_RESOURCE_ATTRIBUTES', 'deployment.environment.name=staging,team=platform');
    const tracer = createRolloutTracer({
      endpoint: undefined,
      tracesEndpoint: `${base}/custom/traces`,
      protocol: 'http/json',
    });
    tracer.record(REPORT);
    await tracer.stop();
    expect(posts.map((p) => p.url)).toEqual(['/custom/traces']);
    const attrs = resourceAttributes(posts[0]!.body);
    expect(attrs['service.name']).toBe('drain-witness-staging');
    expect(attrs['deployment.environment.name']).toBe('staging');
    expect(attrs.team).toBe('platform');
    expect(posts[0]!.body).toContain('rollout shop/cart');
    expect(posts[0]!.body).toContain('termination cart-1');
  });

  it('keeps its own service name when OTEL_SERVICE_NAME is not set, under the base endpoint', async () => {
    const tracer = createRolloutTracer({ endpoint: `${base}/`, protocol: 'http/json' });
    tracer.record(REPORT);
    await tracer.stop();
    expect(posts.map((p) => p.url)).toEqual(['/v1/traces']);
    expect(resourceAttributes(posts[0]!.body)['service.name']).toBe('drainwatch-collector');
  });

  it.each([
    ['OTEL_SDK_DISABLED', 'true'],
    ['OTEL_TRACES_SAMPLER', 'always_off'],
  ])('%s=%s sends nothing', async (name, value) => {
    vi.stubEnv(name, value);
    const tracer = createRolloutTracer({ endpoint: base });
    tracer.record(REPORT);
    await tracer.stop();
    // A control tracer after it proves the receiver would have seen a post by now.
    vi.unstubAllEnvs();
    const control = createRolloutTracer({ endpoint: base, serviceName: 'control', protocol: 'http/json' });
    control.record(REPORT);
    await control.stop();
    expect(posts).toHaveLength(1);
    expect(resourceAttributes(posts[0]!.body)['service.name']).toBe('control');
  });

  it('sends OTLP/protobuf by default and as OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf says; http/json as JSON', async () => {
    for (const [envValue, contentType] of [
      [undefined, 'application/x-protobuf'],
      ['http/protobuf', 'application/x-protobuf'],
      ['http/json', 'application/json'],
    ] as const) {
      posts.length = 0;
      vi.unstubAllEnvs();
      if (envValue) vi.stubEnv('OTEL_EXPORTER_OTLP_PROTOCOL', envValue);
      const config = loadCollectorConfig({}, { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: base });
      const tracer = createRolloutTracer({ endpoint: config.otlpEndpoint, protocol: config.otlpProtocol });
      tracer.record(REPORT);
      await tracer.stop();
      expect(posts.map((p) => [p.url, p.contentType])).toEqual([['/v1/traces', contentType]]);
      // The span names travel in either encoding.
      expect(posts[0]!.body).toContain('termination cart-1');
    }
  });

  it('refuses an unknown protocol in one line naming the variable and the supported values', () => {
    expect(() => loadCollectorConfig({}, { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'thrift' })).toThrow(
      /OTEL_EXPORTER_OTLP_TRACES_PROTOCOL.*http\/protobuf, http\/json, grpc/,
    );
  });
});
