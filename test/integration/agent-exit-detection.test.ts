import { spawn } from 'node:child_process';
import type { NatsConnection } from '@nats-io/transport-node';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyEvent } from '../../contract/index.js';
import { pollUntil } from '../../lib/wait.js';
import {
  createTestStream,
  startAgentUnderTest,
  startUpstreamApp,
  waitForEvents,
} from '../helpers/agent-harness.js';
import { natsClient, startTestServers, type TestServers } from '../helpers/servers.js';

let servers: TestServers;
let nc: NatsConnection;

beforeAll(async () => {
  servers = await startTestServers();
  nc = await natsClient(servers.nats);
});

afterAll(async () => {
  await nc?.close();
  await servers?.stop();
});

const exitedOf = (evs: AnyEvent[]) => evs.find((e) => e.kind === 'app.exited');

async function prestop(adminUrl: string): Promise<{ reason: string; durationMs: number }> {
  const res = await request(`${adminUrl}/prestop`);
  return (await res.body.json()) as { reason: string; durationMs: number };
}

/** Calls the preStop hook while a request every 50 ms keeps the quiet window from ever closing. */
async function prestopUnderTraffic(agent: { adminUrl: string; trafficUrl: string }) {
  let busy = true;
  const traffic = (async () => {
    while (busy) {
      const r = await request(`${agent.trafficUrl}/busy`);
      await r.body.text();
      await new Promise((r2) => setTimeout(r2, 50).unref());
    }
  })();
  try {
    return await prestop(agent.adminUrl);
  } finally {
    busy = false;
    await traffic;
  }
}

describe('agent exit detection and preStop endings', () => {
  it('sees the app process exit through DRAINWATCH_APP_PID', async () => {
    // A real app process: an HTTP server that prints its port.
    const child = spawn(
      process.execPath,
      [
        '-e',
        "const s=require('http').createServer((q,r)=>r.end('ok'));s.listen(0,'127.0.0.1',()=>console.log(s.address().port))",
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const port = await new Promise<number>((resolve) =>
      child.stdout!.once('data', (c: Buffer) => resolve(Number(c.toString()))),
    );
    const a = await startAgentUnderTest({
      upstreamPort: port,
      natsUrl: servers.nats.url,
      env: { DRAINWATCH_APP_PID: String(child.pid), DRAINWATCH_PRESTOP: 'fixed:0.1' },
    });
    await createTestStream(nc, a.ns);
    try {
      await pollUntil(() => a.agent.state().upstreamListening, {
        timeoutMs: 10_000,
        what: 'app seen listening',
      });
      expect((await prestop(a.adminUrl)).reason).toBe('fixed-elapsed');
      child.kill('SIGKILL');
      await pollUntil(() => a.agent.state().appExited, { timeoutMs: 10_000, what: 'pid exit seen' });
      const events = await waitForEvents(nc, a.ns, (evs) => exitedOf(evs) !== undefined, 'app.exited');
      expect(exitedOf(events)?.data).toMatchObject({ detectedBy: 'pid', killedAtGrace: false });
    } finally {
      child.kill('SIGKILL');
      await a.agent.stop({ immediate: true });
    }
  });

  it('falls back to "port closed and no connection left" when nobody reports the exit', async () => {
    const app = await startUpstreamApp();
    const a = await startAgentUnderTest({
      upstreamPort: app.port,
      natsUrl: servers.nats.url,
      env: { DRAINWATCH_PRESTOP: 'fixed:0.1' },
    });
    await createTestStream(nc, a.ns);
    try {
      const res = await request(`${a.trafficUrl}/warm-the-pool`);
      await res.body.text();
      await pollUntil(() => a.agent.state().upstreamListening, {
        timeoutMs: 10_000,
        what: 'app seen listening',
      });
      await prestop(a.adminUrl);
      await app.close();
      const events = await waitForEvents(
        nc,
        a.ns,
        (evs) => exitedOf(evs) !== undefined,
        'app.exited',
        20_000,
      );
      expect(exitedOf(events)?.data).toMatchObject({ detectedBy: 'port', code: null });
      const stopped = events.find((e) => e.kind === 'app.stopped-listening');
      expect(stopped).toBeDefined();
      expect(exitedOf(events)!.seq).toBeGreaterThan(stopped!.seq);
    } finally {
      await a.agent.stop({ immediate: true });
      await app.close();
    }
  });

  it('ends an adaptive preStop when the endpoints seam says terminating, and at the maximum otherwise', async () => {
    const app = await startUpstreamApp();
    let signalled: AbortSignal | undefined;
    const a = await startAgentUnderTest({
      upstreamPort: app.port,
      natsUrl: servers.nats.url,
      env: {
        DRAINWATCH_PRESTOP_MIN: '200ms',
        DRAINWATCH_PRESTOP_QUIET: '10s',
        DRAINWATCH_PRESTOP_MAX: '20s',
      },
      deps: {
        endpointsTerminating: (signal) => {
          signalled = signal;
          return new Promise((resolve) => setTimeout(resolve, 300).unref());
        },
      },
    });
    const b = await startAgentUnderTest({
      upstreamPort: app.port,
      natsUrl: servers.nats.url,
      env: {
        DRAINWATCH_PRESTOP_MIN: '100ms',
        DRAINWATCH_PRESTOP_QUIET: '10s',
        DRAINWATCH_PRESTOP_MAX: '400ms',
      },
    });
    try {
      const viaEndpoints = await prestopUnderTraffic(a);
      expect(viaEndpoints.reason).toBe('endpoints-terminating');
      // Timers may fire a fraction of a millisecond early against performance.now().
      expect(viaEndpoints.durationMs).toBeGreaterThanOrEqual(290);
      expect(signalled?.aborted).toBe(true);
      const capped = await prestopUnderTraffic(b);
      expect(capped.reason).toBe('max');
      expect(capped.durationMs).toBeGreaterThanOrEqual(390);
    } finally {
      await a.agent.stop({ immediate: true });
      await b.agent.stop({ immediate: true });
      await app.close();
    }
  });
});
