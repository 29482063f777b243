import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadAgentConfig } from '../../agent/index.js';
import { pollUntil } from '../../lib/wait.js';
import { startAgentUnderTest, startUpstreamApp, type UpstreamApp } from '../helpers/agent-harness.js';
import { startTestServers, type TestServers } from '../helpers/servers.js';

// A real HTTP server stands in for the OpenTelemetry collector and keeps every OTLP POST.
let servers: TestServers;
let app: UpstreamApp;
let otlp: Server;
let otlpUrl: string;
const posts: Array<{ path: string; contentType: string; body: string }> = [];

beforeAll(async () => {
  servers = await startTestServers();
  app = await startUpstreamApp();
  otlp = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts.push({
        path: req.url ?? '',
        contentType: String(req.headers['content-type']),
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => otlp.listen(0, '127.0.0.1', r));
  otlpUrl = `http://127.0.0.1:${(otlp.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app?.close();
  await new Promise((r) => otlp?.close(r));
  await servers?.stop();
});

describe('agent OpenTelemetry', () => {
  it('exports one span per pod termination over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set', async () => {
    const a = await startAgentUnderTest({
      upstreamPort: app.port,
      natsUrl: servers.nats.url,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl, DRAINWATCH_PRESTOP: 'fixed:0.2' },
    });
    const pre = await request(`${a.adminUrl}/prestop`);
    await pre.body.text();
    const exited = await request(`${a.adminUrl}/lifecycle/app-exited`, {
      method: 'POST',
      body: JSON.stringify({ code: 0, signal: null, killedAtGrace: false }),
    });
    await exited.body.text();
    await a.agent.stop();
    await pollUntil(() => posts.some((p) => p.path === '/v1/traces'), {
      timeoutMs: 10_000,
      what: 'an OTLP POST',
    });
    const traces = posts.filter((p) => p.path === '/v1/traces');
    expect(traces).toHaveLength(1);
    // OTLP/HTTP's default encoding (OTEL_EXPORTER_OTLP_PROTOCOL unset) is protobuf.
    expect(traces[0]!.contentType).toBe('application/x-protobuf');
    const body = traces[0]!.body;
    expect(body).toContain('pod termination');
    for (const event of ['prestop finished', 'app exited', 'sigterm']) expect(body).toContain(event);
    expect(body).toContain('web-7d9f8b6c5d-x2x9q');
  });

  afterEach(() => vi.unstubAllEnvs());

  it('sends to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT with OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES', async () => {
    vi.stubEnv('OTEL_SERVICE_NAME', 'web-drain-witness');
    vi.stubEnv('OTEL_RESOURCE_ATTRIBUTES', 'deployment.environment.name=staging');
    const a = await startAgentUnderTest({
      upstreamPort: app.port,
      natsUrl: servers.nats.url,
      env: {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${otlpUrl}/agent/traces`,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        DRAINWATCH_PRESTOP: 'fixed:0.2',
      },
    });
    await (await request(`${a.adminUrl}/prestop`)).body.text();
    await a.agent.stop({ immediate: true });
    const post = await pollUntil(() => posts.find((p) => p.path === '/agent/traces'), {
      timeoutMs: 10_000,
      what: 'an OTLP POST to the traces endpoint',
    });
    const json = JSON.parse(post.body) as {
      resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] } }[];
    };
    const attrs = Object.fromEntries(
      json.resourceSpans[0]!.resource.attributes.map((x) => [x.key, x.value.stringValue]),
    );
    expect(attrs['service.name']).toBe('web-drain-witness');
    expect(attrs['deployment.environment.name']).toBe('staging');
    expect(attrs['k8s.pod.name']).toBe('web-7d9f8b6c5d-x2x9q');
  });

  it('OTEL_SDK_DISABLED=true turns the export off whatever the endpoints say', () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: otlpUrl };
    expect(loadAgentConfig({}, env).otlpTracesEndpoint).toBe(otlpUrl);
    const off = loadAgentConfig({}, { ...env, OTEL_SDK_DISABLED: 'TRUE' });
    expect(off.otlpEndpoint).toBeUndefined();
    expect(off.otlpTracesEndpoint).toBeUndefined();
  });
});
