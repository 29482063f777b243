import { connect as tcpConnect } from 'node:net';
import type { NatsConnection } from '@nats-io/transport-node';
import autocannon from 'autocannon';
import { request, Agent as UndiciAgent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../../lib/wait.js';
import {
  type AgentUnderTest,
  createTestStream,
  startAgentUnderTest,
  startUpstreamApp,
  type UpstreamApp,
  waitForEvents,
} from '../helpers/agent-harness.js';
import { natsClient, startTestServers, type TestServers } from '../helpers/servers.js';

let servers: TestServers;
let nc: NatsConnection;
let app: UpstreamApp;
let a: AgentUnderTest;

beforeAll(async () => {
  servers = await startTestServers();
  nc = await natsClient(servers.nats);
  app = await startUpstreamApp();
  a = await startAgentUnderTest({ upstreamPort: app.port, natsUrl: servers.nats.url });
  await createTestStream(nc, a.ns);
});

afterAll(async () => {
  await a?.agent.stop({ immediate: true });
  await app?.close();
  await nc?.close();
  await servers?.stop();
});

function completed(): number {
  const r = a.agent.state().requests.requests;
  return r.serving + r.prestop + r.draining + r.exited;
}

describe('agent HTTP proxy', () => {
  it('counts exactly what an independent client sent, over 200 concurrent connections', async () => {
    let seenByApp = 0;
    app.setHandler((_req, res) => {
      seenByApp += 1;
      res.end('ok');
    });
    const before = completed();
    const result = await autocannon({ url: `${a.trafficUrl}/count`, connections: 200, amount: 10_000 });
    const clientCompleted = result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'];
    expect(result.errors).toBe(0);
    expect(clientCompleted).toBe(10_000);
    // The agent counts a request when its response finished; the last ones may land a tick later.
    await pollUntil(() => completed() - before === clientCompleted, { timeoutMs: 5000, what: 'agent count' });
    expect(completed() - before).toBe(clientCompleted);
    expect(seenByApp).toBe(clientCompleted);
    expect(a.agent.state().inFlight).toBe(0);
  });

  it('preserves headers, adds x-forwarded-* and the pod header both ways, keeps multi-valued headers', async () => {
    app.setHandler((req, res) => {
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ raw: req.rawHeaders, url: req.url, method: req.method }));
    });
    const res = await request(`${a.trafficUrl}/echo?x=1`, {
      method: 'PATCH',
      headers: { 'x-custom': 'Value With Case', 'x-forwarded-for': '10.1.2.3', host: 'shop.example' },
      body: 'hello',
    });
    const body = (await res.body.json()) as { raw: string[]; url: string; method: string };
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-drainwatch-pod']).toBe('web-7d9f8b6c5d-x2x9q');
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    const got = new Map<string, string>();
    for (let i = 0; i < body.raw.length; i += 2) got.set(body.raw[i]!.toLowerCase(), body.raw[i + 1]!);
    expect(body.url).toBe('/echo?x=1');
    expect(body.method).toBe('PATCH');
    expect(got.get('x-custom')).toBe('Value With Case');
    expect(got.get('x-forwarded-for')).toBe('10.1.2.3, 127.0.0.1');
    expect(got.get('x-forwarded-proto')).toBe('http');
    expect(got.get('x-forwarded-host')).toBe('shop.example');
    expect(got.get('host')).toBe('shop.example');
    expect(got.get('x-drainwatch-pod')).toBe('web-7d9f8b6c5d-x2x9q');
    expect(got.get('content-length')).toBe('5');
  });

  it('tells new from reused client connections and reports probe requests without their query string', async () => {
    app.setHandler((_req, res) => res.end('ok'));
    const dispatcher = new UndiciAgent({ connections: 1 });
    for (let i = 0; i < 3; i++) {
      const res = await request(`${a.trafficUrl}/probe/path?token=secret`, {
        dispatcher,
        headers: { 'x-drainwatch-probe': `p-${i}` },
      });
      await res.body.text();
    }
    await dispatcher.close();
    const events = await waitForEvents(
      nc,
      a.ns,
      (evs) => evs.filter((e) => e.kind === 'request' && e.data.probeId?.startsWith('p-')).length === 3,
      'three probe request events',
    );
    const probes = events.flatMap((e) => (e.kind === 'request' && e.data.probeId ? [e.data] : []));
    expect(probes.map((p) => p.connection)).toEqual(['new', 'reused', 'reused']);
    expect(probes.every((p) => p.route === '/probe/path' && p.outcome === 'ok' && p.status === 200)).toBe(
      true,
    );
    expect(JSON.stringify(events)).not.toContain('secret');
  });

  it('answers 502 when the app refuses or resets, and records each with its outcome', async () => {
    app.setHandler((req, res) => {
      if (req.url === '/reset') req.socket.destroy();
      else res.end('ok');
    });
    const reset = await request(`${a.trafficUrl}/reset`, { headers: { 'x-drainwatch-probe': 'reset-1' } });
    expect(reset.statusCode).toBe(502);
    expect(reset.headers['x-drainwatch-pod']).toBe('web-7d9f8b6c5d-x2x9q');
    await reset.body.text();

    // A second agent whose upstream port has nobody listening.
    const dead = await startUpstreamApp();
    const deadPort = dead.port;
    await dead.close();
    // It shares the test's NATS connection: on a loaded machine its own first connect could outlast
    // the 2 s final flush of an immediate stop, and this test is about outcomes, not connecting.
    const b = await startAgentUnderTest({
      upstreamPort: deadPort,
      natsUrl: servers.nats.url,
      ns: a.ns,
      deps: { nats: nc },
    });
    try {
      const refused = await request(`${b.trafficUrl}/refused`, {
        headers: { 'x-drainwatch-probe': 'refused-1' },
      });
      expect(refused.statusCode).toBe(502);
      await refused.body.text();
    } finally {
      await b.agent.stop({ immediate: true });
    }
    const events = await waitForEvents(
      nc,
      a.ns,
      (evs) =>
        evs.some((e) => e.kind === 'request' && e.data.probeId === 'reset-1') &&
        evs.some((e) => e.kind === 'request' && e.data.probeId === 'refused-1'),
      'reset and refused request events',
    );
    const byProbe = new Map(events.flatMap((e) => (e.kind === 'request' ? [[e.data.probeId, e.data]] : [])));
    expect(byProbe.get('reset-1')).toMatchObject({
      outcome: 'upstream-reset',
      status: 502,
      arrivalPhase: 'serving',
    });
    // Refused while serving is a failure but not a late arrival (the pod was not terminating).
    expect(byProbe.get('refused-1')).toMatchObject({
      outcome: 'upstream-refused',
      status: 502,
      lateArrival: false,
    });
  });

  it('cuts the client off when the app resets mid-body, recorded as upstream-reset', async () => {
    app.setHandler((req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('partial');
      setTimeout(() => req.socket.destroy(), 20);
    });
    const err = await request(`${a.trafficUrl}/cut`, { headers: { 'x-drainwatch-probe': 'cut-1' } })
      .then((r) => r.body.text())
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(err).toBeInstanceOf(Error);
    const events = await waitForEvents(
      nc,
      a.ns,
      (evs) => evs.some((e) => e.kind === 'request' && e.data.probeId === 'cut-1'),
      'cut event',
    );
    const ev = events.find((e) => e.kind === 'request' && e.data.probeId === 'cut-1');
    expect(ev?.data).toMatchObject({ outcome: 'upstream-reset', status: 200 });
  });

  it('records a client that aborts mid-request', async () => {
    let release: () => void = () => undefined;
    app.setHandler((_req, res) => {
      release = () => res.end('late');
    });
    // A client that goes away resets its connection. (A FIN alone is a half-close: the agent
    // still answers it, as wget and `nc -N` expect; see test/fidelity/edges.test.ts.)
    const sock = tcpConnect({ host: '127.0.0.1', port: a.trafficPort });
    sock.on('error', () => undefined);
    sock.write('GET /slow HTTP/1.1\r\nHost: x\r\nx-drainwatch-probe: abort-1\r\n\r\n');
    await pollUntil(() => a.agent.state().inFlight === 1, { timeoutMs: 5000, what: 'request in flight' });
    sock.resetAndDestroy();
    await pollUntil(() => a.agent.state().inFlight === 0, { timeoutMs: 5000, what: 'abort recorded' });
    release();
    const events = await waitForEvents(
      nc,
      a.ns,
      (evs) => evs.some((e) => e.kind === 'request' && e.data.probeId === 'abort-1'),
      'abort event',
    );
    const ev = events.find((e) => e.kind === 'request' && e.data.probeId === 'abort-1');
    expect(ev?.data).toMatchObject({ outcome: 'client-aborted' });
  });

  it('answers malformed HTTP with 400, counts it, and keeps serving', async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const sock = tcpConnect({ host: '127.0.0.1', port: a.trafficPort });
      let data = '';
      sock.on('data', (c) => {
        data += c.toString();
      });
      sock.on('close', () => resolve(data));
      sock.on('error', reject);
      sock.write('GARBAGE / NOT-HTTP\r\n\r\n');
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    const metrics = await a.registry.getSingleMetricAsString('drainwatch_agent_bad_requests_total');
    expect(metrics).toMatch(/drainwatch_agent_bad_requests_total 1$/m);
    app.setHandler((_req, res) => res.end('still here'));
    const res = await request(`${a.trafficUrl}/after`);
    expect(await res.body.text()).toBe('still here');
  });

  it('serves /metrics, /state, /healthz and /readyz on the admin port, never counting them as traffic', async () => {
    const before = completed();
    const metrics = await (await request(`${a.adminUrl}/metrics`)).body.text();
    expect(metrics).toContain('drainwatch_agent_requests_total{phase="serving",status_class="2xx"}');
    expect(metrics).toContain('drainwatch_agent_events_published_total');
    const state = (await (await request(`${a.adminUrl}/state`)).body.json()) as {
      phase: string;
      inFlight: number;
    };
    expect(state).toMatchObject({ phase: 'serving', inFlight: 0 });
    expect((await request(`${a.adminUrl}/healthz`)).statusCode).toBe(200);
    expect((await request(`${a.adminUrl}/readyz`)).statusCode).toBe(200);
    expect(completed()).toBe(before);
  });
});
