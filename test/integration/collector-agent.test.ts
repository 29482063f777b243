import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { Agent as HttpAgent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Agent, createAgent, loadAgentConfig, PROBE_HEADER } from '../../agent/index.js';
import { type Collector, createCollector } from '../../collector/index.js';
import { createEventSequencer } from '../../contract/validate.js';
import { pollUntil } from '../../lib/wait.js';
import { type CollectorEnv, startCollectorEnv } from '../helpers/collector-harness.js';
import { publishAll } from '../helpers/collector-scenario.js';

// The collector against the real agent (in-process, on loopback): whatever the agent publishes
// must pass the collector's checks, and a request that reaches the pod after its app stopped
// listening must come out as a late arrival attributed to that pod.

async function metric(registry: Registry, name: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).reduce((sum, v) => sum + Number(v.value), 0);
}

describe('collector with the real agent', () => {
  let env: CollectorEnv;
  let collector: Collector;
  let app: Server;
  let agent: Agent;
  let release: (() => void) | undefined;
  const registry = new Registry();

  beforeAll(async () => {
    env = await startCollectorEnv();
    collector = createCollector(env.config(), { nats: env.nc, redis: env.redis, registry });
    await collector.start();
    app = createServer((req, res) => {
      if (req.url === '/hold') release = () => res.end('held');
      else res.end('ok');
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    await agent?.stop({ immediate: true });
    await collector?.stop();
    await new Promise<void>((resolve) => (app.listening ? app.close(() => resolve()) : resolve()));
    await env?.stop();
  });

  it('turns a real termination into a report: late arrival attributed, no event refused', async () => {
    const config = loadAgentConfig(
      {
        listen: '127.0.0.1:0',
        admin: '127.0.0.1:0',
        upstream: `127.0.0.1:${(app.address() as AddressInfo).port}`,
        natsUrl: env.servers.nats.url,
        subjectRoot: env.ns.subjectRoot,
        prestop: 'fixed:1',
        grace: '10',
        podName: 'web-1',
        namespace: 'shop',
        workload: 'web',
      },
      {},
    );
    agent = createAgent(config, { nats: env.nc });
    const { listen, admin } = await agent.start();
    const via = `http://127.0.0.1:${listen.port}`;

    const control = createEventSequencer({ namespace: 'shop', workload: 'web', pod: null });
    await publishAll(
      env.nc,
      [control.next('rollout.started', { rolloutId: 'ro-agent', trigger: 'cli' })],
      env.ns.subjectRoot,
    );

    const ok = await fetch(`${via}/api`, { headers: { [PROBE_HEADER]: 'p-ok' } });
    expect(ok.status).toBe(200);
    await ok.text();

    // The termination: preStop starts, the app stops listening while a request is still in flight
    // (so the agent still accepts: once nothing is in flight it refuses new connects, as the bare
    // pod does), and a request still arrives.
    const prestop = fetch(`http://127.0.0.1:${admin.port}/prestop`).then((r) => r.text());
    await pollUntil(() => agent.state().phase !== 'serving', { timeoutMs: 10_000, what: 'preStop to start' });
    // On a new connection: at the phase change the agent closes idle keep-alive connections (its
    // drain), and a request racing that close on the reused one would be reset (stale-keepalive).
    const fresh = new HttpAgent();
    const held = undiciFetch(`${via}/hold`, { dispatcher: fresh }).then((r) => r.text());
    await pollUntil(() => release !== undefined, { timeoutMs: 10_000, what: 'the held request at the app' });
    app.close();
    app.closeIdleConnections();
    await pollUntil(() => !agent.state().upstreamListening, {
      timeoutMs: 10_000,
      what: 'the app seen stopped',
    });
    const lateStartedAt = new Date().toISOString();
    const late = await fetch(`${via}/api`, { headers: { [PROBE_HEADER]: 'p-late' } });
    const latePod = late.headers.get('x-drainwatch-pod');
    expect(late.status).toBeGreaterThanOrEqual(500);
    await late.text();
    release!();
    expect(await held).toBe('held');
    await fresh.close();
    await prestop;
    await agent.stop();

    // What the probe would have published for those two requests.
    const probe = (probeId: string, okResult: boolean, startedAt: string, status: number) =>
      control.next('probe.request', {
        probeId,
        runId: 'run-agent',
        sessionId: 's-1',
        kind: 'traffic',
        method: 'GET',
        route: '/api',
        ok: okResult,
        status,
        ...(okResult ? {} : { error: '5xx' as const }),
        ...(latePod ? { pod: latePod } : {}),
        connection: 'new',
        startedAt,
        durationMs: 2,
      });
    await publishAll(
      env.nc,
      [
        probe('p-ok', true, new Date(Date.now() - 2000).toISOString(), 200),
        probe('p-late', false, lateStartedAt, late.status),
        control.next('rollout.finished', { rolloutId: 'ro-agent', outcome: 'complete', podsReplaced: 1 }),
      ],
      env.ns.subjectRoot,
    );
    await collector.drain(30_000);

    expect(await metric(registry, 'drainwatch_events_invalid_total')).toBe(0);
    const report = await collector.store.getReport('ro-agent');
    expect(report).toBeDefined();
    expect(report!.terminations.map((t) => t.pod)).toEqual(['web-1']);
    expect(report!.evidenceIncomplete).toEqual([]);
    const t = report!.terminations[0]!;
    expect(t.prestopMs).not.toBeNull();
    expect(t.clean).toBe(false);
    expect(t.failedProbeRequests).toBe(1);
    const failure = report!.failures.find((f) => f.probeId === 'p-late');
    expect(failure).toMatchObject({ cause: 'late-arrival', pod: 'web-1' });
    expect(failure!.phase).not.toBe('serving');
    // Issue #15: p-ok came before the pod's termination began, so it is the baseline's (it was
    // counted in the rollout's probe requests: total 2, ok 1).
    expect(report!.probeRequests).toMatchObject({ total: 1, ok: 0, failed: 1 });
    expect(report!.baseline).toMatchObject({ requests: 1, failed: 0 });
    const timeline = (await collector.store.timeline('shop', 'web-1')).map((e) => e.kind);
    expect(timeline).toEqual(
      expect.arrayContaining(['agent.started', 'prestop.started', 'prestop.finished', 'drain.summary']),
    );
  });
});
