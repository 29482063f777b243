import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { Readable } from 'node:stream';
import type { NatsConnection } from '@nats-io/transport-node';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../../lib/wait.js';
import {
  createTestStream,
  startUpstreamApp,
  type UpstreamApp,
  waitForEvents,
} from '../helpers/agent-harness.js';
import { type AgentProcess, CLI_BIN, spawnAgent } from '../helpers/agent-process.js';
import { natsClient, startTestServers, type TestServers, testNamespace } from '../helpers/servers.js';

let servers: TestServers;
let nc: NatsConnection;
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  servers = await startTestServers();
  nc = await natsClient(servers.nats);
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await nc?.close();
  await servers?.stop();
});

function runAgentSync(env: Record<string, string>) {
  const r = spawnSync(process.execPath, [CLI_BIN, 'agent'], {
    env: { ...process.env, DRAINWATCH_ADMIN: '127.0.0.1:0', DRAINWATCH_LISTEN: '127.0.0.1:0', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, err: r.stderr };
}

async function started(
  env: Record<string, string>,
): Promise<{ agent: AgentProcess; app: UpstreamApp; ns: ReturnType<typeof testNamespace> }> {
  const ns = testNamespace();
  await createTestStream(nc, ns);
  const app = await startUpstreamApp();
  cleanups.push(() => app.close());
  const agent = await spawnAgent({
    DRAINWATCH_UPSTREAM: `127.0.0.1:${app.port}`,
    NATS_URL: servers.nats.url,
    POD_NAME: 'web-abc123def-zz9zz',
    POD_NAMESPACE: 'shop',
    DRAINWATCH_SUBJECT_ROOT: ns.subjectRoot,
    ...env,
  });
  cleanups.push(() => agent.kill());
  return { agent, app, ns };
}

describe('drainwatch agent (CLI process)', () => {
  it.each([
    [{ DRAINWATCH_LISTEN: 'nowhere' }, 'DRAINWATCH_LISTEN'],
    [{ DRAINWATCH_GRACE_SECONDS: '5', DRAINWATCH_PRESTOP_MIN: '10s' }, 'DRAINWATCH_PRESTOP_MIN'],
    [{ DRAINWATCH_PRESTOP: 'fixed:60' }, 'DRAINWATCH_PRESTOP'],
  ])('exits 2 with one line naming the bad setting (%o)', (env, setting) => {
    const r = runAgentSync(env);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain(setting);
  });

  it('exits 2 naming the address when its port is in use', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = runAgentSync({ DRAINWATCH_LISTEN: `127.0.0.1:${port}`, NATS_URL: servers.nats.url });
      expect(r.code).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toContain('DRAINWATCH_LISTEN');
      expect(r.err).toContain('EADDRINUSE');
    } finally {
      blocker.close();
    }
  });

  it('as a classic sidecar, keeps proxying after SIGTERM until the app stops listening, then flushes and exits 0', async () => {
    const { agent, app, ns } = await started({ DRAINWATCH_GRACE_SECONDS: '30' });
    const health = await request(`${agent.adminUrl}/healthz`);
    expect(health.statusCode).toBe(200);
    await health.body.text();
    agent.child.kill('SIGTERM');
    // The app still runs: traffic must keep flowing.
    await pollUntil(
      async () => {
        const st = (await (await request(`${agent.adminUrl}/state`)).body.json()) as { phase: string };
        return st.phase === 'draining';
      },
      { timeoutMs: 10_000, what: 'agent draining after SIGTERM' },
    );
    const during = await request(`${agent.trafficUrl}/still-serving`);
    expect(during.statusCode).toBe(200);
    expect(await during.body.text()).toBe('ok');
    expect(agent.child.exitCode).toBeNull();

    await app.stopListening();
    const exit = await agent.exited;
    expect(exit.code).toBe(0);
    const events = await waitForEvents(
      nc,
      ns,
      (evs) => evs.some((e) => e.kind === 'drain.summary'),
      'drain summary',
    );
    const sigterm = events.find((e) => e.kind === 'sigterm');
    expect(sigterm?.data).toMatchObject({ appRunning: true, phase: 'serving' });
    expect(events.map((e) => e.kind)).toContain('app.stopped-listening');
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  });

  it('as a native sidecar (app already exited), flushes and exits within the 2 s budget', async () => {
    const { agent, app, ns } = await started({ DRAINWATCH_PRESTOP: 'fixed:0.2' });
    const pre = await request(`${agent.adminUrl}/prestop`);
    expect(((await pre.body.json()) as { reason: string }).reason).toBe('fixed-elapsed');
    await app.close();
    const posted = await request(`${agent.adminUrl}/lifecycle/app-exited`, {
      method: 'POST',
      body: JSON.stringify({ code: 0, signal: null, killedAtGrace: false }),
    });
    await posted.body.text();
    const t0 = performance.now();
    agent.child.kill('SIGTERM');
    const exit = await agent.exited;
    const tookMs = performance.now() - t0;
    expect(exit.code).toBe(0);
    // The spec's budget is 2 s for the flush; process exit and a loaded machine get 2 s more.
    expect(tookMs).toBeLessThan(4000);
    const events = await waitForEvents(
      nc,
      ns,
      (evs) => evs.some((e) => e.kind === 'drain.summary'),
      'drain summary',
    );
    expect(events.find((e) => e.kind === 'sigterm')?.data).toMatchObject({
      appRunning: false,
      phase: 'exited',
    });
  });

  it('streams a 1 GiB upload to the app with flat memory', async () => {
    const { agent, app } = await started({});
    let received = 0;
    app.setHandler((req, res) => {
      req.on('data', (c: Buffer) => {
        received += c.length;
      });
      req.on('end', () => res.end(String(received)));
    });
    const total = 1024 * 1024 * 1024;
    const chunk = Buffer.alloc(256 * 1024, 0x61);
    async function* body() {
      for (let sent = 0; sent < total; sent += chunk.length) yield chunk;
    }
    const res = await request(`${agent.trafficUrl}/upload`, {
      method: 'POST',
      body: Readable.from(body()),
      headers: { 'content-length': String(total) },
      bodyTimeout: 120_000,
      headersTimeout: 120_000,
    });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe(String(total));
    // Peak RSS of the agent process: a buffered 1 GiB body would show here; a stream stays near idle.
    const peakMb = agent.peakRssBytes() / 1024 / 1024;
    expect(peakMb).toBeLessThan(200);
    agent.child.kill('SIGTERM');
    await app.stopListening();
    expect((await agent.exited).code).toBe(0);
  });
});
