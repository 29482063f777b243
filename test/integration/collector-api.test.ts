import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Collector, createCollector } from '../../collector/index.js';
import { findBinary } from '../../lib/servers.js';
import { pollUntil } from '../../lib/wait.js';
import { type CollectorEnv, startCollectorEnv } from '../helpers/collector-harness.js';
import { publishAll, scriptedRollout } from '../helpers/collector-scenario.js';
import { jsonOf } from '../helpers/http-json.js';

describe('collector HTTP API, metrics and traces', () => {
  let env: CollectorEnv;
  let collector: Collector;
  let base: string;
  let otlp: Server;
  const posts: { url: string; body: string }[] = [];
  const TOKEN = 's3cret-token';

  beforeAll(async () => {
    env = await startCollectorEnv();
    // A local OTLP/HTTP receiver: the collector must POST its traces here.
    otlp = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        posts.push({ url: req.url ?? '', body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => otlp.listen(0, '127.0.0.1', resolve));
    const otlpUrl = `http://127.0.0.1:${(otlp.address() as AddressInfo).port}`;
    collector = createCollector(
      env.config({
        DRAINWATCH_API_TOKEN: TOKEN,
        OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      }),
      { nats: env.nc, redis: env.redis },
    );
    const { http } = await collector.start();
    base = `http://127.0.0.1:${http.port}`;
    const scenario = scriptedRollout();
    await publishAll(env.nc, scenario.events, env.ns.subjectRoot);
    await collector.drain(30_000);
  });

  afterAll(async () => {
    await collector?.stop();
    await new Promise<void>((resolve) => (otlp ? otlp.close(() => resolve()) : resolve()));
    await env?.stop();
  });

  it('/api requires the bearer token when one is set; health and metrics do not', async () => {
    const none = await fetch(`${base}/api/rollouts`);
    expect(none.status).toBe(401);
    expect((await jsonOf(none)).error.code).toBe('unauthorized');
    const wrong = await fetch(`${base}/api/rollouts`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    const ok = await fetch(`${base}/api/rollouts`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect((await jsonOf(ok)).rollouts).toHaveLength(1);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const unknown = await fetch(`${base}/nope`);
    expect(unknown.status).toBe(404);
    expect((await jsonOf(unknown)).error.code).toBe('not-found');
  });

  it('/metrics passes promtool check metrics and carries every catalogue metric', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const promtool = findBinary('promtool');
    const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
    const { DRAIN_METRICS, HEALTH_METRICS } = await import('../../contract/index.js');
    for (const spec of [...Object.values(DRAIN_METRICS), ...Object.values(HEALTH_METRICS)]) {
      expect(text).toContain(`# TYPE ${spec.name} ${spec.type}`);
    }
    // Labels are namespace/workload (plus a pod only on the per-termination series).
    expect(text).toMatch(
      /drainwatch_pod_drain_seconds\{namespace="shop",workload="quote",pod="quote-b"\} 30/,
    );
    expect(text).not.toMatch(/session(_id)?="/);
    // The closed rollout's scores are the workload's latest.
    expect(text).toMatch(/drainwatch_session_persistence_ratio\{namespace="shop",workload="quote"\} 0\.333/);
    // Issue #15: quote-e's WebSocket close with 1000 at shutdown is not clean (it counted as clean: 0.333).
    expect(text).toMatch(/drainwatch_clean_terminations_ratio\{namespace="shop",workload="quote"\} 0\n/);
    expect(text).toMatch(/drainwatch_gate_passed\{namespace="shop",workload="quote"\} 0/);
  });

  it('/metrics speaks OpenMetrics to a scraper that asks for it, with the same figures', async () => {
    const res = await fetch(`${base}/metrics`, {
      headers: { accept: 'application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5' },
    });
    expect(res.headers.get('content-type')).toMatch(/^application\/openmetrics-text; version=1\.0\.0/);
    const text = await res.text();
    expect(text.trimEnd().endsWith('# EOF')).toBe(true);
    // OpenMetrics names a counter family without its _total suffix; the samples keep it.
    expect(text).toContain('# TYPE drainwatch_rollouts counter');
    expect(text).toMatch(/^drainwatch_rollouts_total\{/m);
    expect(text).toMatch(/drainwatch_session_persistence_ratio\{namespace="shop",workload="quote"\} 0\.333/);
    const plain = await fetch(`${base}/metrics`);
    expect(plain.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('exports one trace per rollout with a span per pod termination over OTLP/HTTP', async () => {
    const post = await pollUntil(() => posts.find((p) => p.url === '/v1/traces'), {
      timeoutMs: 20_000,
      what: 'an OTLP trace export',
    });
    const body = JSON.parse(post.body) as {
      resourceSpans: {
        scopeSpans: { spans: { name: string; traceId: string; parentSpanId?: string }[] }[];
      }[];
    };
    const spans = body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
    const root = spans.find((s) => s.name === 'rollout shop/quote');
    expect(root).toBeDefined();
    const terms = spans.filter((s) => s.name.startsWith('termination '));
    expect(terms.map((s) => s.name).sort()).toEqual([
      'termination quote-a',
      'termination quote-b',
      'termination quote-e',
    ]);
    for (const t of terms) expect(t.traceId).toBe(root!.traceId);
  });
});
